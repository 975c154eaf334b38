#!/usr/bin/env node
// A prefork master is killed (-9): how long until a new master serves the port?
//
//   node bench/prefork-crash.mjs [trials]      (default 20; build first: npx tsc -p .)
//
// test/fixtures/prefork.py binds 127.0.0.1:PORT and forks 2 workers sharing the socket;
// workers survive their master's kill -9 and keep the port, so a new master cannot bind
// (exit 98) until someone stops them. One trial: wait until a request is answered, note the
// master pid M from the answer, t0, SIGKILL M, then ask every 5 ms until an answer names a
// master other than M: t1 - t0 is the time to serving again. A trial that takes over 15 s is
// counted as "never" (the old workers are serving alone, or nothing is).
//
// Rows, each in the same run:
//   daemonized (-f pidfile), workers left: immortal (cgroup, and the tracked fallback with
//     IMMORTAL_CGROUP=off) with `pid.grace: 0.5`, and the Go original (it follows the
//     pidfile; its workers keep the port, so every later master exits 98).
//   foreground master, workers left: the master is the direct child.
//   foreground master, nothing left (--workers 0): the floor, goal < 100 ms.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/ports.mjs';
import { sleep } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const IMMORTAL = path.join(here, '..', 'dist', 'cli', 'immortal.js');
const GO_IMMORTAL = path.join(here, '..', '..', 'shared', 'oracle', 'go-immortal', 'immortal');
const PREFORK = path.join(here, '..', 'test', 'fixtures', 'prefork.py');
const TRIALS = Number(process.argv[2] ?? 20);
const NEVER_MS = 15000;

/** The master pid named by an answer on port, or undefined when nothing answers. */
function askMaster(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(Number(/master (\d+)/.exec(body)?.[1]) || undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

async function waitServing(port, notMaster, deadlineMs) {
  const deadline = performance.now() + deadlineMs;
  while (performance.now() < deadline) {
    const master = await askMaster(port);
    if (master !== undefined && master !== notMaster) return master;
    await sleep(5);
  }
  return undefined;
}

/** Starts one supervisor for a scenario; returns {stop()}. */
function startSupervisor(kind, scenario, dir, port) {
  const pidfile = path.join(dir, 'master.pid');
  const args = ['python3', PREFORK, '--port', String(port), '--workers', String(scenario.workers)];
  if (scenario.daemonize) args.push('--daemonize', '--pidfile', pidfile);
  const env = { ...process.env, HOME: dir, IMMORTAL_SDIR: dir, FOLLOW_LEDGER: path.join(dir, 'ledger') };
  let argv;
  if (kind === 'go') {
    argv = [GO_IMMORTAL, '-ctl', path.join(dir, 'sv'), ...(scenario.daemonize ? ['-f', pidfile] : []), ...args];
  } else {
    const yml = path.join(dir, 'prefork.yml');
    const pid = scenario.daemonize ? `pid:\n  follow: ${pidfile}\n  grace: 0.5\n` : '';
    // No crash-loop backoff: every trial is a crash, and this measures recovery, not the
    // backoff's delay (the Go original has none).
    fs.writeFileSync(yml, `cmd: ${args.join(' ')}\n${pid}stop_timeout: 2\nbackoff:\n  cap: 0\n`);
    argv = [process.execPath, IMMORTAL, '-n', '-ctl', path.join(dir, 'sv'), '-c', yml];
    if (kind === 'tracked') env.IMMORTAL_CGROUP = 'off';
  }
  const child = spawn(argv[0], argv.slice(1), { env, stdio: 'ignore', detached: true });
  return {
    async stop() {
      // Halt over the socket: the Go original ignores SIGTERM and forks away from `child`.
      await halt(path.join(dir, 'sv', 'immortal.sock'));
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
      // Whatever is left — services the ledger names, a supervisor that forked away — is killed here.
      const ledger = fs.existsSync(env.FOLLOW_LEDGER) ? fs.readFileSync(env.FOLLOW_LEDGER, 'utf8') : '';
      const pids = ledger.split('\n').filter(Boolean).map((line) => Number(line.split(' ')[0]));
      for (const pid of [...pids, ...processesMentioning(dir)]) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    },
  };
}

/** GET /signal/halt on a supervisor's socket; resolves whatever the answer (or none). */
function halt(socketPath) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/signal/halt', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', resolve);
    req.on('timeout', () => { req.destroy(); resolve(); });
  });
}

/** Live pids whose command line names dir (the supervisor forked away from us, its children). */
function processesMentioning(dir) {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(dir)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

async function measure(kind, scenario) {
  if (kind === 'go' && !fs.existsSync(GO_IMMORTAL)) return { samples: [], never: 0, note: 'not found' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prefork-'));
  const port = await freePort();
  const supervisor = startSupervisor(kind, scenario, dir, port);
  const samples = [];
  let never = 0;
  try {
    let master = await waitServing(port, undefined, NEVER_MS);
    for (let trial = 0; trial < TRIALS && master !== undefined; trial++) {
      await sleep(1100); // past the 1 s rule, so the trial measures recovery, not the rule
      const t0 = performance.now();
      process.kill(master, 'SIGKILL');
      const next = await waitServing(port, master, NEVER_MS);
      if (next === undefined) {
        never++;
        break; // nothing will serve again in this setup
      }
      samples.push(performance.now() - t0);
      master = next;
    }
  } finally {
    await supervisor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { samples, never };
}

function quantile(sorted, q) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * The floor: the fixture started directly (no supervisor) until it serves. Python's own
 * start-up (through pyenv's shim here) is most of every recovery above.
 */
async function directStart() {
  const samples = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn('python3', [PREFORK, '--port', String(port), '--workers', '0'], { stdio: 'ignore' });
    const served = await waitServing(port, undefined, NEVER_MS);
    if (served !== undefined) samples.push(performance.now() - t0);
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  }
  return samples.sort((a, b) => a - b);
}

const scenarios = [
  { label: 'daemonized (-f), workers left', daemonize: true, workers: 2 },
  { label: 'foreground master, workers left', daemonize: false, workers: 2 },
  { label: 'foreground master, nothing left', daemonize: false, workers: 0 },
];
const kinds = [['immortal (cgroup)', 'cgroup'], ['immortal (tracked)', 'tracked'], ['Go immortal', 'go']];

console.log(`| scenario | supervisor | p50 ms | p99 ms | trials | never serves again |`);
console.log(`|---|---|---:|---:|---:|---|`);
{
  const floor = await directStart();
  const fmt = (v) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1));
  console.log(`| floor: the fixture started directly until it serves | none | ${fmt(quantile(floor, 0.5))} | ${fmt(quantile(floor, 0.99))} | ${floor.length} | — |`);
}
for (const scenario of scenarios) {
  for (const [label, kind] of kinds) {
    const { samples, never, note } = await measure(kind, scenario);
    const sorted = samples.sort((a, b) => a - b);
    const fmt = (v) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1));
    const neverText = note ?? (never > 0 ? `yes (after ${samples.length} recoveries)` : 'no');
    console.log(`| ${scenario.label} | ${label} | ${fmt(quantile(sorted, 0.5))} | ${fmt(quantile(sorted, 0.99))} | ${samples.length} | ${neverText} |`);
  }
}
