#!/usr/bin/env node
// Restart after kill -9, immortal against the Go original, measured in pairs: both run at
// once, each supervising one idle service, and every round kills one service then the other
// (the order alternating by round), so both see the same moments of a noisy machine. bench/run
// now does the same for every supervisor at once (20 rounds); this script gives two of them
// as many rounds as asked, with the per-round difference and who was faster how often.
//
//   node bench/restart-pairs.mjs [--rounds=40] [--gap=300] [--only=immortal,go-immortal]
//
// --gap: ms between a restart's announcement and the other service's kill, so that what a
// supervisor does after a restart (its bookkeeping) never overlaps the other's restart.
// Prints, per supervisor, kill → announced in ms (p25 / p50 / p75 / mean) and its CPU time
// per restart (schedstat, every thread; robust to load), then for the pair:
// in how many rounds the first was faster, the median of the per-round differences and the
// ratio of the medians.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { killAndAwaitRestart, oneServiceMissing, startOneService } from './lib/one-service.mjs';
import { cpuNsBetween, supervisorCpuSnapshot } from './lib/proc.mjs';
import { StartFeed, writeServicePrograms } from './lib/services.mjs';
import { fmt, nowMs, percentile, sleep } from './lib/stats.mjs';

const options = { rounds: 40, gapMs: 300, only: ['immortal', 'go-immortal'] };
for (const arg of process.argv.slice(2)) {
  const [flag, value] = arg.split('=');
  if (flag === '--rounds') options.rounds = Number(value);
  else if (flag === '--gap') options.gapMs = Number(value);
  else if (flag === '--only') options.only = value.split(',');
  else {
    process.stderr.write(`restart-pairs: unknown argument ${arg}\nusage: node bench/restart-pairs.mjs [--rounds=N] [--gap=MS] [--only=immortal,go-immortal]\n`);
    process.exit(2);
  }
}
if (options.only.length !== 2) {
  process.stderr.write('restart-pairs: --only names two supervisors\n');
  process.exit(2);
}
for (const id of options.only) {
  const missing = oneServiceMissing(id);
  if (missing) {
    process.stderr.write(`restart-pairs: ${id}: ${missing}\n`);
    process.exit(2);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-restart-pairs-'));
const feed = new StartFeed(dir);
const programs = writeServicePrograms(dir, feed.path, path.join(dir, 'unused.fifo'));
const columns = options.only.map((id, i) => {
  const name = `svc${i}`;
  const home = path.join(dir, id);
  fs.mkdirSync(home);
  return { id, name, latencies: [], ...startOneService(id, home, name, [programs.idle, name]) };
});

try {
  for (const column of columns) column.current = await feed.next(column.name, 20000);
  process.stderr.write(`${options.rounds} rounds of one kill each, ${options.only.join(' and ')} alternating first…\n`);
  let lastSeen = nowMs();
  for (const column of columns) column.cpuBefore = supervisorCpuSnapshot(...column.mark);
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? columns : [...columns].reverse();
    for (const column of order) {
      const quiet = lastSeen + options.gapMs - nowMs();
      if (quiet > 0) await sleep(quiet);
      const { next, latency } = await killAndAwaitRestart(feed, column.name, column.current);
      column.current = next;
      column.latencies[round] = latency;
      lastSeen = nowMs();
    }
  }
  // Each supervisor's CPU over all rounds: its own restarts, and idling through the other's.
  for (const column of columns) column.cpuMs = cpuNsBetween(column.cpuBefore, supervisorCpuSnapshot(...column.mark)) / 1e6;
} finally {
  for (const column of columns) await column.stop(column.current);
  feed.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

const [a, b] = columns;
const rows = [['kill → announced (ms)', 'p25', 'p50', 'p75', 'mean', 'supervisor CPU per restart (ms)']];
for (const c of columns) {
  const mean = c.latencies.reduce((sum, v) => sum + v, 0) / c.latencies.length;
  rows.push([c.id, ...[25, 50, 75].map((p) => fmt(percentile(c.latencies, p))), fmt(mean), fmt(c.cpuMs / c.latencies.length)]);
}
const differences = a.latencies.map((value, round) => value - b.latencies[round]);
const wins = differences.filter((d) => d < 0).length;
const table = rows.map((r, i) => `| ${r.join(' | ')} |${i === 0 ? `\n|---|${r.slice(1).map(() => '---:').join('|')}|` : ''}`).join('\n');
process.stdout.write(`${table}\n\n`
  + `${a.id} faster in ${wins} of ${differences.length} rounds; `
  + `per-round difference (${a.id} − ${b.id}) p50 ${fmt(percentile(differences, 50))} ms; `
  + `ratio of p50s ${fmt(percentile(a.latencies, 50) / percentile(b.latencies, 50))}\n`);
