// Checks against the running system, made before anything starts: directories exist, log and
// pid files can be created, the user exists and may be switched to. `label` says where the
// value came from (`web.yml: cwd`, `-d`).

import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, errnoText } from './errors';
import type { LoadContext } from './input';

/** What a key's `verify` gets: its value, where it came from, and who is starting. */
export type Verify<T> = (value: T, label: string, ctx: LoadContext) => void;

/** `what` says what the path is to the operator: "directory /srv/app" or "/var/log/app.log: directory /var/log". */
function statOrFail(target: string, label: string, what: string): fs.Stats {
  try {
    return fs.statSync(target);
  } catch (err) {
    throw new ConfigError(`${label}: ${what}: ${errnoText(err)}`);
  }
}

function directoryWith(access: number): Verify<string> {
  return (dir, label) => {
    if (!statOrFail(dir, label, `directory ${dir}`).isDirectory()) throw new ConfigError(`${label}: not a directory: ${dir}`);
    try {
      fs.accessSync(dir, access);
    } catch {
      throw new ConfigError(`${label}: directory ${dir}: permission denied`);
    }
  };
}

/** A directory one can change into (cwd). */
export const enterableDirectory = directoryWith(fs.constants.X_OK);

/** A directory one can list and read (envdir). */
export const readableDirectory = directoryWith(fs.constants.R_OK | fs.constants.X_OK);

/** Logs and pidfiles are created (pidfiles by rename), so their directory must exist and be writable. */
export const creatableFile: Verify<string> = (file, label) => {
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new ConfigError(`${label}: ${file} is a directory`);
  const dir = path.dirname(file);
  if (!statOrFail(dir, label, `${file}: directory ${dir}`).isDirectory()) throw new ConfigError(`${label}: not a directory: ${dir}`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new ConfigError(`${label}: directory ${dir} is not writable`);
  }
};

/** The addon is loaded on first use so that checking a file that names no user never needs it. */
function lookupUser(nameOrUid: string | number): import('../native').UserInfo {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const native = require('../native') as typeof import('../native');
  return native.lookupUser(nameOrUid);
}

/** The user exists; a supervisor that is not root may only name itself. */
export const switchableUser: Verify<string> = (user, label, ctx) => {
  let uid: number;
  try {
    uid = lookupUser(/^\d+$/.test(user) ? Number(user) : user).uid;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOUSER') throw new ConfigError(`${label}: unknown user ${JSON.stringify(user)}`);
    throw new ConfigError(`${label}: cannot look up user ${JSON.stringify(user)}: ${(err as Error).message}`);
  }
  if (ctx.uid !== 0 && uid !== ctx.uid) {
    throw new ConfigError(`${label}: running as ${JSON.stringify(user)} needs root (immortal runs as uid ${ctx.uid})`);
  }
};
