// The per-service record: everything an operator's view of one service shows (the dashboard's
// row, its JSON API, `immortalctl logs`), defined once here as plain JSON. Later fields
// (ready, health, processes, memory, cpu) belong here too; a view renders an absent field as
// "–", so adding one never breaks an older page or script.

import type { ServiceUsage, StatusSnapshot } from '../supervise/service';
import { signalNumber } from '../process/signal-names';

/**
 * One word for the operator, derived from the snapshot:
 * up (running) · down (stopped by the operator, or retries used up) · exited (a `once` run
 * ended) · starting (before the first start) · waiting (held by require:/require_cmd) ·
 * restarting (exited, starts again after the 1 s rule) · backoff (crash loop, delayed) ·
 * stopping (its file was removed; its supervisor is ending) · error (its file does not load, or its supervisor could not open).
 */
export type ServiceState = 'up' | 'down' | 'exited' | 'starting' | 'waiting' | 'restarting' | 'backoff' | 'stopping' | 'error';

export interface LastExitRecord {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** 'SIGKILL'…, or null. */
  signal: string | null;
  /** Unix time of the exit, in ms. */
  at: number;
  /** "exit 0", "exit 1", "SIGKILL (9)": what the page prints. */
  text: string;
}

export interface ServiceRecord {
  name: string;
  state: ServiceState;
  /** What the supervisor aims for; null when no supervisor runs for this name. */
  want: 'up' | 'down' | 'once' | null;
  /** Supervised pid (the followed one while following), 0 when none. */
  pid: number;
  following: boolean;
  /** Seconds since the running process started; null while not running. */
  uptime: number | null;
  /** Unix ms of the last start while up, of the last exit while down; null before any. */
  since: number | null;
  /** Number of starts (the socket's `count`). */
  count: number;
  /** Crash-loop delay on top of the 1 s rule, in seconds. */
  backoff: number;
  lastExit: LastExitRecord | null;
  /** The supervisor's note: "Starting in 1.5 seconds", "waiting for require: db"… */
  note: string | null;
  /** Last start refused by exec (ENOENT…). */
  startError: string | null;
  /** The log file's current write error. */
  logError: string | null;
  /** Why no supervisor runs: the file does not load, the lock is held… */
  error: string | null;
  /** The file the service's output is written to (run.yml `log.file`, `-l`), if any. */
  logFile: string | null;
  /** The supervisor's own restarts of the running service, by cause (health, watchdog, memory). */
  restarts: Record<string, number>;
  /** The latest of them: cause, reason ("memory 412M > 400M"), Unix ms. */
  lastRestart: { cause: string; reason: string; at: number } | null;
  /** While an upgrade overlaps two instances: the new one's pid (`pid` is still the old one); else null. */
  upgradePid: number | null;
  /** Live processes of the whole service (its cgroup, or what the supervisor tracked); null when unknown. */
  processes: number | null;
  /** Their resident memory, in bytes. */
  memory: number | null;
  /** CPU seconds they used (user + system; in cgroup mode also of members that exited). */
  cpu: number | null;
  /** Ready (true), started but not ready yet under `ready:` (false), nothing runs (null). */
  ready: boolean | null;
  /** `health:` while running: "ok", "failing N"; null when not probed. */
  health: string | null;
  /** The last failed ready or health probe: "connect ECONNREFUSED", "HTTP 503". */
  probeError: string | null;
  /** The service's own words over sd_notify (STATUS=). */
  statusText: string | null;
}

export interface RecordExtras {
  error?: string;
  /** Its file is gone and its supervisor is being stopped. */
  stopping?: boolean;
  logFile?: string;
  usage?: ServiceUsage;
}

/** The record of one service; `snapshot` is undefined when no supervisor runs for it. */
export function serviceRecord(name: string, snapshot: StatusSnapshot | undefined, now: number, extras: RecordExtras = {}): ServiceRecord {
  const tail = {
    error: extras.error ?? null,
    logFile: extras.logFile ?? null,
    processes: extras.usage?.processes ?? null,
    memory: extras.usage?.memoryBytes ?? null,
    cpu: extras.usage === undefined ? null : Math.round(extras.usage.cpuSeconds * 100) / 100,
  };
  if (snapshot === undefined) {
    return {
      name,
      state: extras.stopping ? 'stopping' : extras.error ? 'error' : 'starting',
      want: null,
      restarts: {},
      lastRestart: null,
      pid: 0,
      following: false,
      uptime: null,
      since: null,
      count: 0,
      backoff: 0,
      lastExit: null,
      note: null,
      startError: null,
      logError: null,
      ready: null,
      health: null,
      probeError: null,
      statusText: null,
      upgradePid: null,
      ...tail,
    };
  }
  return {
    name,
    state: stateOf(snapshot),
    want: snapshot.want,
    pid: snapshot.pid,
    following: snapshot.fpid,
    uptime: snapshot.running ? Math.max(0, Math.round((now - snapshot.since) / 100) / 10) : null,
    since: snapshot.since > 0 ? snapshot.since : null,
    count: snapshot.count,
    backoff: snapshot.backoffMs / 1000,
    lastExit: snapshot.lastExit ? { ...snapshot.lastExit, text: exitText(snapshot.lastExit.code, snapshot.lastExit.signal) } : null,
    note: snapshot.note ?? null,
    startError: snapshot.lastStartError ?? null,
    restarts: { ...snapshot.restarts },
    lastRestart: snapshot.lastRestart ?? null,
    logError: snapshot.logError ?? null,
    ready: snapshot.ready ?? (snapshot.running ? true : null),
    health: snapshot.health ?? null,
    probeError: snapshot.probeError ?? null,
    statusText: snapshot.notifyStatus ?? null,
    upgradePid: snapshot.upgradePid ?? null,
    ...tail,
  };
}

function stateOf(s: StatusSnapshot): ServiceState {
  if (s.running) return 'up';
  if (s.want === 'down') return 'down';
  if (s.want === 'once' && s.count > 0) return 'exited';
  if (s.note?.startsWith('waiting') || s.note?.startsWith('looking for')) return 'waiting';
  if (s.backoffMs > 0) return 'backoff';
  if (s.count === 0 && s.startFailures === 0) return 'starting';
  return 'restarting';
}

function exitText(code: number | null, signal: string | null): string {
  if (signal) {
    try {
      return `${signal} (${signalNumber(signal)})`;
    } catch {
      return signal;
    }
  }
  return code === null ? 'exited' : `exit ${code}`;
}
