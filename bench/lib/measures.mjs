// The measurements, each run against one supervisor adapter in a fresh scratch directory.
// A measurement that cannot run (tool missing, timeout, error) returns {na: reason}; it
// never throws, so one broken part never stops the others.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bytesIn, cpuNsBetween, cpuSnapshotOf, killMarked, memoryKb, supervisorCpuSnapshot, supervisorMemory, supervisorPids } from './proc.mjs';
import { killAndAwaitRestart } from './one-service.mjs';
import { GoGate, LOG_END, StartFeed, writeServicePrograms } from './services.mjs';
import { nowMs, sleep, summarize } from './stats.mjs';

/** Every mark handed out, so an interrupted run can still KILL what it started. */
export const marksUsed = [];
let markCounter = 0;

/** A scratch dir, its start feed and service programs, and the mark for this scenario. */
export function makeContext(label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `immortal-bench-${label}-`));
  const tag = `immortal-bench-${process.pid}-${++markCounter}-${label}`;
  marksUsed.push(tag);
  let feed;
  let gate;
  try {
    feed = new StartFeed(dir);
    gate = new GoGate(dir);
  } catch (err) {
    feed?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const programs = writeServicePrograms(dir, feed.path, gate.path);
  const env = { ...process.env, BENCH_MARK: tag };
  delete env.BENCH_SERVICE;
  return { dir, env, mark: ['BENCH_MARK', tag], feed, gate, programs };
}

export function disposeContext(ctx) {
  ctx.feed.close();
  ctx.gate.close();
  killMarked(...ctx.mark);
  fs.rmSync(ctx.dir, { recursive: true, force: true });
}

function failure(err) {
  return { na: String(err?.message ?? err).split('\n')[0].slice(0, 160) };
}

/** Runs body(adapter, ctx) between start and stop; stop and cleanup happen whatever happens. */
async function withSupervisor(Supervisor, label, services, body, startOptions) {
  let ctx;
  try {
    ctx = makeContext(`${Supervisor.id}-${label}`);
  } catch (err) {
    return failure(err);
  }
  const adapter = new Supervisor(ctx);
  let result;
  try {
    ctx.startedAt = nowMs();
    await adapter.start(services(ctx), startOptions?.(ctx));
    result = await body(adapter, ctx);
  } catch (err) {
    result = failure(err);
  } finally {
    let leftovers = 0;
    try {
      leftovers = await adapter.stop();
    } catch {
      leftovers = killMarked(...ctx.mark);
    }
    if (leftovers > 0 && result && !result.na) result.forcedKills = leftovers;
    disposeContext(ctx);
  }
  return result;
}

// ---- one idle service per supervisor, side by side: memory, status queries, restarts -------

/** One wall-time sample of a command that must succeed. */
function timeCommandOnce({ file, args, env }) {
  const started = nowMs();
  const result = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  const elapsed = nowMs() - started;
  if (result.status !== 0) {
    throw new Error(`${path.basename(file)} ${args.join(' ')}: exit ${result.status} ${String(result.stderr || result.stdout).trim()}`);
  }
  return elapsed;
}

/** `list` starting at position `round` (mod its length): no one always goes first. */
function rotated(list, round) {
  const k = list.length === 0 ? 0 : round % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * Samples in rounds: while keepGoing(round), every run not failed yet gets sample(run) once,
 * in an order rotating by round; a throw ends that run's sampling (kept as run.error).
 */
async function inTurns(runs, keepGoing, sample) {
  for (let round = 0; keepGoing(round); round++) {
    for (const run of rotated(runs, round)) {
      if (run.error) continue;
      try {
        await sample(run);
      } catch (err) {
        run.error = err;
      }
    }
  }
}

/**
 * Every supervisor runs its one idle service at the same time, and every kind of sample is
 * taken of each in turn (the order rotating by round), so that all of them see the same
 * moments of the machine. Measured one after the other in their own minutes (as before the
 * thirteenth round), ten kills each, one build's restart p50 moved by ±0.5 ms between runs on
 * this VM: more than the supervisors differ (docs/performance.md, tenth round).
 * Returns { [id]: result }; a supervisor that fails drops out with {na} where it failed.
 */
export async function measureOneServiceSideBySide(Supervisors, opts) {
  const name = 'svc1';
  const columns = Supervisors.map((Supervisor) => ({ Supervisor, id: Supervisor.id, result: {} }));
  const live = () => columns.filter((c) => c.failed === undefined);
  const fail = (column, err, keys) => {
    column.failed = failure(err);
    for (const key of keys) column.result[key] ??= column.failed;
  };
  const ALL = ['idle', 'statusCli', 'statusCliVsNode', 'statusApi', 'restart'];
  try {
    for (const column of columns) {
      try {
        column.ctx = makeContext(`${column.id}-one`);
        column.adapter = new column.Supervisor(column.ctx);
        column.ctx.startedAt = nowMs();
        await column.adapter.start([{ name, argv: [column.ctx.programs.idle, name] }]);
      } catch (err) {
        fail(column, err, ALL);
      }
    }
    for (const column of live()) {
      try {
        column.current = await column.ctx.feed.next(name, 60000);
      } catch (err) {
        fail(column, err, ALL);
      }
    }

    await sleep(opts.settleMs);
    for (const column of live()) {
      const memory = supervisorMemory(...column.ctx.mark);
      column.result.idle = { rssKb: memory.rssKb, pssKb: memory.pssKb, processes: memory.processes, names: memory.names };
      column.pids = supervisorPids(...column.ctx.mark);
    }

    await statusClisSideBySide(live(), name, opts);
    await statusApisSideBySide(live(), name, opts);
    await restartsSideBySide(live(), name, opts);
  } finally {
    for (const column of columns.filter((c) => c.ctx)) {
      let leftovers = 0;
      try {
        leftovers = column.adapter ? await column.adapter.stop() : 0;
      } catch {
        leftovers = killMarked(...column.ctx.mark);
      }
      if (leftovers > 0) column.result.forcedKills = leftovers;
      disposeContext(column.ctx);
    }
  }
  return Object.fromEntries(columns.map((c) => [c.id, c.result]));
}

/**
 * Each CLI right after a `node -e 0` of its own, the pairs in rounds (every supervisor once
 * a round): each ratio is to a floor sampled in the same moments, just before. Up to
 * opts.cliCount rounds, at least 10, within opts.cliBudgetMs per supervisor.
 */
async function statusClisSideBySide(columns, name, opts) {
  const runs = columns.map((column) => ({ column, command: column.adapter.statusCli(name), samples: [], node: [] }));
  const deadline = nowMs() + opts.cliBudgetMs * Math.max(1, runs.length);
  await inTurns(runs, (round) => round < opts.cliCount && (round < 10 || nowMs() < deadline), (run) => {
    run.node.push(timeCommandOnce({ file: process.execPath, args: ['-e', '0'], env: run.command.env }));
    run.samples.push(timeCommandOnce(run.command));
  });
  for (const { column, command, samples, node, error } of runs) {
    if (error) {
      column.result.statusCli = failure(error);
      column.result.statusCliVsNode = column.result.statusCli;
      continue;
    }
    const floor = summarize(node);
    column.result.statusCli = { ...summarize(samples), command: [path.basename(command.file), ...command.args.map((a) => path.basename(a))].join(' ') };
    column.result.statusCliVsNode = { ratio: column.result.statusCli.p50 / floor.p50, nodeP50: floor.p50, cliP50: column.result.statusCli.p50 };
  }
}

/** One status query of each supervisor per round (a fresh connection each), after one to warm. */
async function statusApisSideBySide(columns, name, opts) {
  const queries = [];
  for (const column of columns) {
    if (column.adapter.statusApiBatch) {
      // pm2's API runs in a child of its own (pm2-probe.mjs): its samples cannot be interleaved.
      try {
        const samples = column.adapter.statusApiBatch(name, opts.apiCount);
        column.result.statusApi = samples ? summarize(samples) : { na: 'pm2 module not found for its API' };
      } catch (err) {
        column.result.statusApi = failure(err);
      }
      continue;
    }
    const query = column.adapter.statusApi(name);
    if (!query) {
      column.result.statusApi = { na: 'no programmatic status' };
      continue;
    }
    try {
      await query();
      queries.push({ column, query, samples: [] });
    } catch (err) {
      column.result.statusApi = failure(err);
    }
  }
  const deadline = nowMs() + opts.apiBudgetMs * Math.max(1, queries.length);
  await inTurns(queries, (round) => round < opts.apiCount && nowMs() < deadline, async (run) => {
    const started = nowMs();
    await run.query();
    run.samples.push(nowMs() - started);
  });
  for (const { column, samples, error } of queries) column.result.statusApi = error ? failure(error) : summarize(samples);
}

/**
 * opts.restarts rounds; in each, every supervisor's service is killed with SIGKILL in turn
 * once it has run opts.restartAgeMs (every supervisor here waits until 1 s after a start
 * before the next one), and the next one waits for its new process to announce itself plus
 * opts.restartGapMs, so that a supervisor's bookkeeping after its restart never overlaps
 * another's. Latency = kill → the new process announces itself. CPU per restart: every
 * thread of the supervisor's processes from just before the kill to the end of that gap.
 */
async function restartsSideBySide(columns, name, opts) {
  const runs = columns.map((column) => ({ column, latencies: [], cpuNs: 0 }));
  await inTurns(runs, (round) => round < opts.restarts, async (run) => {
    const { column } = run;
    let cpuBefore;
    const { next, latency } = await killAndAwaitRestart(column.ctx.feed, name, column.current, {
      minAgeMs: opts.restartAgeMs,
      beforeKill: () => (cpuBefore = cpuSnapshotOf(column.pids)),
    });
    column.current = next;
    run.latencies.push(latency);
    await sleep(opts.restartGapMs);
    run.cpuNs += cpuNsBetween(cpuBefore, cpuSnapshotOf(column.pids));
  });
  for (const { column, latencies, cpuNs, error } of runs) {
    if (latencies.length === 0) {
      column.result.restart = failure(error);
      continue;
    }
    column.result.restart = { ...summarize(latencies), cpuMsPerRestart: cpuNs / 1e6 / latencies.length };
    if (error) column.result.restart.partial = failure(error).na;
  }
}

// ---- log throughput -------------------------------------------------------------------------

async function waitForBytes(target, bytes, timeoutMs) {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    const have = bytesIn(target);
    if (have >= bytes) return nowMs();
    if (nowMs() > deadline) throw new Error(`timeout: ${(have / 1e6).toFixed(0)} of ${(bytes / 1e6).toFixed(0)} MB after ${timeoutMs / 1000} s`);
    await sleep(5);
  }
}

/**
 * Every log measurement starts with the same memory: freshly freed, already backed by the
 * host. On a virtual machine with free page reporting (virtio-balloon, as here) memory the
 * guest frees goes back to the host after a moment, and the first write into such a page is
 * ~10× dearer (2.4 against 0.2 ms per MB written into the page cache, measured here).
 * Without this, a log figure depended on how much the measurement before it had just freed,
 * and a stamped log (1.25 GB of output for 1 GB of input) paid for its cold quarter alone.
 * A short-lived process touches `bytes` (at most what is available less 1 GiB) and exits.
 */
function warmFreeMemory(bytes) {
  const available = /MemAvailable:\s+(\d+) kB/.exec(readOr('/proc/meminfo', ''));
  if (!available) return;
  const touch = Math.min(bytes, Number(available[1]) * 1024 - 2 ** 30);
  if (touch <= 0) return;
  const chunk = 2 ** 28;
  const program = `const kept = []; for (let left = ${touch}; left > 0; left -= ${chunk}) kept.push(Buffer.allocUnsafeSlow(Math.min(left, ${chunk})).fill(1));`;
  spawnSync(process.execPath, ['-e', program], { stdio: 'ignore' });
}

function readOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Output a log measurement writes, with room for timestamps and a rotated file. */
const warmBytesFor = (logBytes) => 2 * logBytes;

/** The baseline: the same generator with its stdout redirected to a file by the shell. */
async function measureDirectLog(opts) {
  let ctx;
  try {
    ctx = makeContext('direct-log');
  } catch (err) {
    return failure(err);
  }
  try {
    const file = path.join(ctx.dir, 'direct.log');
    const fd = fs.openSync(file, 'a');
    const child = spawn(ctx.programs.gen, ['direct', String(opts.logBytes)], { env: ctx.env, stdio: ['ignore', fd, 'ignore'] });
    fs.closeSync(fd);
    child.on('error', () => {});
    await ctx.feed.next('direct', 30000);
    warmFreeMemory(warmBytesFor(opts.logBytes));
    const startedAt = ctx.gate.open();
    const done = await waitForBytes(file, opts.logBytes, opts.logTimeoutMs);
    const seconds = (done - startedAt) / 1000;
    return { seconds, mbPerSecond: opts.logBytes / 1e6 / seconds };
  } catch (err) {
    return failure(err);
  } finally {
    disposeContext(ctx);
  }
}

export async function measureLog(Supervisor, opts, { timestamp = false } = {}) {
  const name = 'log1';
  if (timestamp && Supervisor.timestamps === false) return { na: 'no timestamp option for a program\'s output' };
  return withSupervisor(
    Supervisor,
    timestamp ? 'logts' : 'log',
    (ctx) => [{ name, argv: [ctx.programs.gen, name, String(opts.logBytes)], log: true, timestamp }],
    async (adapter, ctx) => {
      await ctx.feed.next(name, 60000);
      warmFreeMemory(warmBytesFor(opts.logBytes));
      const cpuBefore = supervisorCpuSnapshot(...ctx.mark);
      const startedAt = ctx.gate.open();
      // A timestamp makes every line longer, by a length that may vary: with one, the log
      // is complete once its last line is the generator's last line.
      const done = timestamp
        ? await waitForEnd(adapter.logTarget(name), opts.logBytes, opts.logTimeoutMs)
        : await waitForBytes(adapter.logTarget(name), opts.logBytes, opts.logTimeoutMs);
      const seconds = (done - startedAt) / 1000;
      // CPU the supervisor processes spent per MB moved (load-robust, unlike MB/s).
      const cpuMsPerMb = cpuNsBetween(cpuBefore, supervisorCpuSnapshot(...ctx.mark)) / 1e6 / (opts.logBytes / 1e6);
      return { seconds, mbPerSecond: opts.logBytes / 1e6 / seconds, cpuMsPerMb };
    },
  );
}

/**
 * Log throughput in rounds: each round measures the direct redirect, then every supervisor
 * in turn (the order rotating by round), each on a fresh start, without and with timestamps
 * as `parts` asks. One 1 GB measurement moves by a third or more from one minute to the next
 * on this VM (the same build: 573, 778 and 960 MB/s in three runs), whatever the supervisor;
 * the median of three, taken in the same rounds as the others' and the direct redirect's,
 * is what can be compared. A measurement that took over opts.logSlowMs (the peers an order of
 * magnitude behind) or failed is not repeated. Returns { direct, results: { [id]: { log, logTs } } }.
 */
export async function measureLogsInRounds(Supervisors, opts, parts) {
  const kinds = [...(parts.log ? [['log', false]] : []), ...(parts.logTs ? [['logTs', true]] : [])];
  const directs = [];
  const rounds = Object.fromEntries(Supervisors.map((S) => [S.id, { log: [], logTs: [] }]));
  const done = new Set();
  for (let round = 0; round < opts.logRounds; round++) {
    directs.push(await measureDirectLog(opts));
    for (const Supervisor of rotated(Supervisors, round)) {
      for (const [key, timestamp] of kinds) {
        if (done.has(`${Supervisor.id}/${key}`)) continue;
        const result = await measureLog(Supervisor, opts, { timestamp });
        rounds[Supervisor.id][key].push(result);
        if (result.na || result.seconds * 1000 > opts.logSlowMs) done.add(`${Supervisor.id}/${key}`);
      }
    }
  }
  const results = {};
  for (const Supervisor of Supervisors) {
    results[Supervisor.id] = {};
    for (const [key] of kinds) results[Supervisor.id][key] = medianRound(rounds[Supervisor.id][key]);
  }
  return { direct: medianRound(directs), results };
}

/** The round of median throughput, with every round's MB/s; a failure if none succeeded. */
function medianRound(list) {
  const measured = list.filter((r) => !r.na).sort((a, b) => a.mbPerSecond - b.mbPerSecond);
  if (measured.length === 0) return list[list.length - 1] ?? { na: 'not measured' };
  const median = measured[Math.floor((measured.length - 1) / 2)];
  return { ...median, rounds: measured.map((r) => r.mbPerSecond) };
}

/** Resolves (with the time) once the log holds at least `bytes` and ends with LOG_END. */
async function waitForEnd(target, bytes, timeoutMs) {
  const deadline = nowMs() + timeoutMs;
  let lastSize = -1;
  for (;;) {
    const have = bytesIn(target);
    if (have >= bytes && have !== lastSize) {
      lastSize = have;
      if (lastLine(target)?.endsWith(LOG_END)) return nowMs();
    }
    if (nowMs() > deadline) throw new Error(`timeout: ${(have / 1e6).toFixed(0)} MB, no last line after ${timeoutMs / 1000} s`);
    await sleep(5);
  }
}

/** The last complete line of a log file, or of a log directory's `current`. */
function lastLine(target) {
  try {
    const file = fs.statSync(target).isDirectory() ? path.join(target, 'current') : target;
    const fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, 512);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    fs.closeSync(fd);
    const text = buffer.toString('latin1');
    if (!text.endsWith('\n')) return undefined;
    return text.slice(text.lastIndexOf('\n', text.length - 2) + 1, -1);
  } catch {
    return undefined;
  }
}

// ---- following a daemon's pid ---------------------------------------------------------------

/** Lines of the supervisor's stderr, awaitable by pattern. */
class LineWatch {
  constructor() {
    this.lines = [];
    this.waiters = [];
  }

  push = (line) => {
    const at = nowMs();
    for (const waiter of [...this.waiters]) {
      const match = waiter.pattern.exec(line);
      if (match) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve({ match, at });
        return;
      }
    }
    this.lines.push({ line, at });
  };

  next(pattern, timeoutMs) {
    const index = this.lines.findIndex((entry) => pattern.test(entry.line));
    if (index >= 0) {
      const [entry] = this.lines.splice(index, 1);
      return Promise.resolve({ match: pattern.exec(entry.line), at: entry.at });
    }
    return new Promise((resolve, reject) => {
      const waiter = { pattern, resolve: (v) => (clearTimeout(timer), resolve(v)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

/**
 * The service daemonizes (its first process exits, the pidfile names the background one).
 * kill -9 the followed pid; latency = kill → the supervisor's "pid N exited" line.
 */
export async function measureFollow(Supervisor, opts) {
  if (!Supervisor.follows) return { na: 'no pid-file following' };
  const name = 'fol1';
  const watch = new LineWatch();
  return withSupervisor(
    Supervisor,
    'follow',
    (ctx) => {
      const pidfile = path.join(ctx.dir, 'fol1.pid');
      return [{ name, argv: [ctx.programs.daemon, name, pidfile], follow: pidfile }];
    },
    async () => {
      const latencies = [];
      for (let i = 0; i < opts.follows; i++) {
        const following = await watch.next(/following pid (\d+)/, 20000);
        const pid = Number(following.match[1]);
        await sleep(200);
        watch.lines.length = 0;
        const killedAt = nowMs();
        process.kill(pid, 'SIGKILL');
        const exited = await watch.next(new RegExp(`pid ${pid} exited`), 10000);
        latencies.push(exited.at - killedAt);
      }
      return summarize(latencies);
    },
    () => ({ onLine: watch.push }),
  );
}

/**
 * The followed pid is killed; latency = kill → the daemon program announces its next start
 * (the supervisor noticed the exit and ran the command again). Seen through the start feed,
 * so it needs nothing from the supervisor's own output.
 */
export async function measureFollowRestart(Supervisor, opts) {
  if (!Supervisor.followRestarts) return { na: 'no pid-file following' };
  const name = 'fol2';
  return withSupervisor(
    Supervisor,
    'follow-restart',
    (ctx) => [{ name, argv: [ctx.programs.daemon, name, path.join(ctx.dir, 'fol2.pid')], follow: path.join(ctx.dir, 'fol2.pid') }],
    async (adapter, ctx) => {
      const latencies = [];
      let current = await ctx.feed.next(name, 20000);
      try {
        for (let i = 0; i < opts.follows; i++) {
          const age = nowMs() - current.at;
          if (age < opts.restartAgeMs) await sleep(opts.restartAgeMs - age);
          ctx.feed.drain(name);
          const killedAt = nowMs();
          process.kill(current.pid, 'SIGKILL');
          current = await ctx.feed.next(name, 20000);
          latencies.push(current.at - killedAt);
        }
      } catch (err) {
        if (latencies.length === 0) throw err;
        return { ...summarize(latencies), partial: failure(err).na };
      }
      return summarize(latencies);
    },
  );
}

// ---- ten idle services: memory per supervised service --------------------------------------

/**
 * Ten idle services; per service: PSS, anonymous RSS and RSS of the supervisor processes,
 * `settleMs` after the last start; and, for Node.js supervisors, once idle (settledMemory):
 * V8's memory reducer shrinks an idle heap once, 15-50 s after start-up (a standalone
 * immortal: 12 → 9.6 MiB anonymous; when varies with the load), so that second reading is
 * what a long-running supervisor costs.
 */
export async function measureTen(Supervisor, opts) {
  const names = Array.from({ length: 10 }, (_, i) => `ten${i + 1}`);
  return withSupervisor(
    Supervisor,
    'ten',
    (ctx) => names.map((name) => ({ name, argv: [ctx.programs.idle, name] })),
    async (adapter, ctx) => {
      await ctx.feed.all(names, 120000);
      const allUp = nowMs();
      await sleep(opts.settleMs);
      const n = names.length;
      const perService = (memory) => ({ pssKb: memory.pssKb / n, anonKb: memory.anonKb / n, rssKb: memory.rssKb / n });
      const early = supervisorMemory(...ctx.mark);
      const result = { count: n, ...perService(early), processes: early.processes, names: early.names };
      if (Supervisor.reducesIdleHeap) {
        result.steady = { ...perService(await settledMemory(ctx, allUp + opts.steadyFromMs, allUp + opts.steadyUntilMs)), fromMs: opts.steadyFromMs, untilMs: opts.steadyUntilMs };
      }
      return result;
    },
  );
}

/**
 * What a Node.js supervisor costs once idle: each supervisor process's memory every 2 s
 * until `untilMs`, the median of the readings from `fromMs` on, summed over the processes.
 * By then V8's memory reducer has shrunk the heap (~8 s after start), the first look at each
 * supervise dir has run (60 s) and immortal has released its start-up memory after it (65 s,
 * src/process/release-memory.ts). Not the least reading: with the release at 30 s, that one
 * caught a dip before the first look mapped V8's parser back in (immortaldir with 100
 * services: 15.6 MiB PSS at its least, 20.0 MiB from then on; docs/performance.md,
 * "Twelfth round").
 */
async function settledMemory(ctx, fromMs, untilMs) {
  // Nothing is read before the window: each look scans every process in /proc.
  await sleep(Math.max(0, fromMs - nowMs()));
  const readings = new Map();
  while (nowMs() < untilMs) {
    for (const pid of supervisorPids(...ctx.mark)) {
      const memory = memoryKb(pid);
      if (!memory) continue;
      if (!readings.has(pid)) readings.set(pid, []);
      readings.get(pid).push(memory);
    }
    await sleep(2000);
  }
  const median = (values) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  const sum = (key) => [...readings.values()].reduce((total, list) => total + median(list.map((m) => m[key])), 0);
  return { pssKb: sum('pss'), anonKb: sum('anon'), rssKb: sum('rss') };
}

// ---- 100 idle services ----------------------------------------------------------------------

export async function measureHundred(Supervisor, opts) {
  const names = Array.from({ length: opts.hundred }, (_, i) => `svc${String(i + 1).padStart(3, '0')}`);
  return withSupervisor(
    Supervisor,
    'hundred',
    (ctx) => names.map((name) => ({ name, argv: [ctx.programs.idle, name] })),
    async (adapter, ctx) => {
      await ctx.feed.all(names, opts.hundredTimeoutMs);
      const allUp = nowMs();
      const allUpMs = allUp - ctx.startedAt;
      await sleep(opts.settleMs);
      const memory = supervisorMemory(...ctx.mark);
      const result = { count: names.length, allUpMs, rssKb: memory.rssKb, pssKb: memory.pssKb, anonKb: memory.anonKb, processes: memory.processes, names: memory.names };
      if (Supervisor.reducesIdleHeap) result.steady = { ...(await settledMemory(ctx, allUp + opts.steadyFromMs, allUp + opts.steadyUntilMs)), fromMs: opts.steadyFromMs, untilMs: opts.steadyUntilMs };
      return result;
    },
  );
}

// ---- calibration ----------------------------------------------------------------------------

/**
 * The floor under every latency here: kill -9 a child of the bench itself → its exit event
 * in this Node.js process. On a busy machine this is mostly scheduling, and no supervisor
 * (itself a separate process reporting through a pipe or a FIFO) can beat it.
 */
export async function measureFloor(count) {
  const samples = [];
  try {
    for (let i = 0; i < count; i++) {
      const child = spawn('sleep', ['100'], { stdio: 'ignore' });
      const spawnError = new Promise((resolve, reject) => child.on('error', reject));
      await Promise.race([sleep(100), spawnError]);
      const exited = new Promise((resolve) => child.on('exit', () => resolve(nowMs())));
      const killedAt = nowMs();
      child.kill('SIGKILL');
      samples.push((await Promise.race([exited, spawnError, sleep(5000).then(() => Promise.reject(new Error('no exit event')))])) - killedAt);
    }
  } catch (err) {
    return failure(err);
  }
  return summarize(samples);
}
