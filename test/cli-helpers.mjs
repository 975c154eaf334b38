// Helpers for the black-box tests of the `immortal` CLI (test/immortal-*.test.mjs).
// Everything goes through the real program, `node dist/cli/immortal.js`.
//
//   sandbox(t, {restartMs, spawnClock})  temp dir with its own HOME and IMMORTAL_SDIR; every process
//                               started from it carries a marker in its environment, and
//                               t.after kills whatever is still running and FAILS the test
//                               (t may be undefined: then call box.cleanup() yourself)
//   box.start(args, opts)       spawn the CLI; returns a Run (stdout/stderr, exited, waitForLog…)
//   box.cleanup()               kill what is left; returns descriptions of it (should be none)
//   box.onCleanup(fn)           fn runs first in cleanup (servers, helpers); its errors are reported
//   box.run(args, opts)         spawn the CLI and wait for it to finish: {code, signal, stdout, stderr}
//   box.processes()             live processes started from this sandbox (marker in environ, or
//                               in the session of a service it started)
//   status(sock) / signal(sock, name)      GET / and GET /signal/<name> on the control socket
//   waitForStatus(sock, pred)   poll the socket until pred(status) holds
//   waitForFile(file, pred)     poll until the file exists (and pred(contents) holds)
//   assertNoZombies(pid)        no zombie child of pid survives a short grace period
//   waitGone(pid)               until the pid is gone (or a zombie)
//
// All waits are deadline-based polling with a few ms between polls; deadlines are generous
// because other test suites share the CPUs.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gone, procStat, publicPackageRoot, waitFor, zombiesOf } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { findCgroup2Mount, serviceCgroupTree } = require('../dist/process/cgroup.js');
const { cgroupName } = require('../dist/process/members.js');

export { descendantsOf, gone, procStat, procStatus, waitFor, zombiesOf } from './helpers.mjs';

export const IMMORTAL = fileURLToPath(new URL('../dist/cli/immortal.js', import.meta.url));
export const EXAMPLE_DIR = fileURLToPath(new URL('../example/', import.meta.url));
export const FIXTURE_DIR = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Test-only preload that shortens the 1 s rule to IMMORTAL_TEST_RESTART_MS (restart-rule.ts). */
export const RESTART_RULE_PRELOAD = fileURLToPath(new URL('./fixtures/restart-rule-preload.cjs', import.meta.url));
/** Test-only preload that records when each spawn was entered and returned (box.spawnClock()). */
const SPAWN_CLOCK_PRELOAD = fileURLToPath(new URL('./fixtures/spawn-clock-preload.cjs', import.meta.url));

/** Default deadline of every wait: long, because the CPUs are shared with other suites. */
export const DEADLINE_MS = 15000;
const POLL_MS = 10;
const MARKER = 'IMMORTAL_CLI_TEST_SANDBOX';
/** Runs of sandboxes not yet cleaned up, for diagnostics in failure messages. */
const liveRuns = new Set();

/**
 * A fresh sandbox for one test. `restartMs` shortens the 1 s rule (only for tests that are not
 * about it): the CLIs then run as `node --require restart-rule-preload.cjs …` with
 * IMMORTAL_TEST_RESTART_MS set, which only that preload reads (box.nodeArgs holds the node
 * options, for harnesses that spawn a CLI themselves). `spawnClock` loads a preload that
 * records the supervisor's spawns on its own clock: box.spawnClock() reads them. Without `t`
 * (benchmarks), call box.cleanup() at the end.
 */
export function sandbox(t, { restartMs, spawnClock = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-cli-'));
  const home = path.join(dir, 'home');
  const sdir = path.join(dir, 'sdir');
  fs.mkdirSync(home);
  fs.mkdirSync(sdir);
  const env = { ...process.env, HOME: home, IMMORTAL_SDIR: sdir, [MARKER]: dir };
  for (const name of ['IMMORTAL_EXIT', 'IMMORTAL_TEST_RESTART_MS', 'IMMORTAL_TEST_SPAWN_CLOCK', 'IMMORTAL_DAEMON_NOTIFY_FD', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) {
    delete env[name];
  }
  if (restartMs !== undefined) env.IMMORTAL_TEST_RESTART_MS = String(restartMs);
  const nodeArgs = restartMs !== undefined ? ['--require', RESTART_RULE_PRELOAD] : [];
  const spawnClockFile = path.join(dir, 'spawn-clock');
  if (spawnClock) {
    env.IMMORTAL_TEST_SPAWN_CLOCK = spawnClockFile;
    nodeArgs.push('--require', SPAWN_CLOCK_PRELOAD);
  }
  const clockRecords = (argv0) => {
    const text = fs.existsSync(spawnClockFile) ? fs.readFileSync(spawnClockFile, 'utf8') : '';
    return text.split('\n').filter(Boolean).map((line) => line.split(' '))
      .filter(([name]) => name === argv0)
      .map(([, called, returned, via]) => ({ calledMs: Number(called), returnedMs: Number(returned), via }));
  };
  const runs = [];
  const extraCleanups = [];
  const createdTicks = uptimeTicks();

  const box = {
    dir,
    home,
    sdir,
    env,
    /** Options for node before a CLI's script (the test preloads, or none). */
    nodeArgs,
    /**
     * With `spawnClock`: the supervisor's spawns of `argv0`, in order, as
     * {calledMs, returnedMs, via} on its performance.now() clock (one process: use -n); via
     * 'reap' for a restart the addon started itself (a prepared restart), else 'spawn'.
     */
    spawnClock(argv0) {
      return clockRecords(argv0).filter(({ via }) => via !== 'prepared');
    },
    /** With `spawnClock`: how many restarts of `argv0` were handed to the addon (native.prepareRestart). */
    restartsPrepared(argv0) {
      return clockRecords(argv0).filter(({ via }) => via === 'prepared').length;
    },
    /** A path inside the sandbox. */
    path: (...parts) => path.join(dir, ...parts),
    /** The socket of a supervisor started with `-ctl <name>` (relative). */
    ctlSocket: (name) => path.join(sdir, name, 'immortal.sock'),
    /** Writes a file in the sandbox (mode optional) and returns its path. */
    write(name, text, mode) {
      const file = path.join(dir, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      if (mode !== undefined) fs.chmodSync(file, mode);
      return file;
    },
    /**
     * Spawns `immortal args…`; `opts.env` is merged over the sandbox env; `opts.wrap` prefixes
     * argv (setpriv…); `opts.stdio` overrides the default ['ignore', 'pipe', 'pipe'].
     */
    start(args, opts = {}) {
      const run = startRun(args, { nodeArgs, ...opts, env: { ...env, ...opts.env } });
      runs.push(run);
      liveRuns.add(run);
      return run;
    },
    /** Runs `immortal args…` to completion (killed after `timeout` ms). */
    async run(args, opts = {}) {
      const run = box.start(args, opts);
      const result = await withTimeout(run.closed, opts.timeout ?? DEADLINE_MS, () => run.proc.kill('SIGKILL'),
        `immortal ${args.join(' ')} did not finish`);
      return { ...result, stdout: run.stdout, stderr: run.stderr };
    },
    /** Live processes whose environment carries this sandbox's marker (zombies excluded). */
    processes: () => sandboxProcesses(),
    /** fn runs first in cleanup (servers, helper processes); its errors are reported. */
    onCleanup(fn) {
      extraCleanups.push(fn);
    },
    /** Kills whatever is still running; returns descriptions of it (should be nothing). */
    cleanup,
  };

  /**
   * Marked processes, plus any process in the session of a service we saw start (a service
   * that cleared its environment still belongs to it) that began after the sandbox was made
   * (so a recycled pid never points at a stranger).
   */
  function sandboxProcesses() {
    const found = new Set(markedProcesses(dir));
    const sessions = new Set(runs.flatMap((run) => run.startedPids));
    if (sessions.size > 0) {
      for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const pid = Number(entry);
        const stat = procStat(pid);
        if (stat && sessions.has(stat.session) && !gone(pid) && (startTicks(pid) ?? 0) >= createdTicks) found.add(pid);
      }
    }
    return [...found].sort((a, b) => a - b);
  }

  async function cleanup() {
    const leftovers = [];
    for (const fn of extraCleanups.splice(0)) {
      try {
        await fn();
      } catch (err) {
        leftovers.push(`cleanup failed: ${err.message}`);
      }
    }
    for (const run of runs) {
      if (run.exitStatus === undefined) leftovers.push(`immortal ${run.args.join(' ')} (pid ${run.pid}) still running`);
    }
    const stray = sandboxProcesses();
    for (const pid of stray) leftovers.push(`pid ${pid} (${describe(pid)}) still running`);
    const cgroups = new Set(stray.map(cgroupDirOf));
    for (const run of runs) if (run.exitStatus === undefined) run.proc.kill('SIGKILL');
    for (const pid of stray) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    for (const cgroup of await killMarked(dir)) cgroups.add(cgroup);
    removeEmptyCgroups([sdir, path.join(home, '.immortal')], cgroups);
    fs.rmSync(dir, { recursive: true, force: true });
    for (const run of runs) liveRuns.delete(run);
    return leftovers;
  }

  t?.after(async () => {
    const leftovers = await cleanup();
    if (leftovers.length > 0) throw new Error(`processes left behind by the test:\n  ${leftovers.join('\n  ')}`);
  });
  return box;
}

/**
 * The cgroups of the services supervised under `roots` (their supervise dirs' parents) and
 * of the processes the cleanup killed, if empty: a supervisor stopped cleanly removes its own,
 * one killed -9 (or a service left running) leaves it behind. Only service cgroups (inside
 * the tree immortal makes); still in use, or never made (not root, no cgroup2): left alone.
 */
function removeEmptyCgroups(roots, killedIn) {
  const tree = serviceCgroupTree();
  if (tree === undefined) return;
  const dirs = new Set([...killedIn].filter((dir) => dir !== undefined && dir.startsWith(`${tree}${path.sep}`)));
  // `<name>.<hash of its supervise dir>`: found even when the supervise dir is gone already.
  for (const entry of fs.readdirSync(tree, { withFileTypes: true })) {
    const name = entry.isDirectory() ? /^(.+)\.[0-9a-f]{8}$/.exec(entry.name)?.[1] : undefined;
    if (name !== undefined && roots.some((root) => cgroupName(name, path.join(root, name)) === entry.name)) {
      dirs.add(path.join(tree, entry.name));
    }
  }
  for (const dir of dirs) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // not there, or a process is still in it
    }
  }
}

/** The cgroup2 directory pid is in, or undefined. */
function cgroupDirOf(pid) {
  try {
    const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    const mount = findCgroup2Mount();
    return line === undefined || mount === undefined ? undefined : path.join(mount, line.slice(3));
  } catch {
    return undefined;
  }
}

/** Clock ticks (1/100 s) since boot, now. */
function uptimeTicks() {
  return Math.floor(Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100);
}

/** Start time of pid in clock ticks since boot, or null. */
function startTicks(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return null;
  }
}

function describe(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0').join(' ');
  } catch {
    return '?';
  }
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
    if (!`${environ}\0`.includes(needle)) continue;
    if (!gone(Number(entry))) found.push(Number(entry));
  }
  return found;
}

/** KILLs every process carrying dir's marker; returns the cgroups they were in. */
async function killMarked(dir) {
  const cgroups = new Set();
  for (let round = 0; round < 50; round++) {
    const pids = markedProcesses(dir);
    if (pids.length === 0) return cgroups;
    for (const pid of pids) {
      cgroups.add(cgroupDirOf(pid));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await sleep(20);
  }
  return cgroups;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, onTimeout, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${message} within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One spawned `immortal`. */
function startRun(args, { env, cwd, wrap = [], nodeArgs = [], stdio = ['ignore', 'pipe', 'pipe'] }) {
  // Wrapped (setpriv: run as another user), the CLI must be readable by that user wherever
  // the checkout is: then it runs from a world-readable copy of the package.
  const cli = wrap.length > 0 ? path.join(publicPackageRoot(), 'dist', 'cli', 'immortal.js') : IMMORTAL;
  const argv = [...wrap, process.execPath, ...nodeArgs, cli, ...args];
  const proc = spawn(argv[0], argv.slice(1), { env, cwd, stdio });
  const run = {
    args,
    proc,
    pid: proc.pid,
    stdout: '',
    stderr: '',
    exitStatus: undefined,
    /** {code, signal} once exited and stdout/stderr are at EOF. */
    closedStatus: undefined,
    /** Resolves on process exit: {code, signal}. */
    exited: undefined,
    /** Resolves once the process exited AND its stdout/stderr reached EOF. */
    closed: undefined,
    /** Lines of stderr (the supervisor's log). */
    get logLines() {
      return run.stderr.split('\n').filter((line) => line !== '');
    },
    /** Pids from `started <pid>:` log lines, in order. */
    get startedPids() {
      return [...run.stderr.matchAll(/ started (\d+): /g)].map((m) => Number(m[1]));
    },
    /** Waits until stderr matches re (a RegExp); returns the match. Fails early if immortal exits first. */
    waitForLog(re, timeout = DEADLINE_MS) {
      return waitForOutput(() => run.stderr, re, timeout, 'stderr');
    },
    /** Waits until stdout matches re. */
    waitForStdout(re, timeout = DEADLINE_MS) {
      return waitForOutput(() => run.stdout, re, timeout, 'stdout');
    },
    /** Waits for the exit, failing after timeout; returns {code, signal}. */
    waitExit(timeout = DEADLINE_MS) {
      return withTimeout(run.exited, timeout, undefined, `immortal ${args.join(' ')} (pid ${proc.pid}) did not exit (stderr: ${JSON.stringify(run.stderr)})`);
    },
    kill(sig) {
      proc.kill(sig);
    },
  };
  async function waitForOutput(text, re, timeout, stream) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const match = re.exec(text());
      if (match) return match;
      // After 'close', not 'exit': output can still be in flight when the exit is reported.
      const why = run.closedStatus ? `immortal exited (${JSON.stringify(run.closedStatus)})` : Date.now() >= deadline ? `timed out after ${timeout} ms` : '';
      if (why) {
        throw new Error(`${stream} never matched ${re}: ${why}; stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`);
      }
      await sleep(POLL_MS);
    }
  }
  proc.stdout?.setEncoding('utf8').on('data', (chunk) => (run.stdout += chunk));
  proc.stderr?.setEncoding('utf8').on('data', (chunk) => (run.stderr += chunk));
  run.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      run.exitStatus = { code, signal };
      resolve(run.exitStatus);
    });
  });
  run.closed = new Promise((resolve) => proc.on('close', (code, signal) => {
    run.closedStatus = { code, signal };
    resolve(run.closedStatus);
  }));
  proc.on('error', () => {}); // spawn failures show up as exit code null / test assertions
  return run;
}

// ── control socket ──────────────────────────────────────────────────────────────────────────

/** GET path over the unix socket: {statusCode, body}. */
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

/** The parsed status document (GET /). */
export async function status(socketPath) {
  const { statusCode, body } = await request(socketPath, '/');
  if (statusCode !== 200) throw new Error(`GET / → ${statusCode} ${body}`);
  return JSON.parse(body);
}

/** GET /signal/<name> → the `Err` string ('' on success). */
export async function signal(socketPath, name) {
  const { body } = await request(socketPath, `/signal/${name}`);
  return JSON.parse(body).Err;
}

/**
 * Polls the socket until pred(status) is truthy (socket errors count as "not yet"); returns that
 * status. On timeout the error shows the last status and the stderr of every supervisor the
 * sandbox started (why it never answered).
 */
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
    }, { timeout, interval: POLL_MS, message: message ?? `status on ${socketPath}` });
  } catch (err) {
    err.message += ` (last status: ${JSON.stringify(last)})`;
    for (const run of liveRuns) {
      if (run.stderr !== '' || run.exitStatus) err.message += `\n  immortal ${run.args.join(' ')}: exit ${JSON.stringify(run.exitStatus)}, stderr ${JSON.stringify(run.stderr)}`;
    }
    throw err;
  }
}

// ── files and processes ─────────────────────────────────────────────────────────────────────

/** Waits until file exists and pred(contents) holds; returns the contents. */
export async function waitForFile(file, pred = () => true, timeout = DEADLINE_MS) {
  return waitFor(() => {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return false;
    }
    return pred(text) ? text : false;
  }, { timeout, interval: POLL_MS, message: `file ${file}` });
}

/** Lines of a file, [] when it does not exist. */
export function fileLines(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
  } catch {
    return [];
  }
}

/** Waits until pid has exited (no /proc entry, or a zombie). */
export function waitGone(pid, timeout = DEADLINE_MS) {
  return waitFor(() => gone(pid), { timeout, interval: POLL_MS, message: `pid ${pid} (${describe(pid)}) to exit` });
}

/**
 * A zombie may exist for an instant between a child's exit and its reaping; one that outlives
 * `timeout` was never reaped. Fails if any zombie child of ppid survives that long.
 */
export async function assertNoZombies(ppid, timeout = 3000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const zombies = zombiesOf(ppid);
    if (zombies.length === 0) return;
    if (Date.now() >= deadline) throw new Error(`zombie children of ${ppid} never reaped: ${zombies.join(', ')}`);
    await sleep(POLL_MS);
  }
}

/** The target of /proc/<pid>/fd/<fd>, or null. */
export function fdTarget(pid, fd) {
  try {
    return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return null;
  }
}

/** /proc/<pid>/environ as an object, or null when unreadable. */
export function procEnviron(pid) {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
    const env = {};
    for (const entry of raw.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return null;
  }
}

/** Session id of pid (procStat), or null. */
export function sessionOf(pid) {
  return procStat(pid)?.session ?? null;
}

export const isRoot = process.getuid?.() === 0;

/** `setpriv` wrapper argv to run a command as uid:gid with no supplementary groups, or null. */
export function asUser(uid, gid) {
  const found = spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' });
  if (found.status !== 0) return null;
  return [found.stdout.trim(), `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
}
