#!/usr/bin/env node
// What `immortalctl status` costs above Node's own start, in CPU time (user+system, which a
// loaded machine does not inflate the way it inflates wall time), against:
//   - `node -e 0`, the floor;
//   - immortalctl's modules loaded, nothing run;
//   - a status listing over node:http (`http.get`, no agent) and over node:net (a raw
//     `GET /status HTTP/1.0`, readdirSync): what a leaner immortalctl would cost;
//   - the Go original's immortalctl ($IMMORTAL_GO_DIR, default ../shared/oracle/go-immortal).
// One `immortal -n` runs meanwhile. Commands run in turn, round after round; each one's CPU
// is this process's children time (/proc/self/stat cutime+cstime, 10 ms ticks) summed over
// its rounds, divided by the rounds.
//   node bench/ctl-cost.mjs [--rounds=N] [--base=DIST]
//   --base=DIST  also runs DIST/cli/immortalctl.js (a build of an earlier commit): before/after in one run.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { goImmortalDir } from './lib/supervisors.mjs';
import { fmt, nowMs, percentile, sleep } from './lib/stats.mjs';

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 25);
const baseDist = process.argv.find((a) => a.startsWith('--base='))?.split('=')[1];
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

/** Children's CPU (user+system) so far, in ms, from /proc/self/stat fields 16 and 17. */
function childrenCpuMs() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

const NET_STATUS = `const fs=require('fs'),path=require('path'),net=require('net');const root=process.env.IMMORTAL_SDIR;
for(const name of fs.readdirSync(root)){const s=net.connect(path.join(root,name,'immortal.sock'));let d='';s.setEncoding('latin1');
s.on('connect',()=>s.end('GET /status HTTP/1.0\\r\\nHost: immortal\\r\\n\\r\\n'));s.on('data',(c)=>(d+=c));
s.on('end',()=>{const j=JSON.parse(d.slice(d.indexOf('\\r\\n\\r\\n')+4));process.stdout.write(j.pid+' '+name+' '+j.cmd+'\\n')})}`;
const HTTP_STATUS = `const fs=require('fs'),path=require('path'),http=require('http');const root=process.env.IMMORTAL_SDIR;
for(const name of fs.readdirSync(root)){http.get({socketPath:path.join(root,name,'immortal.sock'),path:'/status',agent:false},(res)=>{let d='';
res.setEncoding('utf8');res.on('data',(c)=>(d+=c));res.on('end',()=>{const j=JSON.parse(d);process.stdout.write(j.pid+' '+name+' '+j.cmd+'\\n')})})}`;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-ctl-cost-'));
  const env = { ...process.env, IMMORTAL_SDIR: path.join(dir, 'sdir'), HOME: dir };
  fs.mkdirSync(env.IMMORTAL_SDIR);
  const supervisor = spawn(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'immortal.js'), '-n', '-ctl', 'a', 'sleep', '100000'], {
    env,
    stdio: 'ignore',
  });
  try {
    const socket = path.join(env.IMMORTAL_SDIR, 'a', 'immortal.sock');
    const deadline = nowMs() + 60000;
    while (!fs.existsSync(socket)) {
      if (nowMs() > deadline) throw new Error('immortal -n: no socket within 60 s');
      await sleep(50);
    }
    const ctl = path.join(repoRoot, 'dist', 'cli', 'immortalctl.js');
    const commands = [
      { label: 'node -e 0', file: process.execPath, args: ['-e', '0'] },
      { label: "immortalctl's modules loaded, nothing run", file: process.execPath, args: ['-e', `require(${JSON.stringify(ctl)})`] },
      { label: 'immortalctl status a', file: process.execPath, args: [ctl, 'status', 'a'] },
      { label: 'status listing over node:http', file: process.execPath, args: ['-e', HTTP_STATUS] },
      { label: 'status listing over node:net', file: process.execPath, args: ['-e', NET_STATUS] },
    ];
    if (baseDist) {
      commands.splice(3, 0, { label: `immortalctl status a (${baseDist})`, file: process.execPath, args: [path.resolve(baseDist, 'cli', 'immortalctl.js'), 'status', 'a'] });
    }
    const go = goImmortalDir();
    if (go) commands.push({ label: 'Go immortalctl status a', file: path.join(go, 'immortalctl'), args: ['status', 'a'] });
    for (const command of commands) Object.assign(command, { cpuMs: 0, wall: [] });
    for (let i = 0; i < rounds; i++) {
      for (const command of commands) {
        const cpuBefore = childrenCpuMs();
        const started = nowMs();
        const result = spawnSync(command.file, command.args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
        command.wall.push(nowMs() - started);
        command.cpuMs += childrenCpuMs() - cpuBefore;
        if (result.status !== 0) throw new Error(`${command.label}: exit ${result.status} ${String(result.stderr).trim()}`);
      }
    }
    const floor = commands[0];
    const floorCpu = floor.cpuMs / rounds;
    const floorWall = percentile(floor.wall, 50);
    const lines = [
      `${rounds} rounds; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
      '',
      '| command | CPU per run | ÷ node -e 0 | wall p50 | ÷ node -e 0 |',
      '|---|---:|---:|---:|---:|',
    ];
    for (const command of commands) {
      const cpu = command.cpuMs / rounds;
      const wall = percentile(command.wall, 50);
      lines.push(`| ${command.label} | ${fmt(cpu)} ms | ${(cpu / floorCpu).toFixed(2)}× | ${fmt(wall)} ms | ${(wall / floorWall).toFixed(2)}× |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    supervisor.kill('SIGTERM');
    await new Promise((resolve) => (supervisor.exitCode !== null ? resolve() : supervisor.once('exit', resolve)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
