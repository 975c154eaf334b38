#!/usr/bin/env node
// Benchmark of immortaldir (not a test): memory and start time for 10, 100 and 1000 trivial
// services (`sleep 3600`), and how long a change to one file takes to be running with 1000.
//
//   npx tsc -p . && node bench/immortaldir.mjs [counts…]      (default: 10 100 1000)
//   IMMORTAL_BENCH_NODE_FLAGS='--lite-mode' …   Node/V8 flags for immortaldir, after its #! line's
//
// For each count: a fresh services dir, HOME and IMMORTAL_SDIR under os.tmpdir(); start
// immortaldir; "start" is the time until every service's socket answers with a pid. RSS is
// VmRSS of the immortaldir process from /proc once everything runs and has settled; the
// marginal RSS per service is (RSS_n - RSS_0) / n, RSS_0 measured on an empty dir, and the
// slope is (RSS_n - RSS_previous) / (n - previous n). "reload" (largest count only) is the
// time from renaming a changed file into place until its socket shows the new cmd with a new
// pid: median (and max) of three files. "stop" is SIGTERM until immortaldir has exited. Every
// run ends that way; the bench fails if immortaldir does not exit 0 or any process it
// started survives.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeFlagsFor } from './lib/node-flags.mjs';
import { memoryKb } from './lib/proc.mjs';

const IMMORTALDIR = fileURLToPath(new URL('../dist/cli/immortaldir.js', import.meta.url));
const MARKER = 'IMMORTALDIR_BENCH';
const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (counts.length === 0) counts.push(10, 100, 1000);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function getStatus(socketPath, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/', agent: false, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** promise's value, or undefined after ms (the timer never outlives the wait). */
function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function rssKb(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]);
}

function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Live (non-zombie) processes carrying this run's marker in their environment. */
function markedProcesses(tag) {
  const needle = `${MARKER}=${tag}\0`;
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!`${fs.readFileSync(`/proc/${entry}/environ`, 'latin1')}\0`.includes(needle)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      if (state !== 'Z' && state !== 'X') found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Queries every pending name (at most `concurrency` at once) until all pass `ready`. */
async function waitAll(names, socketOf, ready, { timeout = 120000, concurrency = 64 } = {}) {
  const pending = new Set(names);
  const statuses = new Map();
  const deadline = Date.now() + timeout;
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} services never became ready (e.g. ${[...pending].slice(0, 3)})`);
    const batch = [...pending];
    for (let i = 0; i < batch.length; i += concurrency) {
      await Promise.all(batch.slice(i, i + concurrency).map(async (name) => {
        try {
          const status = await getStatus(socketOf(name));
          if (ready(status)) {
            pending.delete(name);
            statuses.set(name, status);
          }
        } catch {
          // not listening yet
        }
      }));
    }
    if (pending.size > 0) await sleep(pending.size === 1 ? 5 : 20);
  }
  return statuses;
}

async function benchCount(count, { reload }) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `immortaldir-bench-${count}-`));
  const servicesDir = path.join(base, 'services');
  const sdir = path.join(base, 'sdir');
  const home = path.join(base, 'home');
  for (const dir of [servicesDir, sdir, home]) fs.mkdirSync(dir);
  const names = Array.from({ length: count }, (_, i) => `s${String(i).padStart(4, '0')}`);
  for (const name of names) fs.writeFileSync(path.join(servicesDir, `${name}.yml`), 'cmd: sleep 3600\n');
  const socketOf = (name) => path.join(sdir, name, 'immortal.sock');

  const env = { ...process.env, HOME: home, IMMORTAL_SDIR: sdir, [MARKER]: base };
  delete env.IMMORTAL_TEST_RESTART_MS;
  const started = performance.now();
  const proc = spawn(process.execPath, [...nodeFlagsFor(IMMORTALDIR), IMMORTALDIR, servicesDir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.setEncoding('utf8').on('data', (chunk) => {
    log = (log + chunk).slice(-20000);
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const result = { count };
  const pids = new Set();
  try {
    const statuses = await waitAll(names, socketOf, (s) => s.pid > 0 && s.up !== undefined);
    result.startMs = performance.now() - started;
    for (const status of statuses.values()) pids.add(status.pid);
    if (count === 0) await sleep(300); // the empty dir: let the first scan happen
    await sleep(2000); // settle: start-up garbage collected, timers idle
    result.rssKb = rssKb(proc.pid);
    result.memory = memoryKb(proc.pid);
    result.fds = fdCount(proc.pid);

    if (reload) {
      // Three different files, one after the other: median and worst.
      const times = [];
      for (const name of [names[0], names[Math.floor(count / 2)], names[count - 1]]) {
        const before = statuses.get(name);
        const file = path.join(servicesDir, `${name}.yml`);
        const changedAt = performance.now();
        fs.writeFileSync(`${file}.tmp`, 'cmd: sleep 3601\n');
        fs.renameSync(`${file}.tmp`, file);
        const ready = (s) => s.cmd === 'sleep 3601' && s.pid > 0 && s.pid !== before.pid;
        const [after] = (await waitAll([name], socketOf, ready, { concurrency: 1 })).values();
        times.push(performance.now() - changedAt);
        pids.add(after.pid);
      }
      times.sort((x, y) => x - y);
      result.reload = `${times[1].toFixed(0)} ms (max ${times[2].toFixed(0)})`;
    }

    const stopAt = performance.now();
    proc.kill('SIGTERM');
    const exit = await within(exited, 120000);
    result.stopMs = performance.now() - stopAt;
    if (!exit) throw new Error('immortaldir did not exit within 120 s of SIGTERM');
    if (exit.code !== 0) throw new Error(`immortaldir exited with ${JSON.stringify(exit)}; log tail:\n${log}`);
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    const leftovers = markedProcesses(base);
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
    if (leftovers.length > 0) throw new Error(`${leftovers.length} processes left behind (killed): ${leftovers.slice(0, 10)}`);
  }
  const stillAlive = [...pids].filter((pid) => fs.existsSync(`/proc/${pid}`));
  if (stillAlive.length > 0) throw new Error(`service pids alive after exit: ${stillAlive.slice(0, 10)}`);
  return result;
}

function table(rows, baseline) {
  const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
  const out = [
    '| services | start (all answering) | RSS | marginal RSS / service | slope from previous row | fds | reload one file | stop all (SIGTERM) | PSS / anonymous |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| 0 | - | ${mb(baseline.rssKb)} | - | - | ${baseline.fds} | - | ${baseline.stopMs.toFixed(0)} ms | ${mb(baseline.memory.pss)} / ${mb(baseline.memory.anon)} |`,
  ];
  let previous = baseline;
  for (const row of rows) {
    // (RSS_n - RSS_0) / n carries the one-time cost of the first service (code paths compiled,
    // http server loaded) in every row; the slope between rows is the cost of one more.
    const marginal = (row.rssKb - baseline.rssKb) / row.count / 1024;
    const slope = (row.rssKb - previous.rssKb) / (row.count - previous.count) / 1024;
    out.push(`| ${row.count} | ${row.startMs.toFixed(0)} ms | ${mb(row.rssKb)} | ${marginal.toFixed(3)} MB | ${slope.toFixed(3)} MB | ${row.fds} | ` +
      `${row.reload ?? '-'} | ${row.stopMs.toFixed(0)} ms | ${mb(row.memory.pss)} / ${mb(row.memory.anon)} |`);
    previous = row;
  }
  return out.join('\n');
}

async function main() {
  const largest = Math.max(...counts);
  process.stderr.write('baseline (empty dir)…\n');
  const baseline = await benchCount(0, { reload: false });
  const rows = [];
  for (const count of counts.sort((x, y) => x - y)) {
    process.stderr.write(`${count} services…\n`);
    rows.push(await benchCount(count, { reload: count === largest }));
  }
  const cpus = os.cpus();
  process.stdout.write(`immortaldir benchmark — node ${process.version}, ${os.platform()} ${os.release()}, ` +
    `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n\n`);
  process.stdout.write(`${table(rows, baseline)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack}\n`);
  process.exit(1);
});
