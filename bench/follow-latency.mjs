#!/usr/bin/env node
// How fast does immortal notice that a followed pid (-f) has exited?
//
//   node bench/follow-latency.mjs [trials]        (default 200 per mode; build first: npx tsc -p .)
//
// Method (end to end, through the real CLI, nothing inside immortal is instrumented):
//   * `immortal -n -ctl bench -f <pidfile> python3 keeper.py` runs once per mode: with the
//     default exit watch (pidfd on Linux, kqueue on BSD/macOS) and with IMMORTAL_WATCH=poll,
//     the kill(pid, 0) fallback that checks every 100 ms.
//   * keeper.py daemonizes (double fork; as subreaper immortal stays its ancestor) and keeps
//     one child "sleeper" (`sleep`, exec'd) alive at a time: it writes the sleeper's pid to
//     the pidfile, reaps it when it dies and immediately starts the next one. immortal
//     follows the sleeper. The sleeper is a small exec'd program on purpose: the kernel
//     needs several ms to tear down a killed python or node process, which would be counted
//     against the supervisor although no supervisor can see an exit before it happened.
//   * One trial: wait for immortal's log line "following pid P", wait a random 0-100 ms (so
//     the kill lands at a random phase of the polling timer), note t0 = performance.now()
//     and SIGKILL P; t1 is the moment immortal's log line "pid P exited" arrives on our
//     stderr pipe. latency = t1 - t0.
//   * So each figure includes signal delivery and the teardown of the killed process, the
//     supervisor's reaction, and one pipe hop back to us: an upper bound of the detection
//     latency, not a flattering lower one. The first 5 trials of each mode are warm-up and
//     are not counted.
//   * A reference row measures the same thing for node and its own child (spawn, SIGKILL,
//     'exit' event): the floor this machine sets at this moment, to read the others against.
// Output: a markdown table with p50/p90/p99/max per mode and the poll/event ratio.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'dist', 'cli', 'immortal.js');
const TRIALS = Number(process.argv[2] ?? 200);
const WARMUP = 5;
const PYTHON = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout?.trim() || 'python3';

const KEEPER = String.raw`
import os, signal, sys
pidfile, keeperfile = sys.argv[1], sys.argv[2]
if os.fork() > 0:
    os.wait(); os._exit(0)
os.setsid()
if os.fork() > 0:
    os._exit(0)
devnull = os.open('/dev/null', os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(devnull, fd)
def write(path, text):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, path)
write(keeperfile, '%d\n' % os.getpgrp())
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
while True:
    sleeper = os.fork()
    if sleeper == 0:
        os.execvp('sleep', ['sleep', '100000'])
    write(pidfile, '%d\n' % sleeper)
    os.waitpid(sleeper, 0)
`;

function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** Lines of a stream, each handed to every current listener with its arrival time. */
function lineEvents(stream) {
  const listeners = new Set();
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const at = performance.now();
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) for (const listener of [...listeners]) listener(line, at);
  });
  return {
    /** Resolves {match, at} for the first line matching re, or rejects after timeoutMs. */
    next(re, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`no "${what}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (line, at) => {
          const match = re.exec(line);
          if (!match) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve({ match, at });
        };
        listeners.add(listener);
      });
    },
  };
}

async function runMode(label, watchEnv, dir) {
  const modeDir = fs.mkdtempSync(path.join(dir, 'mode-'));
  const pidfile = path.join(modeDir, 'sleeper.pid');
  const keeperfile = path.join(modeDir, 'keeper.pid');
  const keeperScript = path.join(modeDir, 'keeper.py');
  fs.writeFileSync(keeperScript, KEEPER);
  const env = { ...process.env, HOME: modeDir, IMMORTAL_SDIR: path.join(modeDir, 'sdir') };
  delete env.IMMORTAL_WATCH;
  if (watchEnv) env.IMMORTAL_WATCH = watchEnv;
  const immortal = spawn(process.execPath, [CLI, '-n', '-ctl', 'bench', '-f', pidfile, PYTHON, keeperScript, pidfile, keeperfile], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => immortal.on('exit', (code, signal) => resolve(code ?? signal)));
  const log = lineEvents(immortal.stderr);
  const latencies = [];
  try {
    let following = await log.next(/following pid (\d+)/, 10000, 'following pid');
    for (let trial = 0; trial < TRIALS + WARMUP; trial++) {
      const pid = Number(following.match[1]);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100));
      // Listening before the kill: the next "following" line may come right after "exited".
      // Awaited after the last trial too, so immortal is following (not searching) when it
      // is told to stop, and takes the keeper's process group down with it.
      const nextFollow = log.next(/following pid (\d+)/, 10000, 'following the next sleeper');
      const exitLine = log.next(new RegExp(`pid ${pid} exited`), 5000, `pid ${pid} exited`);
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      const { at } = await exitLine;
      if (trial >= WARMUP) latencies.push(at - t0);
      following = await nextFollow;
    }
  } finally {
    immortal.kill('SIGTERM');
    let timer;
    const code = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), 15000); })]);
    clearTimeout(timer);
    if (code === 'timeout') immortal.kill('SIGKILL');
    else if (code !== 0) process.stderr.write(`immortal (${label}) exited with ${code}\n`);
    try {
      // The keeper's process group: keeper and sleeper. Normally gone already.
      process.kill(-Number(fs.readFileSync(keeperfile, 'utf8')), 'SIGKILL');
    } catch {
      // stopped with immortal, as it should be
    }
  }
  return summarize(label, latencies);
}

/**
 * The floor on this machine right now: node noticing the SIGKILL of its own child (SIGCHLD,
 * waitpid, 'exit' event), measured the same way. What immortal adds is the rest.
 */
async function baseline() {
  const latencies = [];
  for (let trial = 0; trial < TRIALS + WARMUP; trial++) {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    const exited = new Promise((resolve) => child.once('exit', () => resolve(performance.now())));
    const t0 = performance.now();
    child.kill('SIGKILL');
    const at = await exited;
    if (trial >= WARMUP) latencies.push(at - t0);
  }
  return summarize('reference: node sees its own child die', latencies);
}

function summarize(label, latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    label,
    trials: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1),
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
  };
}

const fmt = (ms) => ms.toFixed(2);

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: build first (npx tsc -p .)`);
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'immortal-follow-bench-'));
  try {
    const event = await runMode(process.platform === 'linux' ? 'pidfd (default)' : 'kqueue (default)', undefined, dir);
    const poll = await runMode('poll fallback (IMMORTAL_WATCH=poll, 100 ms)', 'poll', dir);
    const floor = await baseline();
    const rows = [event, poll, floor];
    const out = [];
    out.push(`Follow exit-detection latency: SIGKILL of the followed pid → immortal's "pid N exited" line (ms)`);
    out.push(`${os.type()} ${os.release()}, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    out.push('');
    out.push('| mode | trials | p50 | p90 | p99 | max | mean |');
    out.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows.slice(0, 2)) out.push(`| ${r.label} | ${r.trials} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${fmt(r.mean)} |`);
    out.push(`| ratio poll / ${event.label.split(' ')[0]} | | ${(poll.p50 / event.p50).toFixed(1)}× | ${(poll.p90 / event.p90).toFixed(1)}× | ${(poll.p99 / event.p99).toFixed(1)}× | ${(poll.max / event.max).toFixed(1)}× | ${(poll.mean / event.mean).toFixed(1)}× |`);
    out.push(`| ${floor.label} | ${floor.trials} | ${fmt(floor.p50)} | ${fmt(floor.p90)} | ${fmt(floor.p99)} | ${fmt(floor.max)} | ${fmt(floor.mean)} |`);
    out.push('');
    out.push(`target p99 < 5 ms for the event path: ${event.p99 < 5 ? 'met' : 'NOT met'} (${fmt(event.p99)} ms)`);
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`follow-latency: ${err.stack ?? err}\n`);
  process.exit(1);
});
