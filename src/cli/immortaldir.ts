#!/usr/bin/env node
// immortaldir: supervise every *.yml of a directory, all services in this one process.

import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ServiceTable } from '../immortaldir/service-table';
import { scanServiceDir } from '../immortaldir/scan';
import { watchServiceDir } from '../immortaldir/watch-dir';
import { setSubreaper } from '../native';
import { guardStdio, supervisorLogger } from './output';
import { packageVersion } from './version';

const defaultDir = '/usr/local/etc/immortal';
/** SPEC: changes are picked up within 5 s even when no fs event arrives. */
const rescanIntervalMs = 5000;

const usage = `usage: immortaldir [dir]

Supervises every *.yml in dir (default ${defaultDir}), each as -ctl <basename> under
$IMMORTAL_SDIR (default /var/run/immortal), all in this one process.
A new file starts a service, a changed file restarts it, a removed file stops it.
SIGTERM/SIGINT stop every service (dependents first) and exit; SIGHUP rescans now.

  -v, --version   print the version and exit
  -h, --help      print this help and exit
`;

function main(argv: string[]): void {
  guardStdio();
  if (argv.includes('-v') || argv.includes('--version')) return void process.stdout.write(`${packageVersion()}\n`);
  if (argv.includes('-h') || argv.includes('--help')) return void process.stdout.write(usage);
  const unknown = argv.find((a) => a.startsWith('-'));
  if (unknown !== undefined || argv.length > 1) fail(`unknown argument ${unknown ?? argv[1]} (see --help)`);
  const dir = path.resolve(argv[0] ?? defaultDir);
  try {
    if (!statSync(dir).isDirectory()) fail(`${dir}: not a directory`);
  } catch {
    fail(`${dir}: no such directory`);
  }

  setSubreaper(); // daemonizing services stay ours to reap
  const dirLog = supervisorLogger('immortaldir');
  const table = new ServiceTable({ log: (name, line) => supervisorLogger(name)(line), home: homedir() });
  const rescan = () => {
    try {
      table.reconcile(scanServiceDir(dir));
    } catch (err) {
      dirLog(`scan of ${dir} failed: ${(err as Error).message}`);
    }
  };
  const watcher = watchServiceDir(dir, rescan, { debounceMs: 50, intervalMs: rescanIntervalMs });
  rescan();

  let stopping = false;
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    watcher.close();
    dirLog('stopping all services');
    void table.shutdown().then(() => process.exit(0));
  };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  process.on('SIGHUP', rescan);
  // External logrotate: reopen every service's log files, as `immortal` does on SIGUSR1.
  process.on('SIGUSR1', () => table.runtimes().forEach(({ runtime }) => runtime.output.reopen()));
  process.on('uncaughtException', (err) => dirLog(`internal error (services keep running): ${err.stack}`));
}

function fail(message: string): never {
  process.stderr.write(`immortaldir: ${message}\n`);
  process.exit(1);
}

main(process.argv.slice(2));
