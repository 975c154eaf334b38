#!/usr/bin/env node
// Requests lost while a service is crashed, restarted or upgraded: held `listen:` sockets and
// `immortalctl upgrade` against a plain restart (the app binds its port itself), and against
// the Go original (no listen:, so only the plain restart), all in the same run.
//
//   node bench/zero-downtime.mjs [events]      (default 10; build first: npx tsc -p .)
//
// The service is test/fixtures/listen_server.py (answers each request with its pid; takes its
// socket from LISTEN_FDS, or binds BIND_PORT itself). One row: a sequential request loop runs
// from before the first event to after the last; each event is
//   upgrade  GET /signal/upgrade on the service's socket (answered once the new one serves),
//   crash    kill -9 of the answering pid, then wait until another pid answers,
//   TERM     SIGTERM to the answering pid (a plain restart: it exits 0, is started again),
// with 1.1 s between events (past the 1 s restart rule, so an event measures the gap, not the
// rule). Printed: events, requests, failed (refused or broken), p99 and max latency of the
// answered ones.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/ports.mjs';
import { sleep } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const IMMORTAL = path.join(here, '..', 'dist', 'cli', 'immortal.js');
const GO_DIR = process.env.IMMORTAL_GO_DIR ?? path.join(here, '..', '..', 'shared', 'oracle', 'go-immortal');
const GO_IMMORTAL = [path.join(GO_DIR, 'immortal'), '/work/shared/oracle/go-immortal/immortal'].find((file) => fs.existsSync(file));
const SERVER = path.join(here, '..', 'test', 'fixtures', 'listen_server.py');
const EVENTS = Number(process.argv[2] ?? 10);
const DEADLINE_MS = 15000;

function get(options) {
  return new Promise((resolve, reject) => {
    const req = http.get({ path: '/', agent: false, timeout: 5000, ...options }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const askPid = (port) => get({ host: '127.0.0.1', port }).then((body) => Number(body.trim()));

async function waitAnswer(port, notPid) {
  const deadline = performance.now() + DEADLINE_MS;
  while (performance.now() < deadline) {
    const pid = await askPid(port).catch(() => undefined);
    if (pid && pid !== notPid) return pid;
    await sleep(5);
  }
  throw new Error(`nothing but ${notPid} answered on ${port} within ${DEADLINE_MS} ms`);
}

function startLoop(port) {
  const stats = { total: 0, failed: 0, latencies: [] };
  let running = true;
  const done = (async () => {
    while (running) {
      const t0 = performance.now();
      stats.total++;
      try {
        await askPid(port);
        stats.latencies.push(performance.now() - t0);
      } catch {
        stats.failed++;
      }
    }
  })();
  return { stats, stop: async () => { running = false; await done; return stats; } };
}

/** One supervisor: immortal with or without listen:, or the Go original. */
function startSupervisor(kind, dir, port) {
  const python = 'python3';
  const env = { ...process.env, HOME: dir, IMMORTAL_SDIR: dir };
  let argv;
  if (kind === 'go') {
    env.BIND_PORT = String(port);
    argv = [GO_IMMORTAL, '-ctl', path.join(dir, 'sv'), python, SERVER];
  } else {
    const yml = path.join(dir, 'sv.yml');
    const listen = kind === 'listen' ? `listen: ["tcp://127.0.0.1:${port}"]\n` : '';
    if (kind !== 'listen') env.BIND_PORT = String(port);
    // No crash-loop backoff: ten crashes in a row would otherwise wait 1, 2, 4… s (the Go original has none).
    fs.writeFileSync(yml, `cmd: ${python} ${SERVER}\n${listen}stop_timeout: 5\nbackoff:\n  cap: 0\n`);
    argv = [process.execPath, IMMORTAL, '-n', '-ctl', path.join(dir, 'sv'), '-c', yml];
  }
  const child = spawn(argv[0], argv.slice(1), { env, stdio: 'ignore', detached: true });
  return {
    socket: path.join(dir, 'sv', 'immortal.sock'),
    async stop() {
      // `halt` over the socket first: the Go original forks away from the process we started.
      const socketPath = path.join(dir, 'sv', 'immortal.sock');
      await get({ socketPath, path: '/signal/halt', timeout: 5000 }).catch(() => {});
      const deadline = Date.now() + 10000;
      while (fs.existsSync(socketPath) && Date.now() < deadline) await sleep(50);
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
    },
  };
}

async function measure(kind, event) {
  if (kind === 'go' && !GO_IMMORTAL) return { note: 'Go original not found' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-zero-'));
  const port = await freePort();
  const supervisor = startSupervisor(kind, dir, port);
  try {
    let pid = await waitAnswer(port, undefined);
    await sleep(1100);
    const loop = startLoop(port);
    for (let i = 0; i < EVENTS; i++) {
      if (event === 'upgrade') {
        const answer = JSON.parse(await get({ socketPath: supervisor.socket, path: '/signal/upgrade', timeout: 60000 }));
        if (answer.Err) throw new Error(answer.Err);
      } else {
        process.kill(pid, event === 'crash' ? 'SIGKILL' : 'SIGTERM');
      }
      pid = await waitAnswer(port, pid);
      await sleep(1100);
    }
    const stats = await loop.stop();
    const sorted = stats.latencies.sort((a, b) => a - b);
    return {
      total: stats.total,
      failed: stats.failed,
      p99: sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))],
      max: sorted[sorted.length - 1],
    };
  } finally {
    await supervisor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const ROWS = [
  ['immortal, listen:', 'listen', 'upgrade'],
  ['immortal, listen:', 'listen', 'crash'],
  ['immortal, listen:', 'listen', 'TERM'],
  ['immortal, app binds its port', 'plain', 'crash'],
  ['immortal, app binds its port', 'plain', 'TERM'],
  ['Go original, app binds its port', 'go', 'crash'],
  ['Go original, app binds its port', 'go', 'TERM'],
];

console.log(`| supervisor | ${EVENTS} × event | requests | failed | p99 ms | max ms |`);
console.log('|---|---|---:|---:|---:|---:|');
for (const [label, kind, event] of ROWS) {
  process.stderr.write(`${label}: ${event}…\n`);
  let r;
  try {
    r = await measure(kind, event);
  } catch (err) {
    r = { note: err.message };
  }
  const cells = r.note ? [r.note, '', '', ''] : [r.total, r.failed, r.p99.toFixed(1), r.max.toFixed(1)];
  console.log(`| ${label} | ${event} | ${cells.join(' | ')} |`);
}
