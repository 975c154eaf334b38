// Helpers for test/reliability-*.test.mjs and bench/soak-*.mjs: the real `immortal` program
// driven from outside, its control socket, and /proc (Linux) to count processes and zombies.
//
//   sandbox(t?, {restartMs})   temp dir with its own HOME and IMMORTAL_SDIR; every process
//                              started from it carries a marker in its environment; cleanup()
//                              (t.after when t is given) stops, kills and REPORTS leftovers
//   box.start(args, opts)      spawn `node dist/cli/immortal.js args…` → Run
//   box.spawnMarked(argv)      spawn any program with the marker (not a supervisor)
//   status / signal / metrics / waitForStatus   the control socket
//   procStat, cpuTicks, liveWithArgv, zombiesUnder, waitGone     /proc readers
//
// Every wait is deadline-based polling; deadlines are generous because other suites share
// the two CPUs.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const IMMORTAL = fileURLToPath(new URL('../dist/cli/immortal.js', import.meta.url));
export const DEADLINE_MS = 15000;
const POLL_MS = 10;
const MARKER = 'IMMORTAL_RELIABILITY_SANDBOX';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** promise, or `fallback` after ms, whichever comes first; the timer never outlives it. */
export function within(promise, ms, fallback = undefined) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function waitFor(predicate, { timeout = DEADLINE_MS, interval = POLL_MS, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for ${message}`);
    await sleep(interval);
  }
}

// ── sandbox ───────────────────────────────────────────────────────────────────────────────────

export function sandbox(t, { restartMs } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-rel-'));
  const home = path.join(dir, 'home');
  const sdir = path.join(dir, 'sdir');
  fs.mkdirSync(home);
  fs.mkdirSync(sdir);
  const env = { ...process.env, HOME: home, IMMORTAL_SDIR: sdir, [MARKER]: dir };
  for (const name of ['IMMORTAL_EXIT', 'IMMORTAL_TEST_RESTART_MS', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete env[name];
  if (restartMs !== undefined) env.IMMORTAL_TEST_RESTART_MS = String(restartMs);
  // Makes this sandbox's services unique on the machine: another suite (or another run of
  // this one) may run `sleep 3801` at the same time, and tests count processes by argv.
  const token = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
  const runs = [];
  const extraCleanups = [];

  const box = {
    dir,
    sdir,
    env,
    path: (...parts) => path.join(dir, ...parts),
    /** argv of a long sleep no other sandbox runs: ['sleep', '3801.042137']. */
    sleeper: (seconds) => ['sleep', `${seconds}.${token}`],
    /** Supervise dir and socket of `-ctl name`. */
    ctlDir: (name) => path.join(sdir, name),
    ctlSocket: (name) => path.join(sdir, name, 'immortal.sock'),
    write(name, text, mode) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      if (mode !== undefined) fs.chmodSync(file, mode);
      return file;
    },
    /** `immortal args…`; opts.env is merged over the sandbox env; opts.stdio overrides the pipes. */
    start(args, opts = {}) {
      const run = startRun(args, { env: { ...env, ...opts.env }, stdio: opts.stdio });
      runs.push(run);
      return run;
    },
    /** Any program, marked so cleanup finds it; with {stdout: true} its output collects in .output. */
    spawnMarked(argv, { stdout = false } = {}) {
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'ignore'] });
      child.output = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk) => (child.output += chunk));
      child.on('error', () => {});
      return child;
    },
    /** fn runs first in cleanup (servers, helper processes); its errors are reported. */
    onCleanup(fn) {
      extraCleanups.push(fn);
    },
    /** Live (non-zombie) processes started from this sandbox. */
    processes: () => markedProcesses(dir),
    /**
     * Stops what is left: SIGTERM to live supervisors (graceful), then SIGKILL to anything
     * marked. Returns descriptions of what was still running (should be nothing).
     */
    async cleanup() {
      const leftovers = [];
      for (const fn of extraCleanups.splice(0)) {
        try {
          await fn();
        } catch (err) {
          leftovers.push(`cleanup failed: ${err.message}`);
        }
      }
      for (const run of runs) {
        if (run.exitStatus !== undefined) continue;
        leftovers.push(`immortal ${run.args.join(' ')} (pid ${run.pid})`);
        run.kill('SIGTERM');
        await within(run.exited, 5000);
      }
      for (const pid of markedProcesses(dir)) leftovers.push(`pid ${pid}: ${describeProcess(pid)}`);
      for (const run of runs) if (run.exitStatus === undefined) run.kill('SIGKILL');
      await killMarked(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      return leftovers;
    },
  };
  t?.after(async () => {
    const leftovers = await box.cleanup();
    if (leftovers.length > 0) throw new Error(`left running by the test:\n  ${leftovers.join('\n  ')}`);
  });
  return box;
}

function startRun(args, { env, stdio }) {
  const proc = spawn(process.execPath, [IMMORTAL, ...args], { env, stdio: stdio ?? ['ignore', 'pipe', 'pipe'] });
  const run = {
    args,
    proc,
    pid: proc.pid,
    stdout: '',
    stderr: '',
    exitStatus: undefined,
    exited: undefined,
    /** Pids from `started <pid>:` log lines, in order. */
    get startedPids() {
      return [...run.stderr.matchAll(/ started (\d+): /g)].map((m) => Number(m[1]));
    },
    waitForLog(re, timeout = DEADLINE_MS) {
      return waitFor(() => re.exec(run.stderr), { timeout, message: `log ${re} (stderr so far: ${JSON.stringify(run.stderr)})` });
    },
    async waitExit(timeout = DEADLINE_MS) {
      const result = await within(run.exited, timeout);
      if (result === undefined) throw new Error(`immortal ${args.join(' ')} did not exit within ${timeout} ms`);
      return result;
    },
    kill(sig) {
      try {
        proc.kill(sig);
      } catch {
        // already gone
      }
    },
  };
  proc.stdout?.setEncoding('utf8').on('data', (chunk) => (run.stdout += chunk));
  proc.stderr?.setEncoding('utf8').on('data', (chunk) => (run.stderr += chunk));
  run.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      run.exitStatus = { code, signal };
      resolve(run.exitStatus);
    });
  });
  proc.on('error', () => {});
  return run;
}

function markedProcesses(dir) {
  const needle = `${MARKER}=${dir}\0`;
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (`${environ}\0`.includes(needle) && !gone(Number(entry))) found.push(Number(entry));
  }
  return found;
}

async function killMarked(dir) {
  for (let round = 0; round < 100; round++) {
    const pids = markedProcesses(dir);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await sleep(20);
  }
}

// ── control socket ────────────────────────────────────────────────────────────────────────────

export function request(socketPath, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ statusCode: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} on ${socketPath}: timed out`)));
    req.on('error', reject);
  });
}

export async function status(socketPath) {
  const { statusCode, body } = await request(socketPath, '/');
  if (statusCode !== 200) throw new Error(`GET / → ${statusCode} ${body}`);
  return JSON.parse(body);
}

export async function signal(socketPath, name) {
  const { body } = await request(socketPath, `/signal/${name}`);
  return JSON.parse(body).Err;
}

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

/** Polls until pred(status) holds (socket errors count as "not yet"); returns that status. */
export async function waitForStatus(socketPath, pred = () => true, { timeout = DEADLINE_MS, message } = {}) {
  let last;
  try {
    return await waitFor(async () => {
      try {
        last = await status(socketPath);
      } catch (err) {
        last = err.message;
        return false;
      }
      return pred(last) ? last : false;
    }, { timeout, message: message ?? `status on ${socketPath}` });
  } catch (err) {
    err.message += ` (last status: ${JSON.stringify(last)})`;
    throw err;
  }
}

// ── /proc ─────────────────────────────────────────────────────────────────────────────────────

/** {state, ppid, utime, stime} from /proc/<pid>/stat, or null when the pid does not exist. */
export function procStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
}

/** The pid has exited: no /proc entry, or a zombie waiting for its parent. */
export function gone(pid) {
  const stat = procStat(pid);
  return stat === null || stat.state === 'Z' || stat.state === 'X';
}

export function waitGone(pid, timeout = DEADLINE_MS) {
  return waitFor(() => gone(pid), { timeout, message: `pid ${pid} to exit` });
}

/** CPU time (user + system) of pid in clock ticks (1/100 s). */
export function cpuTicks(pid) {
  const stat = procStat(pid);
  if (stat === null) throw new Error(`pid ${pid} is gone`);
  return stat.utime + stat.stime;
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

function describeProcess(pid) {
  return processArgv(pid)?.join(' ') ?? '?';
}

/** Live (non-zombie) processes whose argv is exactly argv. */
export function liveWithArgv(argv) {
  const wanted = argv.join('\0');
  return numericEntries().filter((pid) => processArgv(pid)?.join('\0') === wanted && !gone(pid));
}

/** Zombie children of ppid (exited, never reaped). */
export function zombiesUnder(ppid) {
  return numericEntries().filter((pid) => {
    const stat = procStat(pid);
    return stat !== null && stat.ppid === ppid && stat.state === 'Z';
  });
}

/** Resident set size of pid in kB. */
export function rssKb(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(text)?.[1]);
}
