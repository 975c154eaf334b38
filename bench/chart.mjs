#!/usr/bin/env node
// Draws one PNG per metric from the JSON a bench/run wrote, with gnuplot (apt-get install
// gnuplot-nox): nothing to install from npm.
//
//   node bench/chart.mjs [results.json] [out dir]
//     default: bench/charts/results.json → bench/charts/*.png
//
// A supervisor whose value is n/a keeps its place on the axis, labelled "n/a", with no bar.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const input = path.resolve(process.argv[2] ?? path.join(benchDir, 'charts', 'results.json'));
const outDir = path.resolve(process.argv[3] ?? path.join(benchDir, 'charts'));

if (spawnSync('gnuplot', ['--version']).status !== 0) {
  process.stderr.write('bench/chart.mjs: gnuplot not found (apt-get install gnuplot-nox)\n');
  process.exit(1);
}
const report = JSON.parse(fs.readFileSync(input, 'utf8'));
const columns = report.columns;
const hundred = report.options?.hundred ?? 100;
const kbToMib = (kb) => kb / 1024;

/** Each chart: series drawn side by side for every supervisor. */
const CHARTS = [
  {
    file: 'idle-rss.png',
    title: 'Idle memory supervising 1 service (RSS of all supervisor processes)',
    ylabel: 'MiB',
    series: [{ title: 'RSS', value: (r) => r.idle && kbToMib(r.idle.rssKb) }],
  },
  {
    file: 'restart-latency.png',
    title: 'Restart after kill -9 (kill → new process running)',
    ylabel: 'ms (log scale)',
    log: true,
    series: [
      { title: 'p50', value: (r) => r.restart?.p50 },
      { title: 'max', value: (r) => r.restart?.max },
    ],
  },
  {
    file: 'log-throughput.png',
    title: `Log throughput, 100-byte lines (direct redirect: ${report.direct?.mbPerSecond?.toFixed(0) ?? 'n/a'} MB/s)`,
    ylabel: 'MB/s',
    reference: report.direct?.mbPerSecond,
    series: [
      { title: 'through the supervisor', value: (r) => r.log?.mbPerSecond },
      { title: 'with a timestamp per line', value: (r) => r.logTs?.mbPerSecond },
    ],
  },
  {
    file: 'ten-memory.png',
    title: 'Memory per service, 10 idle services (PSS and anonymous RSS of the supervisor processes)',
    ylabel: 'MiB (log scale)',
    log: true,
    series: [
      { title: 'PSS, 3 s after start', value: (r) => r.ten && kbToMib(r.ten.pssKb) },
      { title: 'anonymous, 3 s', value: (r) => r.ten && kbToMib(r.ten.anonKb) },
      { title: 'PSS once idle', value: (r) => r.ten && kbToMib((r.ten.steady ?? r.ten).pssKb) },
      { title: 'anonymous once idle', value: (r) => r.ten && kbToMib((r.ten.steady ?? r.ten).anonKb) },
    ],
  },
  {
    file: 'cpu-per-event.png',
    title: 'Supervisor CPU time (schedstat): per restart after kill -9, per MB of log',
    ylabel: 'ms (log scale)',
    log: true,
    series: [
      { title: 'per restart', value: (r) => r.restart?.cpuMsPerRestart },
      { title: 'per MB logged', value: (r) => r.log?.cpuMsPerMb },
      { title: 'per MB, timestamps', value: (r) => r.logTs?.cpuMsPerMb },
    ],
  },
  {
    file: 'follow-latency.png',
    title: 'Followed (daemonized) pid killed: exit noticed, and service running again',
    ylabel: 'ms (log scale)',
    log: true,
    series: [
      { title: 'p50', value: (r) => r.follow?.p50 },
      { title: 'max', value: (r) => r.follow?.max },
      { title: 'killed → running again, p50', value: (r) => r.followRestart?.p50 },
    ],
  },
  {
    file: 'status-cli.png',
    title: 'Status query with the supervisor\'s CLI (process start included)',
    ylabel: 'ms (log scale)',
    log: true,
    series: [
      { title: 'p50', value: (r) => r.statusCli?.p50 },
      { title: 'p99', value: (r) => r.statusCli?.p99 },
      { title: 'node -e 0 in the same run, p50', value: (r) => r.statusCliVsNode?.nodeP50 },
    ],
  },
  {
    file: 'status-api.png',
    title: 'Status query programmatically (socket, RPC or status file)',
    ylabel: 'ms (log scale)',
    log: true,
    series: [
      { title: 'p50', value: (r) => r.statusApi?.p50 },
      { title: 'p99', value: (r) => r.statusApi?.p99 },
    ],
  },
  {
    file: 'hundred-rss.png',
    title: `Memory of the supervisor processes for ${hundred} idle services`,
    ylabel: 'MiB (log scale)',
    log: true,
    series: [
      { title: 'RSS', value: (r) => r.hundred && kbToMib(r.hundred.rssKb) },
      { title: 'PSS', value: (r) => r.hundred && kbToMib(r.hundred.pssKb) },
      // Node.js supervisors only; the others' PSS does not change once idle.
      { title: 'PSS once idle', value: (r) => r.hundred && kbToMib((r.hundred.steady ?? r.hundred).pssKb) },
    ],
  },
];

const valueOf = (fn, result) => {
  try {
    const value = fn(result ?? {});
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
};

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-chart-'));
try {
  fs.mkdirSync(outDir, { recursive: true });
  for (const chart of CHARTS) {
    const rows = columns.map((column) => {
      const result = Object.fromEntries(
        Object.entries(report.results[column.id] ?? {}).map(([key, value]) => [key, value?.na ? undefined : value]),
      );
      const values = chart.series.map((series) => valueOf(series.value, result));
      const name = values.every((v) => v === undefined) ? `${column.label}\\n(n/a)` : column.label;
      return { name, values };
    });
    const data = rows.map((row) => [`"${row.name}"`, ...row.values.map((v) => (v === undefined ? 'NaN' : String(v)))].join(' '));
    const dataFile = path.join(work, `${chart.file}.dat`);
    fs.writeFileSync(dataFile, `${data.join('\n')}\n`);
    const n = chart.series.length;
    const width = 0.8 / n;
    const plots = chart.series.map((series, i) => `'${dataFile}' using ${i + 2}:xtic(1) title '${series.title}'`);
    chart.series.forEach((series, i) => {
      const offset = (i - (n - 1) / 2) * width;
      plots.push(`'${dataFile}' using ($0${offset >= 0 ? '+' : ''}${offset}):${i + 2}:(sprintf("%s", lbl(column(${i + 2})))) with labels offset 0,0.6 font ",8" notitle`);
    });
    if (chart.reference) plots.push(`${chart.reference} with lines dashtype 2 lw 2 lc rgb "#444444" title 'direct redirect'`);
    const allValues = rows.flatMap((row) => row.values).filter((v) => v !== undefined);
    const top = allValues.length ? Math.max(...allValues, chart.reference ?? 0) : 1;
    const bottom = allValues.length ? Math.min(...allValues) : 1;
    const script = [
      `set terminal pngcairo size 1000,520 font "DejaVu Sans,10"`,
      `set output '${path.join(outDir, chart.file)}'`,
      `set title "${chart.title}"`,
      `set ylabel "${chart.ylabel}"`,
      'set style data histograms',
      'set style histogram clustered gap 1',
      'set style fill solid 0.85 border -1',
      `set boxwidth 0.9`,
      'set grid ytics',
      'set key top right',
      'set xtics nomirror',
      'set bmargin 4',
      `lbl(x) = (x != x) ? "" : (x >= 100 ? sprintf("%.0f", x) : (x >= 10 ? sprintf("%.1f", x) : (x >= 1 ? sprintf("%.2f", x) : sprintf("%.2g", x))))`,
      chart.log ? `set logscale y` : '',
      chart.log ? `set yrange [${bottom / 3}:${top * 4}]` : `set yrange [0:${top * 1.18}]`,
      `plot ${plots.join(', \\\n     ')}`,
    ].join('\n');
    const scriptFile = path.join(work, `${chart.file}.gp`);
    fs.writeFileSync(scriptFile, `${script}\n`);
    const result = spawnSync('gnuplot', [scriptFile], { encoding: 'utf8' });
    if (result.status !== 0) {
      process.stderr.write(`gnuplot failed for ${chart.file}:\n${result.stderr}\n`);
      process.exitCode = 1;
      continue;
    }
    process.stdout.write(`${path.relative(process.cwd(), path.join(outDir, chart.file))}\n`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
