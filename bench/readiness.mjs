#!/usr/bin/env node
// What readiness costs and how fast it travels (docs/readiness.md, issue 14).
//
//   node bench/readiness.mjs [trials] [probe-seconds]   (default 60 trials, 5 s per probe row;
//                                                        build first: npx tsc -p .)
//
// 1. Latency, end to end through immortaldir (nothing inside it is instrumented):
//    `db` has `ready: {notify: systemd}` and `app` has `require: [db]`. One trial: app is put
//    down, db is restarted (TERM; it comes back `starting`, not ready), app is put up and is
//    held ("waiting for require: db"); then db is told to go: it notes t0 =
//    CLOCK_MONOTONIC and sends READY=1. t1 = immortaldir's log line "db: ready", t2 = its line
//    "app: started". Both lines cross one pipe to us, so the figures are upper bounds.
//    Goal: ready visible (t1 - t0) p50 < 5 ms, dependent started (t2 - t0) p99 < 20 ms.
//    (process.hrtime and python's time.monotonic_ns read the same clock.)
// 2. A probe's cost on the supervisor: `immortal -n` with a `health:` probe every 10 ms that
//    always fails (failures: 1000000, so nothing restarts and immortal_health_failures_total
//    counts the probes), tcp to a closed port and http to a server answering 503; CPU time
//    of the supervisor from /proc/<pid>/stat, beside an idle supervisor of the same service
//    measured in the same run. Reported: CPU ms per 1000 probes above idle.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(here, '..', 'dist', 'cli');
const PRELOAD = path.join(here, '..', 'test', 'fixtures', 'restart-rule-preload.cjs');
const TRIALS = Number(process.argv[2] ?? 60);
const PROBE_SECONDS = Number(process.argv[3] ?? 5);
const WARMUP = 3;

const DB = String.raw`
import os, socket, sys, time
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.001)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
t0 = time.monotonic_ns()
s.send(b"READY=1")
with open(go + ".t0", "w") as f:
    f.write(str(t0))
while True:
    time.sleep(1)
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-bench-ready-'));
const env = { ...process.env, HOME: tmp, IMMORTAL_SDIR: path.join(tmp, 'sdir'), IMMORTAL_TEST_RESTART_MS: '10' };
fs.mkdirSync(env.IMMORTAL_SDIR);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nowNs = () => process.hrtime.bigint();

function get(socketPath, urlPath) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function until(what, pred, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await pred();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(2);
  }
}

const record = async (name) => JSON.parse(await get(path.join(env.IMMORTAL_SDIR, name, 'immortal.sock'), '/service'));
const signal = (name, sig) => get(path.join(env.IMMORTAL_SDIR, name, 'immortal.sock'), `/signal/${sig}`);

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function latency() {
  const services = path.join(tmp, 'services');
  fs.mkdirSync(services);
  const go = path.join(tmp, 'go');
  fs.writeFileSync(path.join(tmp, 'db.py'), DB);
  fs.writeFileSync(path.join(services, 'db.yml'), `cmd: python3 ${path.join(tmp, 'db.py')} ${go}\nready: {notify: systemd}\nbackoff: {cap: 0}\n`);
  fs.writeFileSync(path.join(services, 'app.yml'), 'cmd: sleep 100000\nrequire: [db]\n');
  const dir = spawn(process.execPath, ['--require', PRELOAD, path.join(DIST, 'immortaldir.js'), services], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = [];
  let buffered = '';
  dir.stderr.on('data', (chunk) => {
    const at = nowNs();
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop();
    for (const line of parts) lines.push({ line, at });
  });
  const lineAfter = (index, re) => until(re.source, () => lines.slice(index).find((l) => re.test(l.line)));
  const ready = [];
  const dependent = [];
  try {
    fs.writeFileSync(go, '');
    await until('app running', async () => (await record('app')).pid > 0);
    for (let trial = 0; trial < TRIALS + WARMUP; trial++) {
      await signal('app', 'down');
      await until('app down', async () => (await record('app')).pid === 0);
      fs.rmSync(go, { force: true });
      fs.rmSync(`${go}.t0`, { force: true });
      const before = (await record('db')).pid;
      await signal('db', 'term');
      await until('db starting again', async () => { const r = await record('db'); return r.pid > 0 && r.pid !== before && r.ready === false; });
      await signal('app', 'up');
      await until('app held', async () => (await record('app')).note === 'waiting for require: db');
      const mark = lines.length;
      fs.writeFileSync(go, '');
      const readyLine = await lineAfter(mark, /db: ready: pid/);
      const startLine = await lineAfter(mark, /app: started \d+/);
      const t0 = BigInt(await until('t0', () => fs.readFileSync(`${go}.t0`, 'utf8')));
      if (trial < WARMUP) continue;
      ready.push(Number(readyLine.at - t0) / 1e6);
      dependent.push(Number(startLine.at - t0) / 1e6);
    }
  } finally {
    dir.kill('SIGTERM');
    await new Promise((resolve) => dir.on('close', resolve));
  }
  return { ready, dependent };
}

function cpuTicks(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** One supervisor for PROBE_SECONDS; its CPU ms and the probes it ran. */
async function probeRow(name, extra) {
  const yml = path.join(tmp, `${name}.yml`);
  fs.writeFileSync(yml, `cmd: sleep 100000\n${extra}`);
  const proc = spawn(process.execPath, [path.join(DIST, 'immortal.js'), '-n', '-c', yml, '-ctl', name], { env, stdio: 'ignore' });
  const sock = path.join(env.IMMORTAL_SDIR, name, 'immortal.sock');
  await until(`${name} up`, async () => (await record(name)).pid > 0);
  await sleep(500);
  const failures = async () => Number(/immortal_health_failures_total\{[^}]*\} (\d+)/.exec(await get(sock, '/metrics'))[1]);
  const startTicks = cpuTicks(proc.pid);
  const startProbes = await failures();
  await sleep(PROBE_SECONDS * 1000);
  const cpuMs = ((cpuTicks(proc.pid) - startTicks) * 1000) / 100; // USER_HZ = 100 on Linux
  const probes = (await failures()) - startProbes;
  await get(sock, '/signal/halt');
  await new Promise((resolve) => proc.on('close', resolve));
  return { cpuMs, probes };
}

async function probeCost() {
  const closed = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
  const server = http.createServer((_req, res) => { res.statusCode = 503; res.end(); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  try {
    const idle = await probeRow('idle', '');
    const tcp = await probeRow('tcp', `health: {tcp: "127.0.0.1:${closed}", interval: 0.01, failures: 1000000}\n`);
    const web = await probeRow('http', `health: {http: "http://127.0.0.1:${port}/health", interval: 0.01, failures: 1000000}\n`);
    return { idle, tcp, web };
  } finally {
    server.close();
  }
}

const fmt = (ms) => ms.toFixed(2);
try {
  const { ready, dependent } = await latency();
  console.log(`## readiness latency (immortaldir, ${ready.length} trials, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)})\n`);
  console.log('| from READY=1 to | p50 ms | p99 ms | max ms | goal |');
  console.log('|---|---|---|---|---|');
  console.log(`| \`db: ready\` (ready on the socket) | ${fmt(percentile(ready, 50))} | ${fmt(percentile(ready, 99))} | ${fmt(Math.max(...ready))} | p50 < 5 |`);
  console.log(`| \`app: started\` (require: db) | ${fmt(percentile(dependent, 50))} | ${fmt(percentile(dependent, 99))} | ${fmt(Math.max(...dependent))} | p99 < 20 |`);
  const { idle, tcp, web } = await probeCost();
  console.log(`\n## probe cost on the supervisor (${PROBE_SECONDS} s each, probe every 10 ms)\n`);
  console.log('| supervisor | probes | CPU ms | CPU ms per 1000 probes above idle |');
  console.log('|---|---|---|---|');
  console.log(`| idle (baseline) | 0 | ${fmt(idle.cpuMs)} | – |`);
  for (const [label, row] of [['tcp (connect refused)', tcp], ['http (503)', web]]) {
    console.log(`| ${label} | ${row.probes} | ${fmt(row.cpuMs)} | ${fmt(((row.cpuMs - idle.cpuMs) / row.probes) * 1000)} |`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
