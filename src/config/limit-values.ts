// The values of `limits:`, `cgroup:` and `restart_if:` (docs/limits.md). Each reads one YAML
// node and names its key in every error, like the other types in value-types.ts.
//
// Units, decided once for all three sections:
// - byte-valued rlimits (as core data fsize memlock stack) and every memory size take a bare
//   integer as bytes, or K/M/G/T (powers of 1024): `core: 0`, `stack: 8M`, `memory_max: 512M`.
//   A bare number is bytes, as in setrlimit(2), systemd's LimitCORE= and cgroup's memory.max
//   (not ulimit's KB): `memory: 10` means 10 bytes, never 10 megabytes;
// - counts (nofile nproc) and seconds (cpu) take a bare integer; a unit there is an error;
// - `unlimited` (or -1 nowhere: a negative number is an error) for RLIM_INFINITY / "max".

import type { YamlNode, YamlReader } from './yaml-reader';
import type { ValueType } from './value-types';

/** One rlimit as spawn takes it: -1 is unlimited. */
export interface LimitValue {
  soft: number;
  hard: number;
}

/** The names setrlimit takes here (native/limits.cc), and what their numbers count. */
export const LIMIT_UNITS: Readonly<Record<string, 'bytes' | 'count' | 'seconds'>> = {
  as: 'bytes', core: 'bytes', cpu: 'seconds', data: 'bytes', fsize: 'bytes', memlock: 'bytes',
  nofile: 'count', nproc: 'count', stack: 'bytes',
};
export const LIMIT_NAMES: readonly string[] = Object.keys(LIMIT_UNITS);

const SIZE_UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const UNLIMITED = -1;

/** "512M" → bytes; "10" → 10; undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([KMGT])?$/i.exec(text.trim());
  if (!match) return undefined;
  const bytes = Math.round(Number(match[1]) * (match[2] ? SIZE_UNITS[match[2].toUpperCase()] : 1));
  return match[2] === undefined && !Number.isInteger(Number(match[1])) ? undefined : bytes;
}

/** Bytes as an operator writes them: 412M, 1.5G, 900K, 12 (bytes). */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes >= factor) return `${Math.round((bytes / factor) * 10) / 10}${unit}`;
  }
  return `${bytes}`;
}

/** Bytes in the largest unit that divides them exactly, for -cc: 536870912 → 512M. */
export function exactSize(bytes: number): string | number {
  for (const [unit, factor] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes > 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return bytes;
}

/** The text of a scalar (a number as written, a string as is); undefined for a list or map. */
function scalarOf(reader: YamlReader, node: YamlNode): string | undefined {
  const value = reader.value(node);
  if (typeof value === 'number') return reader.text(node) ?? String(value);
  return typeof value === 'string' ? value : undefined;
}

/** One side of an rlimit: a number in the name's unit, or `unlimited` → -1; undefined when not. */
function limitSide(text: string, unit: 'bytes' | 'count' | 'seconds'): number | undefined {
  const trimmed = text.trim();
  if (/^(unlimited|infinity)$/i.test(trimmed)) return UNLIMITED;
  if (unit === 'bytes') return parseSize(trimmed);
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

/** A value of `limits.NAME`; the name is the last part of the key (`limits.nofile`). */
export const limitValue: ValueType<LimitValue> = {
  doc: 'number, `unlimited` or "soft:hard"',
  read(reader, node, key) {
    const unit = LIMIT_UNITS[key.slice(key.lastIndexOf('.') + 1)];
    const what = `${unit === 'bytes' ? 'a size (K, M, G)' : 'a number'}, "unlimited" or "soft:hard"`;
    const text = scalarOf(reader, node);
    if (text === undefined) return reader.expected(key, what, node);
    const sides = text.split(':');
    if (sides.length > 2) return reader.expected(key, what, node);
    const [soft, hard] = sides.map((side) => limitSide(side, unit));
    if (soft === undefined || (sides.length === 2 && hard === undefined)) return reader.expected(key, what, node);
    const value = { soft, hard: sides.length === 2 ? hard! : soft };
    if (value.hard !== UNLIMITED && (value.soft === UNLIMITED || value.soft > value.hard)) {
      return reader.fail(key, `the soft limit must not be above the hard one, got ${JSON.stringify(text)}`);
    }
    return value;
  },
  toYaml: (value) => {
    const side = (n: number) => (n === UNLIMITED ? 'unlimited' : n);
    return value.soft === value.hard ? side(value.soft) : `${side(value.soft)}:${side(value.hard)}`;
  },
};

/** A memory size, bytes when bare: `memory_max: 512M`, `memory: 400M`. */
export const memorySize: ValueType<number> = {
  doc: 'size (K/M/G; bare = bytes)',
  read(reader, node, key) {
    const text = scalarOf(reader, node);
    const bytes = text === undefined ? undefined : parseSize(text);
    if (bytes === undefined) return reader.expected(key, 'a size like 512M (K, M, G, T; a bare number is bytes)', node);
    return bytes;
  },
  toYaml: exactSize,
};

/** CPUs as a fraction: `cpu_max: 1.5` (one and a half CPUs' time per period). */
export const cpuCount: ValueType<number> = {
  doc: 'CPUs (fraction)',
  read(reader, node, key) {
    const value = reader.value(node);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return reader.expected(key, 'a number of CPUs above 0 like 1.5', node);
    // cpu.max's quota must be at least 1 ms of the 100 ms period.
    if (value < 0.01) return reader.fail(key, `must be at least 0.01 CPUs, got ${value}`);
    return value;
  },
};

/** A positive integer count (pids_max). */
export const positiveCount: ValueType<number> = {
  doc: 'integer \u2265 1',
  read(reader, node, key) {
    const value = reader.value(node);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return reader.expected(key, 'an integer of 1 or more', node);
    return value;
  },
};
