// The child's environment. With an envdir it is built again before each start, so edits apply
// on restart; without one launch.ts builds it once per run.yml `env:` and keeps it.
// Later layers win: the supervisor's env < the -u user's identity < envdir < run.yml env.

import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import { ConfigError } from '../config/errors';

export interface EnvUser {
  name: string;
  home: string;
  shell?: string;
}

/** KEY=VALUE strings for execve. */
export function buildEnvironment(config: Config, base: NodeJS.ProcessEnv,
  user?: EnvUser): string[] {
  const env = new Map<string, string>();
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined) env.set(name, value);
  }
  if (user) applyUser(env, user);
  if (config.envDir) applyEnvDir(env, readEnvDir(config.envDir));
  for (const [name, value] of Object.entries(config.env)) env.set(name, value);
  return [...env].map(([name, value]) => `${name}=${value}`);
}

/** A program run as another user must not see root's HOME or think it is still root. */
function applyUser(env: Map<string, string>, user: EnvUser): void {
  env.set('HOME', user.home);
  env.set('USER', user.name);
  env.set('LOGNAME', user.name);
  if (user.shell) env.set('SHELL', user.shell);
}

/** undefined means "remove the variable" (an empty file, as in daemontools). */
export type EnvDirEntries = Map<string, string | undefined>;

function applyEnvDir(env: Map<string, string>, entries: EnvDirEntries): void {
  for (const [name, value] of entries) {
    if (value === undefined) env.delete(name);
    else env.set(name, value);
  }
}

/**
 * daemontools envdir rules: each regular file NAME (dotfiles and names with '=' skipped)
 * gives its first line, trailing spaces and tabs removed, NUL bytes turned into newlines;
 * a 0-byte file removes NAME.
 */
export function readEnvDir(dir: string): EnvDirEntries {
  const entries: EnvDirEntries = new Map();
  for (const name of listEnvDir(dir).sort()) {
    if (name.startsWith('.') || name.includes('=')) continue;
    const file = path.join(dir, name);
    let content: Buffer;
    try {
      if (!fs.statSync(file).isFile()) continue;
      content = fs.readFileSync(file);
    } catch (err) {
      throw new ConfigError(`envdir ${dir}: cannot read ${name} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    entries.set(name, content.length === 0 ? undefined : firstLine(content));
  }
  return entries;
}

function listEnvDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    throw new ConfigError(`envdir ${dir}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function firstLine(content: Buffer): string {
  const newline = content.indexOf(0x0a);
  const line = (newline === -1 ? content : content.subarray(0, newline)).toString('utf8');
  return line.replace(/[ \t]+$/, '').replace(/\0/g, '\n');
}
