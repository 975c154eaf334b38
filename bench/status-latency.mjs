#!/usr/bin/env node
// Status query latency over the control socket, with one keep-alive connection (the way
// immortalctl and an nginx upstream ask), against a baseline measured in the same run:
// a bare node:http server on a unix socket answering a fixed JSON body. The difference is
// what the supervisor's own handler (snapshot, duration format, Go-style JSON) costs.
//
//   node bench/status-latency.mjs [requests]      (default 10000)
//
// Prints a markdown table: p50 / p90 / p99 / max in ms for both, and the ratio.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const requests = Number(process.argv[2] ?? 10000);
const warmup = 500;
const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-bench-status-'));
const env = { ...process.env, HOME: sandbox, IMMORTAL_SDIR: path.join(sandbox, 'sdir') };

const baselineScript = `
  const http = require('node:http');
  const body = '{"pid":4242,"up":"1.0s","cmd":"sleep 3600","fpid":false,"count":1}\\n';
  http.createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }).listen(process.argv[1], () => process.stdout.write('ready\\n'));`;

function waitForSocket(socketPath, deadlineMs = 15000) {
  const deadline = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const req = http.get({ socketPath, path: '/' }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => {
        if (Date.now() > deadline) reject(new Error(`${socketPath} never answered`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

async function measure(socketPath) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = () => new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    http.get({ socketPath, path: '/status', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - started) / 1e6));
    }).on('error', reject);
  });
  for (let i = 0; i < warmup; i++) await once();
  const samples = [];
  for (let i = 0; i < requests; i++) samples.push(await once());
  agent.destroy();
  return samples.sort((a, b) => a - b);
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (ms) => ms.toFixed(3);

const supervisor = spawn(process.execPath, [path.join(root, 'dist/cli/immortal.js'), '-n', '-ctl', 'bench', 'sleep', '3600'],
  { env, stdio: ['ignore', 'ignore', 'ignore'] });
const baselineSocket = path.join(sandbox, 'baseline.sock');
const baseline = spawn(process.execPath, ['-e', baselineScript, baselineSocket], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const socketPath = path.join(env.IMMORTAL_SDIR, 'bench', 'immortal.sock');
  await Promise.all([waitForSocket(socketPath), waitForSocket(baselineSocket)]);
  const ours = await measure(socketPath);
  const bare = await measure(baselineSocket);
  const rows = [
    ['immortal /status', ours],
    ['baseline: bare node:http, fixed JSON', bare],
  ];
  console.log(`${requests} requests each over one keep-alive unix-socket connection (after ${warmup} warm-up), ` +
    `${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}, node ${process.version}\n`);
  console.log('| server | p50 ms | p90 ms | p99 ms | max ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, s] of rows) console.log(`| ${name} | ${fmt(pct(s, 50))} | ${fmt(pct(s, 90))} | ${fmt(pct(s, 99))} | ${fmt(s.at(-1))} |`);
  console.log(`| ratio immortal / baseline | ${(pct(ours, 50) / pct(bare, 50)).toFixed(2)}× | ${(pct(ours, 90) / pct(bare, 90)).toFixed(2)}× | ` +
    `${(pct(ours, 99) / pct(bare, 99)).toFixed(2)}× | — |`);
} finally {
  baseline.kill('SIGTERM');
  supervisor.kill('SIGTERM');
  await new Promise((resolve) => supervisor.once('exit', resolve));
  fs.rmSync(sandbox, { recursive: true, force: true });
}
