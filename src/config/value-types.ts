// The kinds of value a run.yml key can hold. A type reads a non-null YAML node (shape errors
// name the key), takes the same value given outside the file (a flag), and says what `-cc`
// prints. Ranges and other rules of one key are its entry's `check` (keys.ts), not the type.
//
// Composite kinds are built from the simple ones, so a key of the shape the open issues add
// is one entry: `listOf(text)` for `listen: [...]`, `mapOf(limitValue)` for `limits: {...}`,
// `mapping({http, tcp, cmd, interval, timeout}, {exactlyOne: [...]})` for `ready:`/`health:`,
// `size` for `memory_max: 512M` (test/config-keys.test.mjs reads a table of such keys).

import path from 'node:path';
import type { YamlNode, YamlReader } from './yaml-reader';

export interface ValueType<T> {
  /** The type as docs/config.md names it: "seconds", "path". */
  doc: string;
  /** A non-null node → the value; a wrong shape fails naming `key`. */
  read(reader: YamlReader, node: YamlNode, key: string): T;
  /** The same value given outside the file (a flag); undefined = not given. Default: as is. */
  fromInput?(value: unknown): T | undefined;
  /** What -cc prints; undefined leaves the key out. Default: the value. */
  toYaml?(value: T): unknown;
  /** -cc prints the number in octal (`0660`). */
  octal?: boolean;
}

// ── text ──────────────────────────────────────────────────────────────────────────────────

/** A string: quote it if YAML would read a number or yes/no. */
export const text: ValueType<string> = {
  doc: 'string',
  read(reader, node, key) {
    const value = reader.value(node);
    if (typeof value !== 'string') return reader.expected(key, 'a string (quote it if it looks like a number or yes/no)', node);
    return plainText(reader, key, value);
  },
};

function plainText(reader: YamlReader, key: string, value: string): string {
  if (value.trim() === '') return reader.fail(key, 'empty');
  if (value.includes('\0')) return reader.fail(key, 'contains a NUL byte');
  return value;
}

/** A path: relative to the run.yml's directory, or (from a flag) to the current directory. */
export const filePath: ValueType<string> = {
  doc: 'path',
  read: (reader, node, key) => path.resolve(reader.baseDir, text.read(reader, node, key)),
  fromInput: (value) => (value === undefined ? undefined : path.resolve(value as string)),
};

/** One command line, its text as written (yaml.v2 for a string field: `cmd: yes` runs yes(1)). */
export const commandLine: ValueType<string> = {
  doc: 'command line',
  read(reader, node, key) {
    const written = reader.text(node);
    if (written === undefined) return reader.expected(key, 'a command line (one string)', node);
    return plainText(reader, key, written);
  },
};

/** A command line split like Go's strings.Fields; from outside the file, the words as given. */
export const commandWords: ValueType<string[]> = {
  doc: 'command line',
  read: (reader, node, key) => splitFields(commandLine.read(reader, node, key)),
  fromInput: (value) => ((value as string[] | undefined)?.length ? [...(value as string[])] : undefined),
  toYaml: (words) => words.join(' '),
};

/** Go's strings.Fields: split on runs of whitespace, no quoting, no shell. */
export function splitFields(line: string): string[] {
  return line.split(/\s+/).filter((word) => word !== '');
}

/** A name, or a numeric id written as a bare number (`user: 0`, `group: 100`). */
export function nameOrId(doc: string): ValueType<string> {
  return {
    doc,
    read(reader, node, key) {
      const value = reader.value(node);
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
      return text.read(reader, node, key);
    },
  };
}

// ── numbers ───────────────────────────────────────────────────────────────────────────────

/** A number; `what` completes "expected …" in messages. */
export function numberOf(doc: string, what: string, integer = false): ValueType<number> {
  return {
    doc,
    read(reader, node, key) {
      const num = reader.value(node);
      if (typeof num !== 'number' || !Number.isFinite(num)) return reader.expected(key, what, node);
      if (integer && !Number.isInteger(num)) return reader.expected(key, 'an integer', node);
      return num;
    },
  };
}

export const seconds = numberOf('seconds', 'a number of seconds');
export const integer = numberOf('integer', 'an integer', true);

export const boolean: ValueType<boolean> = {
  doc: 'bool',
  read(reader, node, key) {
    const value = reader.value(node);
    if (typeof value !== 'boolean') return reader.expected(key, 'true or false', node);
    return value;
  },
};

const modeNumber = numberOf('octal', 'an octal mode like 0660', true);

/** A file mode: YAML 1.1 octal (`0660`) or a quoted octal string ("0660"); decimal 660 is a mistake. */
export const octalMode: ValueType<number> = {
  doc: 'octal \u2264 0777',
  octal: true,
  read(reader, node, key) {
    const value = reader.value(node);
    if (typeof value === 'string' && /^0?[0-7]{1,3}$/.test(value)) return parseInt(value, 8);
    const mode = modeNumber.read(reader, node, key);
    if (mode < 0) reader.fail(key, `must be 0 or more, got ${mode}`);
    if (mode > 0o777) reader.expected(key, 'an octal mode like 0660 (at most 0777)', node);
    return mode;
  },
};

const SIZE_UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes: a bare integer, or a number with K, M, G or T (powers of 1024): `512M`. */
export const size: ValueType<number> = {
  doc: 'size (K/M/G)',
  read(reader, node, key) {
    const value = reader.value(node);
    const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(value.trim()) : null;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    if (!match) return reader.expected(key, 'a size like 512M (K, M, G, T)', node);
    return Math.round(Number(match[1]) * SIZE_UNITS[match[2].toUpperCase()]);
  },
};

// ── collections ───────────────────────────────────────────────────────────────────────────

/** A list (`[db, cache]`); each item read as `item`, named `key[i]` in messages. -cc leaves an empty list out. */
export function listOf<T>(item: ValueType<T>, doc = `list of ${item.doc}s`): ValueType<T[]> {
  return {
    doc,
    read(reader, node, key) {
      const items = reader.items(node);
      if (!items) return reader.expected(key, 'a list like [db, cache]', node);
      return items.map((child, index) => {
        if (reader.isNull(child)) return reader.fail(`${key}[${index}]`, 'empty');
        return item.read(reader, child, `${key}[${index}]`);
      });
    },
    toYaml: (list) => (list.length > 0 ? list.map((value) => (item.toYaml ? item.toYaml(value) : value)) : undefined),
  };
}

export interface MapOptions<T> {
  /** The value of `NAME:` with nothing after it; without it, that is an error. */
  nullValue?: T;
  /** The names allowed (with did-you-mean hints); any name when absent. */
  names?: readonly string[];
  /** A problem with a name, or undefined when it is fine. */
  checkName?(name: string): string | undefined;
}

/** A mapping of names the operator chooses (`env:`) or from a fixed list (`limits:`), all values of one type. */
export function mapOf<T>(value: ValueType<T>, doc: string, options: MapOptions<T> = {}): ValueType<Record<string, T>> {
  return {
    doc,
    read(reader, node, key) {
      const result: Record<string, T> = {};
      for (const [name, child] of reader.entries(node, key, options.names ?? null)) {
        const entryKey = `${key}.${name}`;
        const problem = options.checkName?.(name);
        if (problem) reader.fail(entryKey, problem);
        if (reader.isNull(child) && options.nullValue !== undefined) result[name] = options.nullValue;
        else if (reader.isNull(child)) reader.fail(entryKey, 'empty');
        else result[name] = value.read(reader, child, entryKey);
      }
      return result;
    },
    // Sorted so -cc output is stable; empty is left out.
    toYaml: (map) => {
      const names = Object.keys(map).sort();
      const shown = (item: T) => (value.toYaml ? value.toYaml(item) : item);
      return names.length > 0 ? Object.fromEntries(names.map((name) => [name, shown(map[name])])) : undefined;
    },
  };
}

export interface MappingOptions {
  /** Exactly one of these fields must be set (`ready: {http | tcp | cmd}`). */
  exactlyOne?: readonly string[];
}

/** A small mapping whose fields each have their own type (`ready: {tcp: ..., timeout: 5}`). */
export function mapping(fields: Record<string, ValueType<unknown>>, doc: string, options: MappingOptions = {}): ValueType<Record<string, unknown>> {
  return {
    doc,
    read(reader, node, key) {
      const result: Record<string, unknown> = {};
      for (const [name, child] of reader.entries(node, key, Object.keys(fields))) {
        if (!reader.isNull(child)) result[name] = fields[name].read(reader, child, `${key}.${name}`);
      }
      const chosen = options.exactlyOne?.filter((name) => result[name] !== undefined);
      if (chosen && chosen.length !== 1) {
        reader.fail(key, `needs exactly one of ${options.exactlyOne!.join(', ')}${chosen.length ? `, got ${chosen.join(' and ')}` : ''}`);
      }
      return result;
    },
  };
}

/** A scalar's text exactly as written, empty allowed (an env value: `on` stays "on", `0080` stays "0080"). */
export const sourceText: ValueType<string> = {
  doc: 'string',
  read(reader, node, key) {
    const written = reader.text(node);
    if (written === undefined) return reader.expected(key, 'a string value', node);
    if (written.includes('\0')) return reader.fail(key, 'contains a NUL byte');
    return written;
  },
};

/** A service name as `require:` uses it: the basename of a supervise dir, so never a path. */
export const serviceName: ValueType<string> = {
  doc: 'name',
  read(reader, node, key) {
    const name = text.read(reader, node, key);
    if (name.includes('/') || name === '.' || name === '..') reader.fail(key, `not a service name: ${JSON.stringify(name)}`);
    return name;
  },
};
