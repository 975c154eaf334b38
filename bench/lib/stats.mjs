// Percentiles and number formatting for the benchmark tables.

/** Nearest-rank percentile (p in 0..100) of a list of numbers; undefined when empty. */
export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(values) {
  if (values.length === 0) return { n: 0 };
  return {
    n: values.length,
    min: Math.min(...values),
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
    mean: values.reduce((sum, v) => sum + v, 0) / values.length,
  };
}

/** 3 significant digits, at most 3 decimals: 0.0123, 1.23, 12.3, 123, 1234. */
export function fmt(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs >= 0.01) return value.toFixed(3);
  return value.toPrecision(2);
}

export function mib(kb) {
  return kb / 1024;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}
