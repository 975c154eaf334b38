// Where supervise directories live: ~/.immortal/<name> for -name and plain runs, and
// $IMMORTAL_SDIR/<name> (default /var/run/immortal) for -ctl and immortaldir. Where a
// service is created (config.ts) and where it is looked for (immortalctl, require:) agree
// because both ask here.

import os from 'node:os';
import path from 'node:path';

const defaultSystemRoot = '/var/run/immortal';

/** The system supervise root: $IMMORTAL_SDIR or /var/run/immortal. */
export function systemSuperviseRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.IMMORTAL_SDIR || defaultSystemRoot;
}

/** The user's supervise root: <home>/.immortal. */
export function userSuperviseRoot(home: string): string {
  return path.join(home, '.immortal');
}

/** ~/.immortal first, then the system root; the same directory is listed once. */
export function superviseRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const roots = [userSuperviseRoot(env.HOME || os.homedir()), systemSuperviseRoot(env)].map((root) => path.resolve(root));
  return [...new Set(roots)];
}
