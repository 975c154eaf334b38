#!/usr/bin/env -S node --max-semi-space-size=1 --max-opt=0
// immortaldir: supervise every *.yml of a directory, all services in this one process.
// The flags on the #! line: V8's young generation capped at 1 MiB per semi-space (starting
// 100 services grows it to 8 MiB otherwise: −5 MiB PSS at 100 services), and the flags of
// every supervising process (supervise/node-flags.ts: no optimizing compilers). Both have to
// be on the command line; docs/performance.md has the measurements.

import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ServiceTable } from '../immortaldir/service-table';
import { ServiceDirScanner } from '../immortaldir/scan';
import { readServiceFiles } from '../immortaldir/config-reader';
import { watchServiceDir } from '../immortaldir/watch-dir';
import { parseHttpAddress, type HttpAddress } from '../dashboard/address';
import { readTokenFile } from '../dashboard/access';
import { startDashboard, type Dashboard } from '../dashboard/server';
import { setSubreaper } from '../native';
import { releaseStartupMemoryLater } from '../process/release-memory';
import { groupId } from '../supervise/runtime';
import { systemSuperviseRoot } from '../supervise-dir/roots';
import { guardStdio, supervisorLogger } from './output';
import { packageVersion } from './version';

const defaultDir = '/usr/local/etc/immortal';
/** SPEC: changes are picked up within 5 s even when no fs event arrives. */
const rescanIntervalMs = 5000;

const usage = `usage: immortaldir [dir] [--http [HOST:]PORT] [--http-token-file FILE] [--socket-group GROUP]

Supervises every *.yml in dir (default ${defaultDir}), each as -ctl <basename> under
$IMMORTAL_SDIR (default /var/run/immortal), all in this one process.
A new file starts a service, a changed file restarts it, a removed file stops it.
SIGTERM/SIGINT stop every service (dependents first) and exit; SIGHUP rescans now.

The dashboard (docs/dashboard.md), a live page of every service plus /metrics for all of
them, is always served on $IMMORTAL_SDIR/immortaldir.sock (mode 0600, e.g. behind nginx).

  --http ADDR              also serve it over TCP: PORT or :PORT (127.0.0.1 only),
                           HOST:PORT or [IPV6]:PORT (that address, e.g. 0.0.0.0:8080)
  --http-token-file FILE   allow start, stop, restart, signals and log lines to requests
                           carrying this file's token (X-Immortal-Token); without it the
                           dashboard is read-only
  --socket-group GROUP     make immortaldir.sock mode 0660 with this group (e.g. the
                           group of nginx's workers), instead of 0600
  -v, --version            print the version and exit
  -h, --help               print this help and exit
`;

interface Arguments {
  dir: string;
  http?: HttpAddress;
  tokenFile?: string;
  socketGroup?: string;
}

/** Flags take their value as the next word or after "=" (--http=8080). */
function parseArguments(argv: string[]): Arguments {
  const positional: string[] = [];
  let http: HttpAddress | undefined;
  let tokenFile: string | undefined;
  let socketGroup: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') ? splitOnce(argv[i]) : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') fail(`${flag} needs a value (see --help)`);
      return v;
    };
    if (flag === '--http') {
      try {
        http = parseHttpAddress(value());
      } catch (err) {
        fail((err as Error).message);
      }
    } else if (flag === '--http-token-file') {
      tokenFile = value();
    } else if (flag === '--socket-group') {
      socketGroup = value();
    } else if (flag.startsWith('-')) {
      fail(`unknown argument ${argv[i]} (see --help)`);
    } else {
      positional.push(flag);
    }
  }
  if (positional.length > 1) fail(`unknown argument ${positional[1]} (see --help)`);
  return { dir: path.resolve(positional[0] ?? defaultDir), http, tokenFile, socketGroup };
}

function splitOnce(arg: string): [string, string | undefined] {
  const at = arg.indexOf('=');
  return at < 0 ? [arg, undefined] : [arg.slice(0, at), arg.slice(at + 1)];
}

async function main(argv: string[]): Promise<void> {
  guardStdio();
  if (argv.includes('-v') || argv.includes('--version')) return void process.stdout.write(`${packageVersion()}\n`);
  if (argv.includes('-h') || argv.includes('--help')) return void process.stdout.write(usage);
  const args = parseArguments(argv);
  const { dir } = args;
  try {
    if (!statSync(dir).isDirectory()) fail(`${dir}: not a directory`);
  } catch {
    fail(`${dir}: no such directory`);
  }
  let token: string | undefined;
  if (args.tokenFile !== undefined) {
    try {
      token = readTokenFile(args.tokenFile);
    } catch (err) {
      fail((err as Error).message);
    }
  }

  setSubreaper(); // daemonizing services stay ours to reap
  const dirLog = supervisorLogger('immortaldir');
  const context = { pid: process.pid, home: homedir(), uid: process.getuid!() };
  const table = new ServiceTable({ log: (name, line) => supervisorLogger(name)(line), read: (files, cancel) => readServiceFiles(files, context, cancel) });
  const scanner = new ServiceDirScanner(dir);
  const scanFailed = (err: Error) => dirLog(`scan of ${dir} failed: ${err.message}`);
  // SIGHUP and the first scan read everything; the periodic and watch-triggered ones only
  // what a changed directory signature says may be new (or what the reader failed to read).
  const rescan = (force = false) => {
    try {
      if (force || table.rereadWanted() || scanner.changed()) table.reconcile(scanner.scan()).catch(scanFailed);
      else table.retryUnstarted();
    } catch (err) {
      scanFailed(err as Error);
    }
  };
  let socketGid: number | undefined;
  if (args.socketGroup !== undefined) {
    try {
      socketGid = groupId(args.socketGroup);
    } catch (err) {
      fail(`--socket-group ${args.socketGroup}: ${(err as Error).message.replace(/^socket\.group: /, '')}`);
    }
  }
  // Listening comes before any service starts: a port in use ends immortaldir with nothing started.
  let dashboard: Dashboard;
  try {
    dashboard = await startDashboard({ source: { dir, listing: () => table.listing(), control: (name) => table.control(name) }, token, http: args.http, socketRoot: systemSuperviseRoot(), socketGid, log: dirLog });
  } catch (err) {
    fail((err as Error).message);
  }
  // Every handler is in place before the first scan starts anything (the run.yml reader is
  // spawned within it): a SIGTERM at any moment from here on stops what was started.
  let stopping = false;
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    watcher.close();
    dirLog('stopping all services');
    void table.shutdown().then(() => dashboard.close()).then(() => process.exit(0));
  };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  process.on('SIGHUP', () => rescan(true));
  // External logrotate: reopen every service's log files, as `immortal` does on SIGUSR1.
  process.on('SIGUSR1', () => table.runtimes().forEach(({ runtime }) => runtime.output.reopen()));
  process.on('uncaughtException', (err) => dirLog(`internal error (services keep running): ${err.stack}`));
  const watcher = watchServiceDir(dir, () => rescan(), { debounceMs: 50, intervalMs: rescanIntervalMs });
  rescan(true);
  releaseStartupMemoryLater();
}

function fail(message: string): never {
  process.stderr.write(`immortaldir: ${message}\n`);
  process.exit(1);
}

void main(process.argv.slice(2));
