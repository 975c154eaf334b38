// The YAML layer under the run.yml reader: YAML 1.1 like gopkg.in/yaml.v2, walked as a node
// tree (not toJS) so keys and env values keep their source text. Knows no run.yml key: the
// key table (keys.ts) and the value types (value-types.ts) say what each node must be.

import { Alias, Document, isAlias, isMap, isScalar, isSeq, parseDocument, Scalar } from 'yaml';
import { ConfigError } from './errors';

export type YamlNode = unknown;

/** Parses YAML 1.1 text; syntax errors, duplicate keys and a non-mapping document are ConfigErrors. */
export function parseYaml(text: string, label: string): Document {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    if (error.code === 'DUPLICATE_KEY') {
      const key = text.slice(error.pos[0]).split(/[:\n]/)[0].trim();
      throw new ConfigError(`${label}: duplicate key ${JSON.stringify(key)} at line ${error.linePos?.[0].line ?? '?'}`);
    }
    throw new ConfigError(`${label}: invalid YAML: ${error.message.split('\n')[0].replace(/:$/, '')}`);
  }
  if (doc.contents === null) throw new ConfigError(`${label}: empty file (expected keys like cmd:)`);
  if (!isMap(doc.contents)) {
    const got = isSeq(doc.contents) ? 'a list' : 'a single value';
    throw new ConfigError(`${label}: expected a mapping of keys (cmd:, cwd: \u2026), got ${got}`);
  }
  return doc;
}

/** Reads nodes of one document; every problem is one ConfigError naming the file and the key. */
export class YamlReader {
  /**
   * @param label the file as the operator named it, for messages
   * @param baseDir relative paths in the file resolve against it
   */
  constructor(private readonly doc: Document, readonly label: string, readonly baseDir: string) {}

  fail(key: string, problem: string): never {
    throw new ConfigError(`${this.label}: ${key}: ${problem}`);
  }

  expected(key: string, what: string, node: YamlNode): never {
    return this.fail(key, `expected ${what}, got ${this.describe(node)}`);
  }

  deref(node: YamlNode): YamlNode {
    return isAlias(node) ? (node as Alias).resolve(this.doc) : node;
  }

  /** null (`key:` with nothing after it) means "not set", as yaml.v2 leaves the zero value. */
  isNull(node: YamlNode): boolean {
    const value = this.deref(node);
    return value === undefined || value === null || (isScalar(value) && value.value === null);
  }

  /**
   * The resolved value of a scalar, or the collection node itself (so type checks fail).
   * The yaml package reads a lone `.` as a 1.1 float (NaN); yaml.v2 keeps it as the string ".".
   */
  value(node: YamlNode): unknown {
    const value = this.deref(node);
    if (!isScalar(value)) return value;
    const notReallyNaN = typeof value.value === 'number' && Number.isNaN(value.value) && !/^\.nan$/i.test(value.source ?? '');
    return notReallyNaN ? value.source : value.value;
  }

  /** A scalar's text as written (plain scalars) or its value as text; undefined for collections. */
  text(node: YamlNode): string | undefined {
    const value = this.deref(node);
    return isScalar(value) ? scalarText(value) : undefined;
  }

  /** The items of a list node, or undefined when the node is not a list. */
  items(node: YamlNode): YamlNode[] | undefined {
    const list = this.deref(node);
    return isSeq(list) ? list.items : undefined;
  }

  describe(node: YamlNode): string {
    const value = this.deref(node);
    if (isMap(value)) return 'a mapping';
    if (isSeq(value)) return 'a list';
    if (isScalar(value)) {
      if (typeof value.value === 'string') return JSON.stringify(value.value);
      return value.source ?? String(value.value);
    }
    return 'nothing';
  }

  /**
   * The entries of a mapping. An unknown key is named in full (`pid.folow`), with a hint when
   * close to a known one; allowed null takes any key (env).
   */
  entries(node: YamlNode, key: string, allowed: readonly string[] | null): Map<string, YamlNode> {
    const entries = new Map<string, YamlNode>();
    if (this.isNull(node)) return entries;
    const map = this.deref(node);
    if (!isMap(map)) return this.expected(key, 'a mapping', node);
    for (const pair of map.items) {
      const name = this.keyText(pair.key, key);
      if (allowed && !allowed.includes(name)) {
        const full = key === '' ? name : `${key}.${name}`;
        throw new ConfigError(`${this.label}: unknown key ${JSON.stringify(full)}${suggestion(name, allowed)}`);
      }
      entries.set(name, pair.value);
    }
    return entries;
  }

  private keyText(node: YamlNode, parent: string): string {
    const key = this.deref(node);
    if (!isScalar(key)) return this.fail(parent || 'key', `keys must be plain words, got ${this.describe(node)}`);
    // Source text, not the resolved value: in YAML 1.1 a key `N` or `on` would read as a boolean.
    const text = key.source ?? String(key.value);
    if (text === '<<') return this.fail(parent || 'key', 'merge keys (<<) are not supported');
    return text;
  }
}

/** yaml.v2 reads a string field as the scalar's text: `cmd: yes` stays "yes", `PORT: 0080` stays "0080". */
function scalarText(scalar: Scalar): string {
  return scalar.type === 'PLAIN' && scalar.source !== undefined ? scalar.source : String(scalar.value);
}

/** Edit distance small enough to be a typo: `wiat` → "did you mean "wait"?". */
function suggestion(name: string, allowed: readonly string[]): string {
  const best = allowed
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .sort((a, b) => a.distance - b.distance)[0];
  return best && best.distance <= 2 ? ` (did you mean ${JSON.stringify(best.candidate)}?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const swap = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? 1 : Infinity;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1), swap);
    }
    previous = current;
  }
  return previous[b.length];
}
