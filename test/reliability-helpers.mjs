// Helpers for test/reliability-*.test.mjs and bench/soak-*.mjs: the real `immortal` program
// driven from outside, its control socket, and /proc (Linux) to count processes and zombies.
// The sandbox, the Run and the control-socket helpers are those of cli-helpers.mjs; this file
// adds what only the reliability tests need.
//
//   sandbox(t?, {restartMs})   cli-helpers' sandbox (t optional: then call box.cleanup()), plus
//     box.sleeper(seconds)     argv of a long sleep no other sandbox runs
//     box.ctlDir(name)         supervise dir of `-ctl name`
//     box.spawnMarked(argv)    spawn any program with the marker (not a supervisor)
//   waitFor                    helpers' waitFor with the DEADLINE_MS default
//   within(promise, ms)        promise or a fallback after ms
//   metrics                    GET /metrics on the control socket
//   cpuTicks, processArgv, liveWithArgv, rssKb     /proc readers (zombiesUnder = zombiesOf)
//
// Every wait is deadline-based polling; deadlines are generous because other suites share
// the two CPUs.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEADLINE_MS, gone, request, sandbox as cliSandbox, waitFor as baseWaitFor } from './cli-helpers.mjs';

export {
  DEADLINE_MS, IMMORTAL, gone, procStat, request, signal, sleep, status, waitForStatus, waitGone,
  zombiesOf as zombiesUnder,
} from './cli-helpers.mjs';

/** promise, or `fallback` after ms, whichever comes first; the timer never outlives it. */
export function within(promise, ms, fallback = undefined) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** helpers.mjs' waitFor, but the timeout defaults to DEADLINE_MS. */
export function waitFor(predicate, options = {}) {
  return baseWaitFor(predicate, { ...options, timeout: options.timeout ?? DEADLINE_MS });
}

// ── sandbox ───────────────────────────────────────────────────────────────────────────────────

export function sandbox(t, options) {
  const box = cliSandbox(t, options);
  // Makes this sandbox's services unique on the machine: another suite (or another run of
  // this one) may run `sleep 3801` at the same time, and tests count processes by argv.
  const token = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
  /** argv of a long sleep no other sandbox runs: ['sleep', '3801.042137']. */
  box.sleeper = (seconds) => ['sleep', `${seconds}.${token}`];
  /** Supervise dir of `-ctl name`. */
  box.ctlDir = (name) => path.join(box.sdir, name);
  /** Any program, marked so cleanup finds it; with {stdout: true} its output collects in .output. */
  box.spawnMarked = (argv, { stdout = false } = {}) => {
    const child = spawn(argv[0], argv.slice(1), { env: box.env, stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'ignore'] });
    child.output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk) => (child.output += chunk));
    child.on('error', () => {});
    return child;
  };
  return box;
}

// ── control socket ────────────────────────────────────────────────────────────────────────────

/** GET /metrics as {family: value} for the one service on the socket. */
export async function metrics(socketPath) {
  const { body } = await request(socketPath, '/metrics');
  const values = {};
  for (const line of body.split('\n')) {
    const match = /^(\w+)\{[^}]*\} (\S+)$/.exec(line);
    if (match) values[match[1]] = Number(match[2]);
  }
  return values;
}

// ── /proc ─────────────────────────────────────────────────────────────────────────────────────

/** CPU time (user + system) of pid in clock ticks (1/100 s). */
export function cpuTicks(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    throw new Error(`pid ${pid} is gone`);
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function numericEntries() {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number);
}

export function processArgv(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
  } catch {
    return null;
  }
}

/** Live (non-zombie) processes whose argv is exactly argv. */
export function liveWithArgv(argv) {
  const wanted = argv.join('\0');
  return numericEntries().filter((pid) => processArgv(pid)?.join('\0') === wanted && !gone(pid));
}

/** Resident set size of pid in kB. */
export function rssKb(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(text)?.[1]);
}
