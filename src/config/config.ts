// The validated configuration of one service: what the supervisor, the launcher and the logs
// read. Built by load.ts from a ConfigInput and its run.yml, driven by the key table (keys.ts).
// This file is the config layer's front door: import from here.

import type { ListenAddress } from './listen-address';

export type { ListenAddress } from './listen-address';
export { ConfigError } from './errors';
export type { ConfigInput, LoadContext } from './input';
export { loadConfig, loadServiceFile, type ServiceFileOptions } from './load';
export { resolveSuperviseDir, serviceNameOf } from './supervise-dir-name';
export { configToYaml } from './to-yaml';
import type { LimitValue } from './limit-values';
export type { LimitValue } from './limit-values';

import type { HealthConfig, ReadyConfig } from './readiness-types';
export type { HealthConfig, ProbeConfig, ProbeKind, ReadyConfig } from './readiness-types';

export interface LogConfig {
  /** Absolute path of the log file. */
  file: string;
  /** Rotate when the file is older than this many seconds; 0 = never by age. */
  age: number;
  /** Rotated files kept (app.log.1 … app.log.N); 0 with age/size set means keep 1? see docs. */
  num: number;
  /** Rotate when larger than this many MB (fractional allowed); 0 = never by size. */
  size: number;
  /** Prefix each line with an RFC 3339 timestamp with milliseconds. */
  timestamp: boolean;
}

export interface SocketConfig {
  /** Mode of immortal.sock; default 0o600. */
  mode: number;
  /** Group that owns immortal.sock (name or gid), default the supervisor's. */
  group?: string;
}

/** run.yml `cgroup:`: written to the service's cgroup2 directory (process/cgroup-limits.ts). */
export interface CgroupLimits {
  /** memory.max in bytes. */
  memoryMax?: number;
  /** pids.max. */
  pidsMax?: number;
  /** cpu.max in CPUs (1.5 → "150000 100000"). */
  cpuMax?: number;
}

export interface Config {
  /** Absolute path of the run.yml it came from, when -c was used. */
  configFile?: string;
  /** Service argv: run.yml `cmd` split on whitespace, or the command-line words. */
  command: string[];
  /** Absolute, existing directory; undefined = inherit. */
  cwd?: string;
  /** run.yml `env`, values as their source text (yaml.v2 semantics). */
  env: Record<string, string>;
  /** -e envdir / run.yml `envdir` (absolute, an existing directory). */
  envDir?: string;
  pid: {
    /** -f / pid.follow */
    follow?: string;
    /** -P / pid.parent: the supervisor's own pid */
    parent?: string;
    /** -p / pid.child */
    child?: string;
    /** Seconds to wait for a new pid once the followed pid is gone while members of the service are left. */
    grace?: number;
  };
  log?: LogConfig;
  stderr?: LogConfig;
  logger?: string;
  user?: string;
  /** Seconds before the first start. */
  wait: number;
  /** -1 forever, 0 run once, n → at most n+1 runs. */
  retries: number;
  require: string[];
  requireCmd?: string;
  postExit?: string;
  /** Seconds between TERM and KILL on stop (run.yml `stop_timeout`), default 10. */
  stopTimeout: number;
  /** Crash-loop backoff cap in seconds (run.yml `backoff.cap`), default 30; 0 disables backoff. */
  backoffCap: number;
  /** Seconds of uptime after which the backoff resets (run.yml `backoff.reset`), default 60. */
  backoffReset: number;
  socket: SocketConfig;
  /** run.yml `ready:`: when a start counts as ready; undefined = as soon as it runs. */
  ready?: ReadyConfig;
  /** run.yml `health:`: probed while running. */
  health?: HealthConfig;
  /** run.yml `watchdog:` seconds (with ready.notify: systemd). */
  watchdog?: number;
  /** run.yml `listen`: sockets the supervisor binds and holds, passed as fds 3, 4… (docs/zero-downtime.md). */
  listen: ListenAddress[];
  /** run.yml `limits`: rlimit name → soft/hard (-1 = unlimited), applied to the service, require_cmd and post_exit. */
  limits: Record<string, LimitValue>;
  cgroup: CgroupLimits;
  /** run.yml `restart_if`: memory in bytes (supervise/memory-watch.ts). */
  restartIf: { memory?: number };
  /** Absolute supervise directory (lock, immortal.sock). */
  superviseDir: string;
  /** Service name: basename of superviseDir. */
  name: string;
  /** -n: stay in the foreground. */
  foreground: boolean;
}
