#!/usr/bin/env node
// Throughput of a service's output into its log file: through the supervisor (`immortal -l`)
// against the shell's `cmd > file`, plus the supervisor's RSS while it copies.
// Not a test: run it by hand and paste the table into bench/README or a PR.
//
//   node bench/log-throughput.mjs [MB] [--runs=N] [--dir=DIR]
//     MB       amount of output (default 1024, or $LOG_BENCH_MB)
//     --runs   repetitions of each case; the median is shown (default 1)
//     --dir    where the log files go (default: a temp dir under os.tmpdir())
//
// The service is test/fixtures/log-lines.mjs --bytes: 100-byte lines written in ~1 MiB
// blocks, fast enough that the copy, not the generator, is what is measured.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMMORTAL = path.join(root, 'dist', 'cli', 'immortal.js');
const GENERATOR = path.join(root, 'test', 'fixtures', 'log-lines.mjs');
const MIB = 1024 * 1024;

const args = process.argv.slice(2);
const option = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const megabytes = Number(args.find((a) => /^\d+$/.test(a)) ?? process.env.LOG_BENCH_MB ?? 1024);
const runs = Number(option('runs', 1));
const baseDir = option('dir', os.tmpdir());
const totalBytes = megabytes * MIB;

/** What the generator writes for totalBytes: whole blocks of 100-byte lines. */
const block = Math.floor(MIB / 100) * 100;
const expectedBytes = Math.ceil(totalBytes / block) * block;

function rssKiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Spawns, samples the RSS of the spawned process every 20 ms, resolves at exit. */
function timed(command, argv, opts) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, argv, opts);
    let peakRss = 0;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssKiB(child.pid)); }, 20);
    let stderr = '';
    child.stderr?.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} ${argv.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ seconds, peakRss });
    });
  });
}

async function piped(dir) {
  const file = path.join(dir, 'piped.log');
  const result = await timed('/bin/sh', ['-c', `"${process.execPath}" "${GENERATOR}" --bytes=${totalBytes} | cat > "${file}"`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  return { ...result, peakRss: 0, file };
}

async function direct(dir) {
  const file = path.join(dir, 'direct.log');
  const fd = fs.openSync(file, 'w', 0o640);
  try {
    const result = await timed(process.execPath, [GENERATOR, `--bytes=${totalBytes}`], { stdio: ['ignore', fd, 'inherit'] });
    return { ...result, peakRss: 0, file };
  } finally {
    fs.closeSync(fd);
  }
}

function supervised(extraYaml, bytes = totalBytes) {
  return async (dir) => {
    const file = path.join(dir, 'supervised.log');
    const yml = path.join(dir, 'bench.yml');
    fs.writeFileSync(yml, [
      `cmd: ${process.execPath} ${GENERATOR} --bytes=${bytes}`,
      `cwd: ${dir}`,
      'retries: 0',
      'log:',
      `  file: ${file}`,
      ...extraYaml,
      '',
    ].join('\n'));
    const env = { ...process.env, HOME: dir, IMMORTAL_SDIR: dir, IMMORTAL_EXIT: '1' };
    const result = await timed(process.execPath, [IMMORTAL, '-n', '-c', yml, '-ctl', 'bench'],
      { env, stdio: ['ignore', 'ignore', 'pipe'] });
    return { ...result, file };
  };
}

const cases = [
  { name: '`cmd > file` (direct)', run: direct, stamped: false },
  { name: '`cmd \\| cat > file` (any pipe)', run: piped, stamped: false },
  { name: '`immortal -l file`', run: supervised([]), stamped: false },
  { name: '`immortal` log + `timestamp: true`', run: supervised(['  timestamp: true']), stamped: true },
  { name: '`immortal` log + `logger: cat > file2`', run: supervised(['logger: cat > logger.out']), stamped: false, logger: true },
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const dir = fs.mkdtempSync(path.join(baseDir, 'immortal-bench-'));
  const rows = [];
  let startup = 0;
  try {
    // What a supervised run costs without output (node start-up twice, socket, exit).
    const idle = [];
    for (let i = 0; i < Math.max(runs, 3); i++) idle.push((await supervised([], 0)(dir)).seconds);
    startup = median(idle);
    fs.rmSync(path.join(dir, 'supervised.log'), { force: true });
    for (const benchCase of cases) {
      const seconds = [];
      const rss = [];
      for (let i = 0; i < runs; i++) {
        const result = await benchCase.run(dir);
        const size = fs.statSync(result.file).size;
        // A timestamp adds 25 bytes to each 100-byte line.
        const expected = benchCase.stamped ? expectedBytes * 1.25 : expectedBytes;
        if (size !== expected) throw new Error(`${benchCase.name}: ${size} bytes written, expected ${expected}`);
        fs.rmSync(result.file);
        if (benchCase.logger) {
          // The logger never slows the service down: what it cannot take in time is dropped.
          const received = fs.statSync(path.join(dir, 'logger.out')).size;
          fs.rmSync(path.join(dir, 'logger.out'));
          benchCase.received = Math.min(benchCase.received ?? 1, received / expectedBytes);
        }
        seconds.push(result.seconds);
        rss.push(result.peakRss);
      }
      const name = benchCase.logger ? `${benchCase.name} (logger got ${(100 * benchCase.received).toFixed(0)}% of lines)` : benchCase.name;
      rows.push({ name, seconds: median(seconds), peakRss: Math.max(...rss) });
      process.stderr.write(`${benchCase.name}: ${median(seconds).toFixed(2)} s\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const mb = expectedBytes / MIB;
  const base = mb / rows[0].seconds;
  console.log(`${mb.toFixed(0)} MiB of 100-byte lines, ${runs} run(s) each (median), ${os.cpus().length} CPUs, node ${process.version}, files in ${baseDir}\n`);
  console.log(`A supervised run with no output takes ${startup.toFixed(2)} s (start-up and exit); the last column leaves it out.\n`);
  console.log('| case | seconds | MB/s | vs direct | supervisor peak RSS | vs direct, without start-up |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const rate = mb / row.seconds;
    const supervisedRow = row.peakRss > 0;
    const rss = supervisedRow ? `${(row.peakRss / 1024).toFixed(1)} MiB` : '—';
    const copyOnly = supervisedRow ? `${(100 * (mb / Math.max(row.seconds - startup, 0.001)) / base).toFixed(0)}%` : '—';
    console.log(`| ${row.name} | ${row.seconds.toFixed(2)} | ${rate.toFixed(0)} | ${(100 * rate / base).toFixed(0)}% | ${rss} | ${copyOnly} |`);
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
