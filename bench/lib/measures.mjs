// The measurements, each run against one supervisor adapter in a fresh scratch directory.
// A measurement that cannot run (tool missing, timeout, error) returns {na: reason}; it
// never throws, so one broken part never stops the others.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bytesIn, cpuNsBetween, killMarked, markedProcesses, memoryKb, supervisorCpuSnapshot, supervisorMemory } from './proc.mjs';
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

// ---- one idle service: memory, status queries, restart latency ------------------------------

/** Samples of one command's wall time, up to `count` or `budgetMs`, at least `min`. */
function timeCommand({ file, args, env }, { count, budgetMs, min = 10 }) {
  const samples = [];
  const deadline = nowMs() + budgetMs;
  while (samples.length < count && (samples.length < min || nowMs() < deadline)) {
    const started = nowMs();
    const result = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
    const elapsed = nowMs() - started;
    if (result.status !== 0) {
      throw new Error(`${path.basename(file)} ${args.join(' ')}: exit ${result.status} ${String(result.stderr || result.stdout).trim()}`);
    }
    samples.push(elapsed);
  }
  return samples;
}

/**
 * The CLI and `node -e 0` run alternately, so both see the same load: their ratio is what a
 * loaded machine can still compare. Returns both sample lists.
 */
function timeCommandBeside(command, { count, budgetMs, min = 10 }) {
  const nodeFloor = { file: process.execPath, args: ['-e', '0'], env: command.env };
  const cli = [];
  const node = [];
  const deadline = nowMs() + budgetMs;
  while (cli.length < count && (cli.length < min || nowMs() < deadline)) {
    cli.push(...timeCommand(command, { count: 1, budgetMs: 0, min: 1 }));
    node.push(...timeCommand(nodeFloor, { count: 1, budgetMs: 0, min: 1 }));
  }
  return { cli, node };
}

async function timeQuery(query, { count, budgetMs }) {
  await query(); // first connection, caches warm
  const samples = [];
  const deadline = nowMs() + budgetMs;
  while (samples.length < count && nowMs() < deadline) {
    const started = nowMs();
    await query();
    samples.push(nowMs() - started);
  }
  return samples;
}

export async function measureOneService(Supervisor, opts) {
  const name = 'svc1';
  return withSupervisor(Supervisor, 'one', (ctx) => [{ name, argv: [ctx.programs.idle, name] }], async (adapter, ctx) => {
    const out = {};
    let current = await ctx.feed.next(name, 60000);
    await sleep(opts.settleMs);
    const memory = supervisorMemory(...ctx.mark);
    out.idle = { rssKb: memory.rssKb, pssKb: memory.pssKb, processes: memory.processes, names: memory.names };

    try {
      const { cli, node } = timeCommandBeside(adapter.statusCli(name), { count: opts.cliCount, budgetMs: opts.cliBudgetMs });
      out.statusCli = summarize(cli);
      out.statusCli.command = [path.basename(adapter.statusCli(name).file), ...adapter.statusCli(name).args.map((a) => path.basename(a))].join(' ');
      const floor = summarize(node);
      out.statusCliVsNode = { ratio: out.statusCli.p50 / floor.p50, nodeP50: floor.p50, cliP50: out.statusCli.p50 };
    } catch (err) {
      out.statusCli = failure(err);
      out.statusCliVsNode = out.statusCli;
    }

    try {
      if (adapter.statusApiBatch) {
        const samples = adapter.statusApiBatch(name, opts.apiCount);
        out.statusApi = samples ? summarize(samples) : { na: 'pm2 module not found for its API' };
      } else {
        const query = adapter.statusApi(name);
        out.statusApi = query ? summarize(await timeQuery(query, { count: opts.apiCount, budgetMs: opts.apiBudgetMs })) : { na: 'no programmatic status' };
      }
    } catch (err) {
      out.statusApi = failure(err);
    }

    // kill -9 the service once it has run 1.5 s (every supervisor here waits until 1 s
    // after a start before the next one): latency = kill → the new process announces itself.
    const latencies = [];
    // The supervisors' CPU time over the kills (the waits between them cost ~nothing idle).
    const cpuBefore = supervisorCpuSnapshot(...ctx.mark);
    try {
      for (let i = 0; i < opts.restarts; i++) {
        const age = nowMs() - current.at;
        if (age < opts.restartAgeMs) await sleep(opts.restartAgeMs - age);
        ctx.feed.drain(name);
        const killedAt = nowMs();
        process.kill(current.pid, 'SIGKILL');
        current = await ctx.feed.next(name, 20000);
        latencies.push(current.at - killedAt);
      }
      out.restart = summarize(latencies);
      out.restart.cpuMsPerRestart = cpuNsBetween(cpuBefore, supervisorCpuSnapshot(...ctx.mark)) / 1e6 / latencies.length;
    } catch (err) {
      out.restart = latencies.length > 0 ? { ...summarize(latencies), partial: failure(err).na } : failure(err);
    }
    return out;
  });
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
export async function measureDirectLog(opts) {
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
    for (const { pid } of markedProcesses(...ctx.mark).filter((p) => !p.service)) {
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
