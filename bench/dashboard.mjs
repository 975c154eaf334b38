#!/usr/bin/env node
// Benchmark of the dashboard (not a test): what 5 open pages cost immortaldir with 200
// services, against the same immortaldir with no page open, measured side by side in one run.
//
//   npx tsc -p . && node bench/dashboard.mjs [services] [seconds]     (default: 200 20)
//
// Two immortaldirs, each in a fresh HOME/IMMORTAL_SDIR under os.tmpdir(), each on its own
// directory of N services: N-1 `sleep 3600` and one that exits at once (`/bin/false`), so a
// change (a restart a second) reaches the pages all the time, as a real crash loop would.
// Both get `--http 0`; on one, 5 clients hold `/events` open (server-sent events, exactly
// what a page does; a page's other requests are a one-off load), reading everything they
// are sent. Over the same window of `seconds` both processes' CPU time (utime+stime from
// /proc/PID/stat) is read, and their RSS (VmRSS) every second (min, median, max: V8 lets
// short-lived garbage pile up in the old generation and then collects it, so RSS saws up
// and down; one reading would say little); the bytes the 5 clients received are counted.
// Each immortaldir is stopped with SIGTERM and must exit 0.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMMORTALDIR = fileURLToPath(new URL('../dist/cli/immortaldir.js', import.meta.url));
const services = Number(process.argv[2] ?? 200);
const windowSeconds = Number(process.argv[3] ?? 20);
const PAGES = 5;
const TICKS_PER_SECOND = 100;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMb(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]) / 1024;
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

async function startDir(label) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `immortal-dash-bench-${label}-`));
  const dir = path.join(root, 'services');
  const sdir = path.join(root, 'sdir');
  fs.mkdirSync(dir);
  fs.mkdirSync(sdir);
  for (let i = 0; i < services; i++) {
    const cmd = i === 0 ? '/bin/false' : 'sleep 3600';
    fs.writeFileSync(path.join(dir, `svc${String(i).padStart(3, '0')}.yml`), `cmd: ${cmd}\n`);
  }
  const proc = spawn(process.execPath, [IMMORTALDIR, dir, '--http', '0'], {
    env: { ...process.env, HOME: root, IMMORTAL_SDIR: sdir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.setEncoding('utf8').on('data', (c) => (log += c.length > 0 && log.length < 65536 ? c : ''));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let url;
  for (const started = Date.now(); !url; await sleep(50)) {
    url = /dashboard on (http:\/\/\S+)/.exec(log)?.[1];
    if (Date.now() - started > 30000) throw new Error(`${label}: no dashboard address (${log})`);
  }
  return { label, root, proc, url, exited };
}

async function waitAllUp(run) {
  const started = Date.now();
  for (;;) {
    const { services: records } = await getJson(new URL('api/services', run.url));
    const up = records.filter((r) => r.state === 'up').length;
    if (records.length === services && up >= services - 1) return Date.now() - started;
    if (Date.now() - started > 300000) throw new Error(`${run.label}: only ${up} of ${services} up`);
    await sleep(500);
  }
}

function openPage(url, counter) {
  const req = http.get(new URL('events', url), { agent: false }, (res) => {
    res.on('data', (chunk) => (counter.bytes += chunk.length));
  });
  req.on('error', () => {});
  return req;
}

function spread(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
}

async function stop(run) {
  run.proc.kill('SIGTERM');
  const status = await run.exited;
  fs.rmSync(run.root, { recursive: true, force: true });
  if (status.code !== 0) throw new Error(`${run.label}: immortaldir exited ${JSON.stringify(status)}`);
}

async function main() {
  process.stderr.write(`starting two immortaldirs with ${services} services each…\n`);
  const baseline = await startDir('baseline');
  const watched = await startDir('pages');
  try {
    await Promise.all([waitAllUp(baseline), waitAllUp(watched)]);
    await sleep(3000); // let start-up work settle
    const counter = { bytes: 0 };
    const pages = Array.from({ length: PAGES }, () => openPage(watched.url, counter));
    await sleep(1000); // snapshots sent; measure the steady state
    counter.bytes = 0;
    process.stderr.write(`measuring ${windowSeconds} s…\n`);
    const before = [cpuTicks(baseline.proc.pid), cpuTicks(watched.proc.pid)];
    const rssSamples = [[], []];
    for (let second = 0; second < windowSeconds; second++) {
      rssSamples[0].push(rssMb(baseline.proc.pid));
      rssSamples[1].push(rssMb(watched.proc.pid));
      await sleep(1000);
    }
    const after = [cpuTicks(baseline.proc.pid), cpuTicks(watched.proc.pid)];
    const rss = rssSamples.map(spread);
    for (const page of pages) page.destroy();
    const cpu = after.map((a, i) => ((a - before[i]) / TICKS_PER_SECOND / windowSeconds) * 100);
    const rows = [
      ['no page open (baseline)', cpu[0], rss[0], '-'],
      [`${PAGES} pages open (SSE)`, cpu[1], rss[1], `${(counter.bytes / windowSeconds / 1024).toFixed(1)} KiB/s`],
    ];
    console.log(`immortaldir with ${services} services (one restarting every second), ${windowSeconds} s window, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}\n`);
    console.log('| immortaldir | CPU (% of one core) | RSS min | RSS median | RSS max | sent to the pages |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const [label, c, r, sent] of rows) console.log(`| ${label} | ${c.toFixed(2)} % | ${r.min.toFixed(1)} MB | ${r.median.toFixed(1)} MB | ${r.max.toFixed(1)} MB | ${sent} |`);
    console.log(`| difference | ${(cpu[1] - cpu[0]).toFixed(2)} points | ${(rss[1].min - rss[0].min).toFixed(1)} MB | ${(rss[1].median - rss[0].median).toFixed(1)} MB | ${(rss[1].max - rss[0].max).toFixed(1)} MB | |`);
  } finally {
    await Promise.allSettled([stop(baseline), stop(watched)]);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/dashboard: ${err.stack || err}\n`);
  process.exit(1);
});
