// Reading a run.yml: YAML 1.1 like gopkg.in/yaml.v2, then every key checked against the key
// table (keys.ts) for its section, type and rule; each problem one line naming file and key.

import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, errnoText } from './errors';
import { type KeyEntry, RUN_YML_KEYS } from './keys';
import { parseYaml, type YamlNode, YamlReader } from './yaml-reader';

/** What a run.yml says: the keys it sets, typed and checked, relative paths already absolute. */
export interface RunYml {
  /** The path as the operator gave it: used in messages. */
  label: string;
  /** Absolute path of the file. */
  path: string;
  /** Value of every key the file sets (a key with nothing after it is not set), by dotted name. */
  values: Map<string, unknown>;
  /** Sections written with at least one key (`log`): their required key must then be set. */
  sections: Set<string>;
}

/** Reads and checks the run.yml at `file` (relative to the current directory). */
export function readRunYml(file: string, keys: readonly KeyEntry[] = RUN_YML_KEYS): RunYml {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read (${errnoText(err)})`);
  }
  return parseRunYml(text, file, path.resolve(file), keys);
}

/** Parses and checks run.yml text; label names the file in messages. */
export function parseRunYml(text: string, label: string, absolutePath: string, keys: readonly KeyEntry[] = RUN_YML_KEYS): RunYml {
  const doc = parseYaml(text, label);
  const reader = new YamlReader(doc, label, path.dirname(absolutePath));
  const result: RunYml = { label, path: absolutePath, values: new Map(), sections: new Set() };
  readSection(reader, doc.contents, '', keys, result);
  for (const entry of keys) {
    if (entry.required && !entry.name.includes('.') && !result.values.has(entry.name)) {
      reader.fail(entry.name, `missing (${entry.required})`);
    }
  }
  return result;
}

/** One mapping of the file: its allowed keys are the next name segment of the table's keys under `prefix`. */
function readSection(reader: YamlReader, node: YamlNode, prefix: string, keys: readonly KeyEntry[], result: RunYml): void {
  const depth = prefix === '' ? 0 : prefix.split('.').length;
  const children = new Map<string, KeyEntry | 'section'>();
  for (const entry of keys) {
    const segments = entry.name.split('.');
    if (segments.length <= depth || (prefix !== '' && segments.slice(0, depth).join('.') !== prefix)) continue;
    children.set(segments[depth], segments.length === depth + 1 ? entry : 'section');
  }
  const entries = reader.entries(node, prefix, [...children.keys()]);
  if (prefix !== '' && entries.size > 0) result.sections.add(prefix);
  for (const [name, child] of entries) {
    const full = prefix === '' ? name : `${prefix}.${name}`;
    const entry = children.get(name)!;
    if (entry === 'section') {
      readSection(reader, child, full, keys, result);
    } else if (reader.isNull(child)) {
      // `cmd:` with nothing after it is a mistake, not an absent cmd.
      if (entry.required && depth === 0) reader.fail(full, 'empty');
    } else {
      const value = entry.type.read(reader, child, full);
      const problem = entry.check?.problem(value);
      if (problem) reader.fail(full, problem);
      result.values.set(full, value);
    }
  }
}
