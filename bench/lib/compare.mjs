// The regression check: this run's numbers for our own columns against a recorded run
// (bench/charts/results.json by default), as ratios. A developer runs `bench/run --quick`
// before and after a change; a metric more than THRESHOLD× worse than recorded is flagged.
//
// Where the quick run differs in size from the recorded one (log megabytes, services in the
// many-services part), only size-independent forms are compared: throughput as a fraction of
// the direct redirect measured in the same run, memory per service, the CLI ÷ `node -e 0`.

import fs from 'node:fs';
import { fmt, mib } from './stats.mjs';

export const THRESHOLD = 1.2;

/** Columns a change to this repository can move. */
const OWN_COLUMNS = ['immortal', 'immortaldir'];

const perDirect = (key) => (result, report) => {
  const value = result[key]?.mbPerSecond;
  const direct = report.direct?.mbPerSecond;
  return value && direct ? value / direct : undefined;
};

/** Each: label, how to read it from a report's column, whether higher is better, its unit. */
const METRICS = [
  { label: 'idle RSS, 1 service', read: (r) => r.idle?.rssKb && mib(r.idle.rssKb), unit: 'MiB' },
  { label: '10 services: PSS per service', read: (r) => r.ten?.pssKb && mib(r.ten.pssKb), unit: 'MiB' },
  { label: '10 services: anonymous RSS per service', read: (r) => r.ten?.anonKb && mib(r.ten.anonKb), unit: 'MiB' },
  { label: '10 services, idle: PSS per service', read: (r) => r.ten?.steady?.pssKb && mib(r.ten.steady.pssKb), unit: 'MiB' },
  { label: '10 services, idle: anonymous RSS per service', read: (r) => r.ten?.steady?.anonKb && mib(r.ten.steady.anonKb), unit: 'MiB' },
  { label: 'restart after kill -9, p50', read: (r) => r.restart?.p50, unit: 'ms' },
  { label: 'supervisor CPU per restart', read: (r) => r.restart?.cpuMsPerRestart, unit: 'ms' },
  { label: 'log throughput ÷ direct redirect', read: perDirect('log'), higherIsBetter: true, unit: '×' },
  { label: 'log: supervisor CPU per MB', read: (r) => r.log?.cpuMsPerMb, unit: 'ms' },
  { label: 'log with timestamps: supervisor CPU per MB', read: (r) => r.logTs?.cpuMsPerMb, unit: 'ms' },
  { label: 'log with timestamps ÷ direct redirect', read: perDirect('logTs'), higherIsBetter: true, unit: '×' },
  { label: 'follow-pid exit detection, p50', read: (r) => r.follow?.p50, unit: 'ms' },
  { label: 'followed pid killed → running again, p50', read: (r) => r.followRestart?.p50, unit: 'ms' },
  { label: 'status via CLI, p50', read: (r) => r.statusCli?.p50, unit: 'ms' },
  { label: 'status via CLI ÷ node -e 0', read: (r) => r.statusCliVsNode?.ratio, unit: '×' },
  { label: 'status via socket, p50', read: (r) => r.statusApi?.p50, unit: 'ms' },
  // Per service at the same count only: the fixed cost of a process is spread over them all.
  { label: 'many services: PSS per service', read: (r) => r.hundred?.pssKb && mib(r.hundred.pssKb) / r.hundred.count, unit: 'MiB', sameCount: (r) => r.hundred?.count },
  { label: 'many services, idle: PSS per service', read: (r) => r.hundred?.steady?.pssKb && mib(r.hundred.steady.pssKb) / r.hundred.count, unit: 'MiB', sameCount: (r) => r.hundred?.count },
];

export function loadRecorded(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return { error: `${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}` };
  }
}

/**
 * Rows {column, metric, now, recorded, worse} for every metric both runs have; `worse` is
 * how many times worse now is (below 1: better).
 */
export function compareRuns(now, recorded) {
  const rows = [];
  for (const column of OWN_COLUMNS) {
    const a = now.results?.[column];
    const b = recorded.results?.[column];
    if (!a || !b) continue;
    for (const metric of METRICS) {
      if (metric.sameCount && metric.sameCount(a) !== metric.sameCount(b)) continue;
      const valueNow = validNumber(metric.read(a, now));
      const valueRecorded = validNumber(metric.read(b, recorded));
      if (valueNow === undefined || valueRecorded === undefined) continue;
      const worse = metric.higherIsBetter ? valueRecorded / valueNow : valueNow / valueRecorded;
      rows.push({ column, metric: metric.label, unit: metric.unit, now: valueNow, recorded: valueRecorded, worse });
    }
  }
  return rows;
}

function validNumber(value) {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Markdown: one row per metric and column; "vs recorded" is now ÷ recorded in "worse" terms. */
export function renderComparison(rows, recorded, recordedFile) {
  const lines = [
    `Against the recorded run ${recorded.startedAt ?? '?'} (${recordedFile}; load then ${recorded.machine?.loadavg ?? '?'}):`,
    `"vs recorded" is how many times worse this run is (< 1: better); ⚠ marks more than ${THRESHOLD}×.`,
    '',
    '| metric | column | now | recorded | vs recorded |',
    '|---|---|---:|---:|---:|',
  ];
  for (const row of rows) {
    const flag = row.worse > THRESHOLD ? ' ⚠' : '';
    lines.push(`| ${row.metric} | ${row.column} | ${fmt(row.now)} ${row.unit} | ${fmt(row.recorded)} ${row.unit} | ${row.worse.toFixed(2)}×${flag} |`);
  }
  const flagged = rows.filter((row) => row.worse > THRESHOLD);
  lines.push('');
  lines.push(
    flagged.length === 0
      ? `No metric more than ${THRESHOLD}× worse than recorded.`
      : `${flagged.length} metric(s) more than ${THRESHOLD}× worse than recorded: ${flagged.map((r) => `${r.column} ${r.metric}`).join('; ')}. Latencies move with the machine's load: re-run on a quiet machine before believing one.`,
  );
  return `${lines.join('\n')}\n`;
}
