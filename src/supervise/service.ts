// What the control socket, immortalctl and immortaldir may ask of one supervised service.
// The Supervisor implements it; nothing outside supervisor.ts and machine.ts changes a service's state.

/** Why the supervisor restarted a running service itself (not a crash, not the operator). */
export type RestartCause = 'health' | 'watchdog' | 'memory';

/** The supervisor's own latest restart of a running service. */
export interface RestartRecord {
  cause: RestartCause;
  /** For the operator: "health: 3 failed probes (connect ECONNREFUSED)", "memory 412M > 400M". */
  reason: string;
  /** Date.now() of the decision. */
  at: number;
}

export interface ExitRecord {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** 'SIGTERM' etc., or null. */
  signal: string | null;
  /** Date.now() of the exit. */
  at: number;
}

export interface StatusSnapshot {
  /** Supervised pid (the followed pid while following); 0 when none. */
  pid: number;
  /** True while a process (child or followed pid) is alive. */
  running: boolean;
  /** Date.now() of the last start while running, of the last exit while down; 0 before any start. */
  since: number;
  /** The command line joined by spaces. */
  cmd: string;
  /** True while a followed pid (not the direct child) is supervised. */
  fpid: boolean;
  /** Number of starts. */
  count: number;
  /**
   * Free-text state shown as the JSON `status` key; set only before the first start
   * ("Starting in 1.5 seconds") or while a start is held back ("backoff 8s", "waiting for require: db").
   */
  note?: string;
  /** 'up' (restart on exit), 'down' (stopped by the operator or retries used up), 'once'. */
  want: 'up' | 'down' | 'once';
  lastExit?: ExitRecord;
  /** The supervisor's own restarts of a running service, by cause, and the latest one. */
  restarts: Partial<Record<RestartCause, number>>;
  lastRestart?: RestartRecord;
  /** Starts refused by spawn (ENOENT, EACCES…), and the last such error. */
  startFailures: number;
  lastStartError?: string;
  /** Current crash-loop delay in ms added on top of the 1 s rule (0 when none). */
  backoffMs: number;
  /** Lines dropped by the logger buffer. */
  logDroppedLines: number;
  /** The log file's current write error (ENOSPC…), or undefined while writes succeed. */
  logError?: string;
  /** Running and ready: true; started, not ready yet (`ready:`): false; nothing runs: null. */
  ready?: boolean | null;
  /** `health:` while running: "ok", "failing N"; null otherwise. */
  health?: string | null;
  /** Failed health probes since the supervisor began. */
  healthFailures?: number;
  /** The last failed ready or health probe's reason. */
  probeError?: string;
  /** The service's sd_notify STATUS= text (or "stopping"/"reloading"). */
  notifyStatus?: string;
  /** While an upgrade overlaps two instances: the new one's pid (`pid` is still the old one). */
  upgradePid?: number;
}

/** Every method returns '' on success or the error text for `{"Err": …}`. */
/** What the whole service uses: every process it started (process/members.ts). */
export interface ServiceUsage {
  processes: number;
  memoryBytes: number;
  cpuSeconds: number;
}

export interface ServiceControl {
  /** Service name: the supervise directory's basename. */
  readonly name: string;
  /** Absolute supervise directory (holds lock and immortal.sock). */
  readonly superviseDir: string;
  /** uid allowed to send signals besides root (the supervisor's own uid). */
  readonly ownerUid: number;
  snapshot(): StatusSnapshot;
  /** Processes, resident memory and CPU of the whole service; read from /proc or its cgroup on each call. */
  usage(): ServiceUsage;
  /** Start if not running; restart on exit from now on. */
  up(): string;
  /** TERM the service (whole group, KILL after the stop timeout); do not restart. */
  down(): string;
  /** Start if not running; do not restart after it exits. */
  once(): string;
  /** Send a signal ('SIGHUP'…) to the service (the followed pid while following). */
  signal(sig: string): string;
  /** TERM the service and exit the supervisor. */
  halt(): string;
  /** Exit the supervisor, leaving the service running (refused unless allowed). */
  exit(): string;
  /** Overlapped upgrade (upgrade.ts): '' once the new instance serves, else why not. */
  upgrade?(): Promise<string>;
}
