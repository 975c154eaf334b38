#!/usr/bin/env node
// Benchmark (not a test): what `restart_if: {memory: …}` costs immortaldir with 100 services.
// Each sample (every 2 s per service) reads the service's memory: in cgroup mode its
// cgroup.procs and each member's /proc/<pid>/stat; in tracked mode (IMMORTAL_CGROUP=off) a scan
// of /proc. Same run, same services (`sleep 3600`), four immortaldir runs one after the other:
// {cgroup, tracked} × {without restart_if (baseline), with restart_if.memory: 1G (never reached)}.
// CPU% is the immortaldir process's utime+stime over a window once every service answers and
// 3 s have settled.
//
//   npx tsc -p . && node bench/restart-if-cost.mjs [services=100] [window seconds=20]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMMORTALDIR = fileURLToPath(new URL('../dist/cli/immortaldir.js', import.meta.url));
const MARKER = 'RESTART_IF_BENCH';
const count = Number(process.argv[2] ?? 100);
const windowSeconds = Number(process.argv[3] ?? 20);
const ticksPerSecond = 100;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function status(socketPath) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** utime + stime of pid, in clock ticks. */
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function marked(tag) {
  const needle = `${MARKER}=${tag}\0`;
  return fs.readdirSync('/proc').filter((entry) => {
    try {
      return /^\d+$/.test(entry) && `${fs.readFileSync(`/proc/${entry}/environ`, 'latin1')}\0`.includes(needle);
    } catch {
      return false;
    }
  }).map(Number);
}

async function measure({ mode, restartIf }) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'restart-if-bench-'));
  const [services, sdir, home] = ['services', 'sdir', 'home'].map((name) => path.join(base, name));
  for (const dir of [services, sdir, home]) fs.mkdirSync(dir);
  const names = Array.from({ length: count }, (_, i) => `m${String(i).padStart(3, '0')}`);
  const yml = `cmd: sleep 3600\n${restartIf ? 'restart_if:\n  memory: 1G\n' : ''}`;
  for (const name of names) fs.writeFileSync(path.join(services, `${name}.yml`), yml);
  const env = { ...process.env, HOME: home, IMMORTAL_SDIR: sdir, [MARKER]: base };
  if (mode === 'tracked') env.IMMORTAL_CGROUP = 'off';
  else delete env.IMMORTAL_CGROUP;
  const proc = spawn(process.execPath, [IMMORTALDIR, services], { env, stdio: ['ignore', 'ignore', fs.openSync(path.join(base, 'log'), 'w')] });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  try {
    const pending = new Set(names);
    const deadline = Date.now() + 300000;
    while (pending.size > 0) {
      if (Date.now() > deadline) throw new Error(`${pending.size} services never started: ${fs.readFileSync(path.join(base, 'log'), 'utf8').slice(-2000)}`);
      await Promise.all([...pending].map(async (name) => {
        const s = await status(path.join(sdir, name, 'immortal.sock'));
        if (s?.pid > 0) pending.delete(name);
      }));
      await sleep(100);
    }
    await sleep(3000);
    const before = cpuTicks(proc.pid);
    const startedAt = performance.now();
    await sleep(windowSeconds * 1000);
    const seconds = (performance.now() - startedAt) / 1000;
    return (100 * (cpuTicks(proc.pid) - before)) / ticksPerSecond / seconds;
  } finally {
    proc.kill('SIGTERM');
    await exited;
    for (const pid of marked(base)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
  }
}

const modes = process.getuid() === 0 ? ['cgroup', 'tracked'] : ['tracked'];
const rows = [];
for (const mode of modes) {
  const without = await measure({ mode, restartIf: false });
  const withWatch = await measure({ mode, restartIf: true });
  rows.push(`| ${mode} | ${count} | ${without.toFixed(2)} % | ${withWatch.toFixed(2)} % | ${(withWatch - without).toFixed(2)} points |`);
}
console.log(`immortaldir CPU over ${windowSeconds} s, ${count} services (sleep 3600), ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`);
console.log('| mode | services | without restart_if | with restart_if.memory | cost |');
console.log('|---|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
