#!/usr/bin/env node
// immortal: supervise one service. Argument handling only; the work is in ../supervise/standalone.ts.

import { homedir } from 'node:os';
import { ConfigError, configToYaml, loadConfig } from '../config/config';
import { detach, takeDaemonNotifier } from '../supervise/detach';
import { SuperviseDirBusy } from '../supervise-dir/lock';
import { configInputOf, helpText, parseFlags } from './flags';
import { guardStdio, supervisorLogger } from './output';
import { packageVersion } from './version';

async function main(argv: string[]): Promise<number> {
  guardStdio();
  const notify = takeDaemonNotifier();
  // Until it reports, the detached copy's stderr is /dev/null: a crash must reach the launcher.
  if (notify) process.once('uncaughtException', (err) => { notify(`err ${err.message}`); throw err; });
  const flags = parseFlags(argv);
  if (flags.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (flags.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const config = loadConfig(configInputOf(flags), process.env, { pid: process.pid, home: homedir(), uid: process.getuid!() });
  if (flags.check) {
    process.stdout.write(configToYaml(config));
    return 0;
  }
  if (!config.foreground && notify === undefined) return detach(__filename, argv);
  // Loaded only to supervise: -v, -cc and flag errors stay quick.
  const { runImmortal } = require('../supervise/standalone') as typeof import('../supervise/standalone');
  if (notify) process.removeAllListeners('uncaughtException');
  keepSupervisingOnInternalErrors(supervisorLogger(config.name));
  try {
    return await runImmortal(config, { notify, log: supervisorLogger(config.name) });
  } catch (err) {
    notify?.(`err ${(err as Error).message}`);
    throw err;
  }
}

/**
 * A bug in our own code must not leave the service unsupervised: the error is logged and
 * the event loop goes on (the state machine's transitions are each complete before any
 * callback runs, so a throw inside one event leaves the others intact).
 */
function keepSupervisingOnInternalErrors(log: (line: string) => void): void {
  process.on('uncaughtException', (err) => log(`internal error, still supervising: ${err.stack ?? err}`));
  process.on('unhandledRejection', (err) => log(`internal error, still supervising: ${(err as Error)?.stack ?? err}`));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    const known = err instanceof ConfigError || err instanceof SuperviseDirBusy || 'code' in err;
    process.stderr.write(`immortal: ${known ? err.message : err.stack}\n`);
    process.exit(1);
  },
);
