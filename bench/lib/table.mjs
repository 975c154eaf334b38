// The markdown table: one row per metric, one column per supervisor, "n/a" where a
// measurement could not run, and a note saying why under the table.

import { fmt, mib } from './stats.mjs';

const ms = (summary, a = 'p50', b = 'max') => `${fmt(summary[a])} / ${fmt(summary[b])} ms`;

export const ROWS = [
  {
    key: 'idle',
    label: 'idle RSS, 1 service (all supervisor processes)',
    cell: (r) => `${fmt(mib(r.rssKb))} MiB (${r.processes} proc)`,
  },
  {
    key: 'ten',
    label: '10 services: PSS / anonymous RSS per service (smaps_rollup, supervisor processes), 3 s after start (--quick: 1 s)',
    cell: (r) => `${fmt(mib(r.pssKb))} / ${fmt(mib(r.anonKb))} MiB`,
  },
  {
    key: 'tenSteady',
    from: 'ten',
    label: '10 services: PSS / anonymous RSS per service once idle (median of 70-100 s after start: V8 shrinks an idle heap)',
    cell: (r) => (r.steady ? `${fmt(mib(r.steady.pssKb))} / ${fmt(mib(r.steady.anonKb))} MiB` : '= above'),
  },
  { key: 'restart', label: 'restart after kill -9 (every supervisor in turn, round after round): p50 / max', cell: (r) => ms(r) },
  {
    key: 'restartCpu',
    from: 'restart',
    label: 'supervisor CPU time per restart (schedstat; robust to load)',
    cell: (r) => (r.cpuMsPerRestart === undefined ? 'n/a' : `${fmt(r.cpuMsPerRestart)} ms`),
  },
  {
    key: 'log',
    label: 'log throughput, 100-byte lines, the median round (× direct redirect, without start-up)',
    cell: (r, direct) => `${fmt(r.mbPerSecond)} MB/s${direct?.mbPerSecond ? ` (${(r.mbPerSecond / direct.mbPerSecond).toFixed(2)}×)` : ''}`,
  },
  {
    key: 'logTs',
    label: 'log throughput with a timestamp per line (× direct redirect)',
    cell: (r, direct) => `${fmt(r.mbPerSecond)} MB/s${direct?.mbPerSecond ? ` (${(r.mbPerSecond / direct.mbPerSecond).toFixed(2)}×)` : ''}`,
  },
  {
    key: 'logCpu',
    from: 'log',
    label: 'log: supervisor CPU per MB, without / with timestamps',
    cell: (r, direct, all) => `${fmt(r.cpuMsPerMb)} / ${all?.logTs?.cpuMsPerMb === undefined ? 'n/a' : fmt(all.logTs.cpuMsPerMb)} ms`,
  },
  { key: 'follow', label: 'follow-pid exit detection: p50 / max', cell: (r) => ms(r) },
  { key: 'followRestart', label: 'follow-pid: followed pid killed → running again: p50 / max', cell: (r) => ms(r) },
  { key: 'statusCli', label: 'status via its CLI: p50 / p99', cell: (r) => ms(r, 'p50', 'p99') },
  {
    key: 'statusCliVsNode',
    label: 'status via its CLI ÷ `node -e 0` (p50, each run right after its own)',
    cell: (r) => `${r.ratio.toFixed(2)}× (${fmt(r.nodeP50)} ms)`,
  },
  { key: 'statusApi', label: 'status via socket / RPC / status file: p50 / p99', cell: (r) => ms(r, 'p50', 'p99') },
  {
    key: 'hundred',
    label: (n) => `${n} services: RSS of supervisor processes (per service)`,
    cell: (r) => `${fmt(mib(r.rssKb))} MiB (${fmt(mib(r.rssKb) / r.count)})`,
  },
  {
    key: 'hundredPss',
    from: 'hundred',
    label: (n) => `${n} services: PSS (shared pages split)`,
    cell: (r) => `${fmt(mib(r.pssKb))} MiB (${fmt(mib(r.pssKb) / r.count)})`,
  },
  {
    key: 'hundredSteady',
    from: 'hundred',
    label: (n) => `${n} services: PSS once idle (median of 70-100 s after start)`,
    cell: (r) => (r.steady ? `${fmt(mib(r.steady.pssKb))} MiB (${fmt(mib(r.steady.pssKb) / r.count)})` : '= above'),
  },
  { key: 'hundredUp', from: 'hundred', label: (n) => `${n} services: all started after`, cell: (r) => `${fmt(r.allUpMs)} ms` },
];

/** results: {id: {idle, restart, …}}; columns: [{id, label}]. Returns markdown text. */
export function renderTable(columns, results, direct, hundred = 100) {
  const lines = [];
  lines.push(`| metric | ${columns.map((c) => c.label).join(' | ')} |`);
  lines.push(`|---|${columns.map(() => '---:').join('|')}|`);
  const notes = new Map();
  for (const row of ROWS) {
    const cells = columns.map((column) => {
      const value = results[column.id]?.[row.from ?? row.key];
      if (!value || value.na) {
        const reason = value?.na ?? 'not measured';
        const key = `${column.label}: ${reason}`;
        if (!notes.has(key)) notes.set(key, new Set());
        notes.get(key).add(row.from ?? row.key);
        return 'n/a';
      }
      let text = row.cell(value, direct, results[column.id]);
      if (value.partial) text += ' *';
      return text;
    });
    const base = typeof row.label === 'function' ? row.label(hundred) : row.label;
    const label = row.key === 'log' && direct?.mbPerSecond ? `${base}; direct: ${fmt(direct.mbPerSecond)} MB/s` : base;
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  const noteLines = [];
  for (const [key, metrics] of notes) noteLines.push(`- n/a — ${key} (${[...metrics].join(', ')})`);
  for (const column of columns) {
    for (const [metric, value] of Object.entries(results[column.id] ?? {})) {
      if (value?.partial) noteLines.push(`- \\* ${column.label} ${metric}: stopped early — ${value.partial}`);
      if (value?.forcedKills) noteLines.push(`- ${column.label} ${metric}: ${value.forcedKills} process(es) outlived the supervisor's stop and were KILLed`);
    }
  }
  return `${lines.join('\n')}\n${noteLines.length ? `\n${noteLines.join('\n')}\n` : ''}`;
}
