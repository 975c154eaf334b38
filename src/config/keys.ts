// THE table of run.yml keys. Each entry says what the key holds (type), what it is when unset
// (default), which rule it must meet (check), what it is checked against at start (verify),
// which input field it overrides (input), where it lands in Config (field), and one line for
// docs/config.md. The reader (run-yml.ts), the merge with the input (load.ts), -cc (to-yaml.ts)
// and the docs table (key-docs.ts, checked by test/config-keys.test.mjs) all walk this table.
//
// Adding a key: one entry here (its `field` added to Config in config.ts), plus its use.
// Nested keys are dotted (`pid.follow`); a section with a `required` key (log.file) is absent
// from Config when that key is unset. A key holding a small mapping of its own, a map of named
// values, a list or a size is still one entry: see the composite types in value-types.ts.

import { healthValue, readyValue } from './readiness-types';
import { creatableFile, enterableDirectory, readableDirectory, switchableUser, type Verify } from './checks';
import type { Config } from './config';
import type { InputField } from './input';
import { listenAddress } from './listen-address';
import {
  boolean, commandLine, commandWords, filePath, integer, listOf, mapOf, nameOrId, numberOf, octalMode, seconds,
  serviceName, sourceText, type ValueType,
} from './value-types';
import { cpuCount, LIMIT_NAMES, limitValue, memorySize, positiveCount } from './limit-values';

/** A rule on a value beyond its type. */
export interface Check<T> {
  /** Appended to the type in docs: "≥ -1". */
  doc: string;
  /** The problem with value, or undefined when it is fine. */
  problem(value: T): string | undefined;
}

export function atLeast(min: number, meaning = `${min}`): Check<number> {
  return { doc: `\u2265 ${min}`, problem: (value) => (value < min ? `must be ${meaning} or more, got ${value}` : undefined) };
}

export function moreThan(bound: number): Check<number> {
  return { doc: `> ${bound}`, problem: (value) => (value <= bound ? `must be more than ${bound}, got ${value}` : undefined) };
}

type Leaf = string | number | boolean | readonly unknown[] | undefined;
type PathsOf<T> = {
  [K in keyof T & string]-?: NonNullable<T[K]> extends Leaf ? K
    : string extends keyof NonNullable<T[K]> ? K // a map of any names (env) is one value
      : `${K}.${keyof NonNullable<T[K]> & string}`;
}[keyof T & string];
/** Where a value lands in Config: `stopTimeout`, `pid.follow`, `log.file`. */
export type ConfigPath = PathsOf<Config>;

export interface KeyEntry<T = unknown> {
  /** The run.yml spelling, dotted when nested: `pid.follow`. */
  name: string;
  type: ValueType<T>;
  /** One line for docs/config.md (markdown). */
  doc: string;
  /** The value when neither the file nor the input sets it. */
  default?: T;
  /** The docs' default column when the value alone does not say it ("inherit"). */
  docDefault?: string;
  check?: Check<T>;
  /** Checked against the system before anything starts. */
  verify?: Verify<T>;
  /** The input field (flag) this key overrides; the run.yml wins. */
  input?: InputField;
  field: ConfigPath;
  /** Must be set: at the top level in every run.yml; in a section whenever the section is written. Says why. */
  required?: string;
}

/** Typed where it is written, stored untyped in the table. */
function key<T>(entry: KeyEntry<T>): KeyEntry {
  return entry as unknown as KeyEntry;
}

const envVariables = mapOf(sourceText, 'map', {
  nullValue: '',
  checkName: (name) => (name === '' || name.includes('=') || name.includes('\0') ? 'not a valid variable name' : undefined),
});

/** log: and stderr: have the same keys. */
function logKeys(section: 'log' | 'stderr', fileDoc: string, input?: InputField): KeyEntry[] {
  const also = section === 'log' ? '' : ', for the stderr file';
  return [
    key({ name: `${section}.file`, type: filePath, doc: fileDoc, input, field: `${section}.file`, required: `${section}: needs a file`, verify: creatableFile }),
    key({ name: `${section}.age`, type: seconds, check: atLeast(0), default: 0, docDefault: '0 = never', field: `${section}.age`,
      doc: `rotate when the file is older${also}` }),
    key({ name: `${section}.num`, type: numberOf('integer', 'a number of files', true), check: atLeast(0), default: 0, field: `${section}.num`,
      doc: `rotated files kept (\`app.log.1\` \u2026)${also}` }),
    key({ name: `${section}.size`, type: numberOf('MB', 'a number of megabytes'), check: atLeast(0), default: 0, docDefault: '0 = never',
      field: `${section}.size`, doc: `rotate when larger (fractions allowed)${also}` }),
    key({ name: `${section}.timestamp`, type: boolean, default: false, field: `${section}.timestamp`,
      doc: `prefix each line with the time${also}` }),
  ];
}

/** In this order -cc prints them and docs/config.md lists them. */
export const RUN_YML_KEYS: readonly KeyEntry[] = [
  key({ name: 'cmd', type: commandWords, input: 'command', field: 'command', required: 'the command to supervise',
    doc: '**required**; split on whitespace, no shell, no quoting' }),
  key({ name: 'cwd', type: filePath, input: 'dir', field: 'cwd', verify: enterableDirectory, docDefault: 'inherit',
    doc: 'chdir before each start; must be an existing directory' }),
  key({ name: 'env', type: envVariables, default: {}, field: 'env', doc: "added to the child's environment" }),
  key({ name: 'envdir', type: filePath, input: 'envDir', field: 'envDir', verify: readableDirectory, doc: '*extension*: like `-e`' }),
  key({ name: 'pid.follow', type: filePath, input: 'follow', field: 'pid.follow', doc: 'like `-f`' }),
  key({ name: 'pid.parent', type: filePath, input: 'parentPid', field: 'pid.parent', verify: creatableFile, doc: 'like `-P`' }),
  key({ name: 'pid.child', type: filePath, input: 'childPid', field: 'pid.child', verify: creatableFile, doc: 'like `-p`' }),
  // No default here: -cc leaves it out unless written (it only matters with pid.follow); 3 s is applied where it is used.
  key({ name: 'pid.grace', type: seconds, check: atLeast(0), docDefault: '3', field: 'pid.grace',
    doc: '*extension*: the followed pid is gone but processes of the service are left: wait this long for the pidfile to name a new one, then stop them and restart' }),
  ...logKeys('log', 'stdout (and stderr unless `stderr:` is set); its dir must exist and be writable', 'log'),
  ...logKeys('stderr', 'separate stderr log; must not be the same file as `log.file`'),
  key({ name: 'logger', type: commandLine, input: 'logger', field: 'logger', doc: 'like `-logger` (run by `sh -c`)' }),
  key({ name: 'user', type: nameOrId('name or uid'), input: 'user', field: 'user', verify: switchableUser,
    doc: 'like `-u`; unknown user \u2192 error; needs root unless it is you' }),
  key({ name: 'wait', type: seconds, check: atLeast(0), default: 0, input: 'wait', field: 'wait',
    doc: 'before the first start; fractions allowed' }),
  key({ name: 'retries', type: integer, check: atLeast(-1, '-1 (forever)'), default: -1, input: 'retries', field: 'retries',
    doc: '-1 forever, 0 once, n \u2192 at most n+1 runs' }),
  key({ name: 'require', type: listOf(serviceName, 'list of names'), default: [], field: 'require',
    doc: 'services (supervise-dir names) that must be up first' }),
  key({ name: 'require_cmd', type: commandLine, field: 'requireCmd', doc: 'start only once it exits 0 (checked before each start)' }),
  key({ name: 'post_exit', type: commandLine, field: 'postExit', doc: 'run after each exit, with the exit code as argument' }),
  key({ name: 'stop_timeout', type: seconds, check: moreThan(0), default: 10, field: 'stopTimeout',
    doc: '*extension*: TERM \u2192 wait \u2192 KILL the process group' }),
  key({ name: 'backoff.cap', type: seconds, check: atLeast(0), default: 30, field: 'backoffCap',
    doc: '*extension*: crash-loop delay cap; 0 disables backoff' }),
  key({ name: 'backoff.reset', type: seconds, check: atLeast(0), default: 60, field: 'backoffReset',
    doc: '*extension*: uptime after which the delay resets' }),
  // A mapping each (readiness-types.ts): one value in Config, not a section of keys.
  key({ name: 'ready', type: readyValue, field: 'ready' as ConfigPath,
    doc: '*extension*: when a start counts as ready: `notify: systemd` or `fd:N`, or a probe `http`/`tcp`/`cmd`; `interval` (0.2), `timeout` (60: not ready by then = the start failed). docs/readiness.md' }),
  key({ name: 'health', type: healthValue, field: 'health' as ConfigPath,
    doc: '*extension*: probe while up: `http`/`tcp`/`cmd`, `interval` (10), `timeout` (2), `failures` (3 in a row \u2192 graceful restart)' }),
  key({ name: 'watchdog', type: seconds, check: moreThan(0), field: 'watchdog',
    doc: '*extension*: with `ready.notify: systemd`: no `WATCHDOG=1` for this long \u2192 graceful restart' }),
  key({ name: 'listen', type: listOf(listenAddress, 'list of addresses'), default: [], field: 'listen',
    doc: '*extension*: sockets bound by the supervisor and held for the service\'s whole life, passed as fds 3, 4\u2026 with `LISTEN_FDS` (systemd\'s protocol): `tcp://127.0.0.1:8080`, `tcp6://[::1]:8080`, `unix:/run/app.sock`; numeric hosts only (docs/zero-downtime.md)' }),
  key({ name: 'limits', type: mapOf(limitValue, 'map', { names: LIMIT_NAMES }), default: {}, field: 'limits',
    doc: '*extension*: setrlimit for the service, require_cmd and post_exit: `as core cpu data fsize memlock nofile nproc stack` \u2192 a number (sizes K/M/G, bare = bytes), `unlimited` or `"soft:hard"` (docs/limits.md)' }),
  key({ name: 'cgroup.memory_max', type: memorySize, field: 'cgroup.memoryMax',
    doc: "*extension*: the service cgroup's `memory.max`; refused at start where the memory controller is not available (docs/limits.md)" }),
  key({ name: 'cgroup.pids_max', type: positiveCount, field: 'cgroup.pidsMax', doc: "*extension*: the service cgroup's `pids.max`" }),
  key({ name: 'cgroup.cpu_max', type: cpuCount, field: 'cgroup.cpuMax', doc: "*extension*: the service cgroup's `cpu.max`, in CPUs (`1.5`)" }),
  key({ name: 'restart_if.memory', type: memorySize, field: 'restartIf.memory',
    doc: "*extension*: resident memory of all the service's processes, sampled every 2 s; 3 samples in a row above \u2192 graceful restart" }),
  key({ name: 'socket.mode', type: octalMode, default: 0o600, docDefault: '0600', field: 'socket.mode',
    doc: '*extension*: mode of `immortal.sock` (`0660`, or quoted `"0660"`)' }),
  key({ name: 'socket.group', type: nameOrId('name or gid'), docDefault: "supervisor's", field: 'socket.group',
    doc: '*extension*: group of `immortal.sock`' }),
];

/** A key's value after the merge, with where it came from (`web.yml: cwd`, `-d`). */
export interface Sourced {
  value: unknown;
  label: string;
}

/** A rule between keys; `broken` gives the message, or undefined when the values agree. */
export interface KeyRule {
  broken(valueOf: (name: string) => Sourced | undefined): string | undefined;
}

export const KEY_RULES: readonly KeyRule[] = [
  {
    broken(valueOf) {
      const log = valueOf('log.file');
      const stderr = valueOf('stderr.file');
      if (!log || !stderr || log.value !== stderr.value) return undefined;
      return `${stderr.label}: same file as log.file; leave stderr: out to log both streams together`;
    },
  },
  {
    broken(valueOf) {
      const watchdog = valueOf('watchdog');
      const ready = valueOf('ready')?.value as { notify?: unknown } | undefined;
      if (!watchdog || ready?.notify === 'systemd') return undefined;
      return `${watchdog.label}: needs ready: {notify: systemd} (WATCHDOG=1 comes over NOTIFY_SOCKET)`;
    },
  },
];
