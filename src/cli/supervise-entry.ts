#!/usr/bin/env node
// The supervising half of `immortal`: started by the launcher (daemon mode) or re-executed
// in place by `immortal -n`, with the config already read and checked (config-handover.ts).
// It loads only the supervising code: no YAML reader, flag parser or config checks stay in
// a process that may run for months. Arguments after the script are the operator's original
// ones, kept only so ps shows them.

import { ConfigError } from '../config/errors';
import { takeHandedOverConfig } from '../supervise/config-handover';
import { takeDaemonNotifier } from '../supervise/detach';
import { runImmortal } from '../supervise/standalone';
import { SuperviseDirBusy } from '../supervise-dir/lock';
import { guardStdio, keepSupervisingOnInternalErrors, supervisorLogger } from './output';

async function main(): Promise<number> {
  const notify = takeDaemonNotifier();
  // Until it reports, the detached copy's stderr is /dev/null: a crash must reach the launcher.
  if (notify) process.once('uncaughtException', (err) => { notify(`err ${err.message}`); throw err; });
  guardStdio();
  const config = takeHandedOverConfig();
  if (config === undefined) throw new Error('started without a config: run immortal, not this file');
  if (notify) process.removeAllListeners('uncaughtException');
  const log = supervisorLogger(config.name);
  keepSupervisingOnInternalErrors(log);
  try {
    return await runImmortal(config, { notify, log });
  } catch (err) {
    notify?.(`err ${(err as Error).message}`);
    throw err;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    const known = err instanceof ConfigError || err instanceof SuperviseDirBusy || 'code' in err;
    process.stderr.write(`immortal: ${known ? err.message : err.stack}\n`);
    process.exit(1);
  },
);
