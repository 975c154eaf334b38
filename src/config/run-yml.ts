// Reading a run.yml: YAML 1.1 like gopkg.in/yaml.v2, then every key checked for its type,
// each problem reported as one line naming the file and the key.

import path from 'node:path';
import { Alias, Document, isAlias, isMap, isScalar, isSeq, parseDocument, Scalar } from 'yaml';

/** A configuration problem: one line, naming the file (or flag) and the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    // Callers print message as is; a stray newline from a library would break "one line".
    super(message.replace(/\s*\n\s*/g, ' '));
    this.name = 'ConfigError';
  }
}

/** A log section as written; absent keys stay undefined so flags can fill them. */
export interface LogSection {
  file?: string;
  age?: number;
  num?: number;
  size?: number;
  timestamp?: boolean;
}

/** What a run.yml says, typed, with relative paths already resolved against its directory. */
export interface ServiceFile {
  /** The path as the operator gave it: used in messages. */
  label: string;
  /** Absolute path of the file. */
  path: string;
  cmd?: string[];
  cwd?: string;
  env?: Record<string, string>;
  envdir?: string;
  pid: { follow?: string; parent?: string; child?: string };
  log?: LogSection;
  stderr?: LogSection;
  logger?: string;
  user?: string;
  wait?: number;
  retries?: number;
  require?: string[];
  requireCmd?: string;
  postExit?: string;
  stopTimeout?: number;
  backoff: { cap?: number; reset?: number };
  socket: { mode?: number; group?: string };
}

const TOP_KEYS = ['cmd', 'cwd', 'env', 'envdir', 'pid', 'log', 'stderr', 'logger', 'user', 'wait', 'retries',
  'require', 'require_cmd', 'post_exit', 'stop_timeout', 'backoff', 'socket'];
const PID_KEYS = ['follow', 'parent', 'child'];
const LOG_KEYS = ['file', 'age', 'num', 'size', 'timestamp'];
const BACKOFF_KEYS = ['cap', 'reset'];
const SOCKET_KEYS = ['mode', 'group'];

type YamlNode = unknown;

interface NumberRule {
  /** What the number counts, for the message: "a number of seconds". */
  what: string;
  integer?: boolean;
  min?: number;
  /** Strictly greater than this. */
  above?: number;
  max?: number;
}

/** Walks the YAML node tree (not toJS) so keys and env values keep their source text. */
class ServiceFileReader {
  constructor(private readonly doc: Document, private readonly label: string, private readonly baseDir: string) {}

  fail(key: string, problem: string): never {
    throw new ConfigError(`${this.label}: ${key}: ${problem}`);
  }

  private deref(node: YamlNode): YamlNode {
    return isAlias(node) ? (node as Alias).resolve(this.doc) : node;
  }

  /** null (`key:` with nothing after it) means "not set", as yaml.v2 leaves the zero value. */
  private isNull(node: YamlNode): boolean {
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

  private describe(node: YamlNode): string {
    const value = this.deref(node);
    if (isMap(value)) return 'a mapping';
    if (isSeq(value)) return 'a list';
    if (isScalar(value)) {
      if (typeof value.value === 'string') return JSON.stringify(value.value);
      return value.source ?? String(value.value);
    }
    return 'nothing';
  }

  private expected(key: string, what: string, node: YamlNode): never {
    return this.fail(key, `expected ${what}, got ${this.describe(node)}`);
  }

  /** The entries of a mapping; unknown keys are named, with a hint when close to a known one. null allows any key. */
  entries(node: YamlNode, key: string, allowed: string[] | null): Map<string, YamlNode> {
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

  string(node: YamlNode, key: string): string | undefined {
    if (this.isNull(node)) return undefined;
    const value = this.value(node);
    if (typeof value !== 'string') return this.expected(key, 'a string (quote it if it looks like a number or yes/no)', node);
    if (value.trim() === '') return this.fail(key, 'empty');
    if (value.includes('\0')) return this.fail(key, 'contains a NUL byte');
    return value;
  }

  path(node: YamlNode, key: string): string | undefined {
    const text = this.string(node, key);
    return text === undefined ? undefined : path.resolve(this.baseDir, text);
  }

  /** Command lines take the scalar's text, as yaml.v2 does for a string field: `cmd: yes` runs yes(1). */
  commandLine(node: YamlNode, key: string): string | undefined {
    if (this.isNull(node)) return undefined;
    const value = this.deref(node);
    if (!isScalar(value)) return this.expected(key, 'a command line (one string)', node);
    const text = scalarText(value);
    if (text.trim() === '') return this.fail(key, 'empty');
    if (text.includes('\0')) return this.fail(key, 'contains a NUL byte');
    return text;
  }

  number(node: YamlNode, key: string, rule: NumberRule): number | undefined {
    if (this.isNull(node)) return undefined;
    const num = this.value(node);
    if (typeof num !== 'number' || !Number.isFinite(num)) return this.expected(key, rule.what, node);
    if (rule.integer && !Number.isInteger(num)) return this.expected(key, 'an integer', node);
    if (rule.min !== undefined && num < rule.min) return this.fail(key, `must be ${rule.min} or more, got ${num}`);
    if (rule.above !== undefined && num <= rule.above) return this.fail(key, `must be more than ${rule.above}, got ${num}`);
    if (rule.max !== undefined && num > rule.max) return this.fail(key, `must be at most ${rule.max}, got ${num}`);
    return num;
  }

  boolean(node: YamlNode, key: string): boolean | undefined {
    if (this.isNull(node)) return undefined;
    const value = this.value(node);
    if (typeof value !== 'boolean') return this.expected(key, 'true or false', node);
    return value;
  }

  stringList(node: YamlNode, key: string): string[] | undefined {
    if (this.isNull(node)) return undefined;
    const list = this.deref(node);
    if (!isSeq(list)) return this.expected(key, 'a list like [db, cache]', node);
    return list.items.map((item, index) => this.string(item, `${key}[${index}]`) as string);
  }

  /** env values keep their source text (yaml.v2 into map[string]string): `on` stays "on", `0080` stays "0080". */
  env(node: YamlNode, key: string): Record<string, string> | undefined {
    if (this.isNull(node)) return undefined;
    const env: Record<string, string> = {};
    for (const [name, valueNode] of this.entries(node, key, null)) {
      const entryKey = `${key}.${name}`;
      if (name === '' || name.includes('=') || name.includes('\0')) return this.fail(entryKey, 'not a valid variable name');
      const value = this.deref(valueNode);
      if (this.isNull(valueNode)) env[name] = '';
      else if (isScalar(value)) env[name] = scalarText(value);
      else return this.expected(entryKey, 'a string value', valueNode);
      if (env[name].includes('\0')) return this.fail(entryKey, 'contains a NUL byte');
    }
    return env;
  }
}

function scalarText(scalar: Scalar): string {
  return scalar.type === 'PLAIN' && scalar.source !== undefined ? scalar.source : String(scalar.value);
}

/** Edit distance small enough to be a typo: `wiat` → "did you mean "wait"?". */
function suggestion(name: string, allowed: string[]): string {
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

/** Parses YAML 1.1 text; syntax errors, duplicate keys and a non-mapping document are ConfigErrors. */
function parseYaml(text: string, label: string): Document {
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
    throw new ConfigError(`${label}: expected a mapping of keys (cmd:, cwd: …), got ${got}`);
  }
  return doc;
}

function readLogSection(reader: ServiceFileReader, node: YamlNode, key: string): LogSection | undefined {
  const entries = reader.entries(node, key, LOG_KEYS);
  if (entries.size === 0) return undefined;
  return {
    file: reader.path(entries.get('file'), `${key}.file`),
    age: reader.number(entries.get('age'), `${key}.age`, { what: 'a number of seconds', min: 0 }),
    num: reader.number(entries.get('num'), `${key}.num`, { what: 'a number of files', integer: true, min: 0 }),
    size: reader.number(entries.get('size'), `${key}.size`, { what: 'a number of megabytes', min: 0 }),
    timestamp: reader.boolean(entries.get('timestamp'), `${key}.timestamp`),
  };
}

/** Accepts YAML 1.1 octal (`0660`) or a quoted octal string ("0660"); decimal 660 is a mistake. */
function readSocketMode(reader: ServiceFileReader, node: YamlNode): number | undefined {
  const key = 'socket.mode';
  const value = reader.value(node);
  if (typeof value === 'string' && /^0?[0-7]{1,3}$/.test(value)) return parseInt(value, 8);
  const mode = reader.number(node, key, { what: 'an octal mode like 0660', integer: true, min: 0 });
  if (mode !== undefined && mode > 0o777) {
    reader.fail(key, `expected an octal mode like 0660 (at most 0777), got ${isScalar(node) ? node.source ?? mode : mode}`);
  }
  return mode;
}

function readSocketGroup(reader: ServiceFileReader, node: YamlNode): string | undefined {
  const value = reader.value(node);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  return reader.string(node, 'socket.group');
}

/** A user name, or a numeric uid written as a bare number. */
function readUser(reader: ServiceFileReader, node: YamlNode): string | undefined {
  const value = reader.value(node);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  return reader.string(node, 'user');
}

/** Parses and type-checks run.yml text. label names the file in messages. */
export function parseServiceFile(text: string, label: string, absolutePath: string): ServiceFile {
  const doc = parseYaml(text, label);
  const reader = new ServiceFileReader(doc, label, path.dirname(absolutePath));
  const top = reader.entries(doc.contents, '', TOP_KEYS);
  const pid = reader.entries(top.get('pid'), 'pid', PID_KEYS);
  const backoff = reader.entries(top.get('backoff'), 'backoff', BACKOFF_KEYS);
  const socket = reader.entries(top.get('socket'), 'socket', SOCKET_KEYS);
  const cmdText = top.has('cmd') ? reader.commandLine(top.get('cmd'), 'cmd') : undefined;
  if (top.has('cmd') && cmdText === undefined) reader.fail('cmd', 'empty');
  return {
    label,
    path: absolutePath,
    cmd: cmdText === undefined ? undefined : splitFields(cmdText),
    cwd: reader.path(top.get('cwd'), 'cwd'),
    env: reader.env(top.get('env'), 'env'),
    envdir: reader.path(top.get('envdir'), 'envdir'),
    pid: {
      follow: reader.path(pid.get('follow'), 'pid.follow'),
      parent: reader.path(pid.get('parent'), 'pid.parent'),
      child: reader.path(pid.get('child'), 'pid.child'),
    },
    log: readLogSection(reader, top.get('log'), 'log'),
    stderr: readLogSection(reader, top.get('stderr'), 'stderr'),
    logger: reader.commandLine(top.get('logger'), 'logger'),
    user: readUser(reader, top.get('user')),
    wait: reader.number(top.get('wait'), 'wait', { what: 'a number of seconds', min: 0 }),
    retries: readRetries(reader, top.get('retries')),
    require: readRequire(reader, top.get('require')),
    requireCmd: reader.commandLine(top.get('require_cmd'), 'require_cmd'),
    postExit: reader.commandLine(top.get('post_exit'), 'post_exit'),
    stopTimeout: reader.number(top.get('stop_timeout'), 'stop_timeout', { what: 'a number of seconds', above: 0 }),
    backoff: {
      cap: reader.number(backoff.get('cap'), 'backoff.cap', { what: 'a number of seconds', min: 0 }),
      reset: reader.number(backoff.get('reset'), 'backoff.reset', { what: 'a number of seconds', min: 0 }),
    },
    socket: { mode: readSocketMode(reader, socket.get('mode')), group: readSocketGroup(reader, socket.get('group')) },
  };
}

function readRetries(reader: ServiceFileReader, node: YamlNode): number | undefined {
  const retries = reader.number(node, 'retries', { what: 'an integer', integer: true });
  if (retries !== undefined && retries < -1) reader.fail('retries', `must be -1 (forever) or more, got ${retries}`);
  return retries;
}

/** Services are named by their supervise dir's basename, so a name with a slash can never match. */
function readRequire(reader: ServiceFileReader, node: YamlNode): string[] | undefined {
  const names = reader.stringList(node, 'require');
  names?.forEach((name, index) => {
    if (name.includes('/') || name === '.' || name === '..') reader.fail(`require[${index}]`, `not a service name: ${JSON.stringify(name)}`);
  });
  return names;
}

/** Go's strings.Fields: split on runs of whitespace, no quoting, no shell. */
export function splitFields(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== '');
}
