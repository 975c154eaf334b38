#!/usr/bin/env node
// immortal: supervise one service. Argument handling only: once the config is read and
// checked it is handed to ./supervise-entry.ts (detached copy, or this same pid re-executed
// for -n), so the supervising process never holds the YAML reader or the flag parser.

import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError, configToYaml, loadConfig, type Config } from '../config/config';
import { exec } from '../native';
import { configHandoverEnv, encodeConfig } from '../supervise/config-handover';
import { detach, takeDaemonNotifier } from '../supervise/detach';
import { supervisingExecArgv } from '../supervise/node-flags';
import { SuperviseDirBusy } from '../supervise-dir/lock';
import { configInputOf, helpText, parseFlags } from './flags';
import { guardStdio, keepSupervisingOnInternalErrors, supervisorLogger } from './output';
import { packageVersion } from './version';

const superviseEntry = path.join(__dirname, 'supervise-entry.js');

async function main(argv: string[]): Promise<number> {
  // Only a copy started by an older launcher or by the fallback below (a config JSON cannot
  // carry) gets here detached.
  const notify = takeDaemonNotifier();
  // Until it reports, the detached copy's stderr is /dev/null: a crash must reach the launcher.
  if (notify) process.once('uncaughtException', (err) => { notify(`err ${err.message}`); throw err; });
  const flags = parseFlags(argv);
  if (flags.version) {
    guardStdio();
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (flags.help) {
    guardStdio();
    process.stdout.write(helpText());
    return 0;
  }
  const config = loadConfig(configInputOf(flags), process.env, { pid: process.pid, home: homedir(), uid: process.getuid!() });
  if (flags.check) {
    guardStdio();
    process.stdout.write(configToYaml(config));
    return 0;
  }
  const json = notify === undefined ? encodeConfig(config) : undefined;
  if (!config.foreground && notify === undefined) {
    return json === undefined ? detach(__filename, argv) : detach(superviseEntry, argv, { [configHandoverEnv]: json });
  }
  // stdout and stderr are untouched so far: a stream libuv opened (and made non-blocking)
  // would stay so across execve, and the new Node would then restore that state on exit.
  if (json !== undefined) superviseInPlace(json, argv);
  return superviseHere(config, notify);
}

/**
 * -n: the same pid (operators, -P and process managers watch it) becomes the lean
 * supervising entry. Returns only when execve fails (E2BIG with a huge env, …): the caller
 * then supervises in this process, as it did before.
 */
function superviseInPlace(json: string, argv: string[]): void {
  const env: string[] = [];
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== configHandoverEnv) env.push(`${name}=${value}`);
  }
  env.push(`${configHandoverEnv}=${json}`);
  try {
    exec(process.execPath, [process.argv0, ...supervisingExecArgv(), superviseEntry, ...argv], env);
  } catch {
    // supervised here instead: it only costs memory
  }
}

async function superviseHere(config: Config, notify: ((message: string) => void) | undefined): Promise<number> {
  guardStdio();
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    const known = err instanceof ConfigError || err instanceof SuperviseDirBusy || 'code' in err;
    process.stderr.write(`immortal: ${known ? err.message : err.stack}\n`);
    process.exit(1);
  },
);
