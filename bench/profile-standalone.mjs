#!/usr/bin/env node
// Where a standalone supervisor's memory and immortalctl's time go, variant by variant: each
// variant is a set of Node/V8 flags (and optionally a different build of dist/) applied to
// `immortal -n` and `immortalctl`. For each, in the same run:
//   - ten `immortal -n -ctl tenN idle` at once: PSS and anonymous RSS per process
//     (/proc/<pid>/smaps_rollup), time from spawn to the service's first start;
//   - the least of the same over 100 s (once V8's memory reducer has shrunk the idle heap
//     and immortal has given back its start-up memory, 65 s after start);
//   - restart after kill -9 (service older than 1.5 s) on one of them: p50 / max, and the
//     supervisor's CPU time per restart (/proc/<pid>/schedstat: robust to the machine's load);
//   - `immortalctl status ten1` wall time, alternated with `node -e 0` under the same flags
//     and with a plain `node -e 0`: the ratios are what a loaded machine can still compare.
// Usage: node bench/profile-standalone.mjs [--variants=a,b] [--dist=DIR] [--count=N] [--lean=DIR]
//   --lean=DIR  measure a prototype of a lean supervising process instead: DIR/cli/immortal-lean.js
//               gets the config already parsed and checked (JSON in IMMORTAL_LEAN_CONFIG, read
//               here with dist/'s own loadConfig), so it loads no YAML or flag parser. Its
//               "first start" leaves out the parsing launcher it stands for.
//   bench/profile-standalone.mjs --list   the variants

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { disposeContext, makeContext } from './lib/measures.mjs';
import { memoryKb } from './lib/proc.mjs';
import { fmt, mib, nowMs, sleep, summarize } from './lib/stats.mjs';

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** name → Node flags put before the script (V8 flags too: not all are allowed in NODE_OPTIONS). */
export const VARIANTS = {
  default: [],
  'semi-1m': ['--max-semi-space-size=1'],
  'semi-0.5m': ['--max-semi-space-size=0.5'],
  'old-16m': ['--max-old-space-size=16'],
  'lite-mode': ['--lite-mode'],
  jitless: ['--jitless'],
  'single-threaded': ['--single-threaded'],
  'pool-0': ['--v8-pool-size=0'],
  'single-threaded-gc': ['--single-threaded-gc'],
  'semi-1m+lite': ['--max-semi-space-size=1', '--lite-mode'],
  'semi-1m+single-threaded': ['--max-semi-space-size=1', '--single-threaded'],
  'semi-1m+lite+single-threaded': ['--max-semi-space-size=1', '--lite-mode', '--single-threaded'],
  'no-opt': ['--no-opt'],
  'optimize-for-size': ['--optimize-for-size'],
};

function parseArgs(argv) {
  const options = { variants: Object.keys(VARIANTS), dist: path.join(repoRoot, 'dist'), count: 10, ctlRuns: 20, restarts: 5, steadyMs: 100000 };
  for (const arg of argv) {
    const [flag, value] = arg.split(/=(.*)/s);
    if (flag === '--variants') options.variants = value.split(',');
    else if (flag === '--dist') options.dist = path.resolve(value);
    else if (flag === '--count') options.count = Number(value);
    else if (flag === '--lean') options.lean = path.resolve(value);
    else if (flag === "--steady-ms") options.steadyMs = Number(value);
    else if (flag === '--ctl-runs') options.ctlRuns = Number(value);
    else if (flag === '--list') {
      for (const [name, flags] of Object.entries(VARIANTS)) process.stdout.write(`${name}: ${flags.join(' ') || '(none)'}\n`);
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument ${arg}\n`);
      process.exit(2);
    }
  }
  for (const name of options.variants) {
    if (!VARIANTS[name] && !name.startsWith('--')) throw new Error(`unknown variant ${name} (--list)`);
  }
  return options;
}

/** A variant is a name from VARIANTS or a literal flag list joined by '+' ("--foo+--bar"). */
function flagsOf(variant) {
  return VARIANTS[variant] ?? variant.split('+');
}

/** Nanoseconds all threads of this process have run on a CPU (/proc/<pid>/task/<tid>/schedstat). */
function onCpuNs(pid) {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

function wallMs(file, args, env) {
  const started = nowMs();
  const result = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  if (result.status !== 0) throw new Error(`${args.join(' ')}: exit ${result.status} ${String(result.stderr).trim().slice(0, 200)}`);
  return nowMs() - started;
}

async function measureVariant(variant, options) {
  const flags = flagsOf(variant);
  const ctx = makeContext(`profile-${variant.replace(/[^a-z0-9.-]/gi, '_')}`);
  const env = { ...ctx.env, IMMORTAL_SDIR: path.join(ctx.dir, 'sdir'), HOME: ctx.dir };
  fs.mkdirSync(env.IMMORTAL_SDIR);
  const immortal = path.join(options.dist, 'cli', 'immortal.js');
  const immortalctl = path.join(options.dist, 'cli', 'immortalctl.js');
  const children = [];
  try {
    const names = Array.from({ length: options.count }, (_, i) => `ten${i + 1}`);
    const spawnedAt = {};
    for (const name of names) {
      // backoff cap 0: kill -9 five times in a row must measure the restart, not the
      // crash-loop backoff (as in bench/run).
      const runYml = path.join(ctx.dir, `${name}.yml`);
      fs.writeFileSync(runYml, `cmd: ${ctx.programs.idle} ${name}\nbackoff:\n  cap: 0\n`);
      const argv = ['-n', '-ctl', name, '-c', runYml];
      let child;
      if (options.lean) {
        const require = createRequire(import.meta.url);
        const { loadConfig } = require(path.join(options.dist, 'config', 'config.js'));
        const { parseFlags } = require(path.join(options.dist, 'cli', 'flags.js'));
        const config = loadConfig(parseFlags(argv), env, { pid: 0, home: env.HOME, uid: process.getuid() });
        spawnedAt[name] = nowMs();
        child = spawn(process.execPath, [...flags, path.join(options.lean, 'cli', 'immortal-lean.js')], {
          env: { ...env, IMMORTAL_LEAN_CONFIG: JSON.stringify(config) },
          stdio: 'ignore',
        });
      } else {
        spawnedAt[name] = nowMs();
        child = spawn(process.execPath, [...flags, immortal, ...argv], { env, stdio: 'ignore' });
      }
      child.on('error', () => {});
      children.push(child);
    }
    const firstStart = [];
    const current = {};
    for (const name of names) {
      current[name] = await ctx.feed.next(name, 120000);
      firstStart.push(current[name].at - spawnedAt[name]);
    }
    const allUp = nowMs();
    await sleep(3000);
    const early = children.map((child) => memoryKb(child.pid));
    // V8's memory reducer shrinks an idle heap once, 15-50 s after start-up (when varies
    // with the load): the least seen per process over the window.
    const steady = early.map((m) => ({ ...m }));
    while (nowMs() < allUp + options.steadyMs) {
      await sleep(2000);
      children.forEach((child, i) => {
        const memory = memoryKb(child.pid);
        if (!memory) return;
        steady[i].pss = Math.min(steady[i].pss, memory.pss);
        steady[i].anon = Math.min(steady[i].anon, memory.anon);
      });
    }
    const cpuBefore = onCpuNs(children[0].pid);

    const restart = [];
    for (let i = 0; i < options.restarts; i++) {
      const age = nowMs() - current.ten1.at;
      if (age < 1500) await sleep(1500 - age);
      ctx.feed.drain('ten1');
      const killedAt = nowMs();
      process.kill(current.ten1.pid, 'SIGKILL');
      current.ten1 = await ctx.feed.next('ten1', 20000);
      restart.push(current.ten1.at - killedAt);
    }
    // CPU the supervisor spent per restart (idle time between kills costs ~nothing).
    const cpuPerRestartMs = (onCpuNs(children[0].pid) - cpuBefore) / 1e6 / options.restarts;

    const ctl = [];
    const nodeSameFlags = [];
    const nodePlain = [];
    for (let i = 0; i < options.ctlRuns; i++) {
      ctl.push(wallMs(process.execPath, [...flags, immortalctl, 'status', 'ten1'], env));
      nodeSameFlags.push(wallMs(process.execPath, [...flags, '-e', '0'], env));
      nodePlain.push(wallMs(process.execPath, ['-e', '0'], env));
    }
    const avg = (list) => list.reduce((a, b) => a + b, 0) / list.length;
    return {
      variant,
      flags: flags.join(' '),
      pssKb: avg(early.map((m) => m.pss)),
      anonKb: avg(early.map((m) => m.anon)),
      steadyPssKb: avg(steady.map((m) => m.pss)),
      steadyAnonKb: avg(steady.map((m) => m.anon)),
      cpuPerRestartMs,
      firstStart: summarize(firstStart),
      restart: summarize(restart),
      ctl: summarize(ctl),
      nodeSameFlags: summarize(nodeSameFlags),
      nodePlain: summarize(nodePlain),
    };
  } finally {
    for (const child of children) {
      try {
        child.kill('SIGTERM');
      } catch {
        // gone
      }
    }
    const deadline = nowMs() + 10000;
    while (children.some((c) => c.exitCode === null && c.signalCode === null) && nowMs() < deadline) await sleep(50);
    disposeContext(ctx);
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const rows = [];
  for (const variant of options.variants) {
    process.stderr.write(`[profile] ${variant}\n`);
    try {
      rows.push(await measureVariant(variant, options));
    } catch (err) {
      rows.push({ variant, flags: flagsOf(variant).join(' '), na: String(err.message).split('\n')[0] });
    }
  }
  const lines = [
    `${options.lean ? `lean prototype: ${options.lean}/cli/immortal-lean.js` : `dist: ${options.dist}`}; ${options.count} standalone supervisors per variant; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    '',
    '| variant | flags | PSS / anon RSS per process at 3 s | least in 100 s (--steady-ms) | first start p50 | restart p50 / max | supervisor CPU per restart | immortalctl p50 | ÷ node -e 0 (same flags) | ÷ node -e 0 (plain) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    if (r.na) {
      lines.push(`| ${r.variant} | ${r.flags} | n/a: ${r.na} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.variant} | ${r.flags || '—'} | ${fmt(mib(r.pssKb))} / ${fmt(mib(r.anonKb))} MiB | ${fmt(mib(r.steadyPssKb))} / ${fmt(mib(r.steadyAnonKb))} MiB | ${fmt(r.firstStart.p50)} ms | ${fmt(r.restart.p50)} / ${fmt(r.restart.max)} ms | ${fmt(r.cpuPerRestartMs)} ms | ${fmt(r.ctl.p50)} ms | ${(r.ctl.p50 / r.nodeSameFlags.p50).toFixed(2)}× | ${(r.ctl.p50 / r.nodePlain.p50).toFixed(2)}× (${fmt(r.nodePlain.p50)} ms) |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.PROFILE_JSON) fs.writeFileSync(process.env.PROFILE_JSON, JSON.stringify(rows, null, 2));
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
