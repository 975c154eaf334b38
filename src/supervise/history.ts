// What happened to a service so far — starts, exits, failed starts, the crash-loop count —
// and what follows from it: the delay before the next start and the status note while
// waiting. The state machine (supervisor.ts) decides what happens now; this only remembers.

import { backoffDelayMs } from './backoff';
import type { ExitRecord, RestartCause, RestartRecord } from './service';

export interface HistoryRules {
  /** The 1 s rule (restart-rule.ts). */
  minRestartMs: number;
  /** A run shorter than this is a quick exit (backoff.reset). */
  backoffResetMs: number;
  /** Largest extra delay (backoff.cap); 0 turns the backoff off. */
  backoffCapMs: number;
}

export class RunHistory {
  /** Starts, as status shows them. */
  count = 0;
  /** Starts since the operator's last up/once: what `retries` counts. */
  runsSinceUp = 0;
  /** Date.now() of the last start while running, of the last exit while not. */
  since = 0;
  lastExit?: ExitRecord;
  startFailures = 0;
  lastStartError?: string;
  /** The latest start attempt was refused by spawn: status says why nothing runs. */
  lastStartFailed = false;
  /** Current crash-loop delay on top of the 1 s rule. */
  backoffMs = 0;
  /** The supervisor's own restarts (health, watchdog, memory), by cause, and the latest. */
  readonly restarts: Partial<Record<RestartCause, number>> = {};
  lastRestart?: RestartRecord;
  /** Set by restartedFor until the next start: the status note says why the service restarts. */
  restartNote?: string;
  private quickExits = 0;
  private lastAttemptMono = -Infinity;

  constructor(private readonly rules: HistoryRules) {}

  /** Spawning begins: the 1 s rule counts from here if spawn fails. */
  attempting(): void {
    this.lastAttemptMono = performance.now();
  }

  started(): void {
    // The 1 s rule counts from when the process exists, not from when spawning began: a slow
    // spawn (busy machine) must not bring the next start closer than 1 s to this one.
    this.lastAttemptMono = performance.now();
    this.lastStartFailed = false;
    this.restartNote = undefined;
    this.count++;
    this.runsSinceUp++;
    this.since = Date.now();
  }

  /** Spawn refused (ENOENT, EACCES…): counts as a quick exit. */
  startFailed(err: Error): void {
    this.startFailures++;
    this.lastStartError = err.message;
    this.lastStartFailed = true;
    this.quickExits++;
  }

  /** A process found running at begin(): it counts as the first start. */
  resumed(kind: 'followed' | 'adopted'): void {
    this.count = 1;
    if (kind === 'adopted') {
      this.runsSinceUp = 1;
      this.lastAttemptMono = performance.now();
    }
  }

  /** code/signal null for a pid that is not our child: its status belongs to its parent. */
  exited(code: number | null, signal: string | null): void {
    const ranMs = performance.now() - this.lastAttemptMono;
    this.quickExits = ranMs < this.rules.backoffResetMs ? this.quickExits + 1 : 0;
    this.lastExit = { code, signal, at: Date.now() };
    this.since = this.lastExit.at;
  }

  /**
   * A handover (the foreground daemonized, a master re-exec'd) is no crash: it must not bring
   * the crash-loop backoff closer (exited() counted it as a quick exit).
   */
  handedOver(): void {
    this.quickExits = Math.max(0, this.quickExits - 1);
  }

  /** The supervisor restarts a running service itself: counted, and the reason kept for status. */
  restartedFor(cause: RestartCause, reason: string): void {
    this.restarts[cause] = (this.restarts[cause] ?? 0) + 1;
    this.lastRestart = { cause, reason, at: Date.now() };
    this.restartNote = `restarted: ${reason}`;
  }

  /** An operator's up/once: retries count anew; `up` also forgets the crash-loop history. */
  operatorStart(want: 'up' | 'once'): void {
    this.runsSinceUp = 0;
    if (want === 'up') this.quickExits = 0;
  }

  retriesUsed(retries: number): boolean {
    return retries >= 0 && this.runsSinceUp > retries;
  }

  /**
   * From now until an exit of the current run would be restarted at once (restartDelay() 0):
   * the 1 s rule, and — where one more quick exit would start the backoff — until the run no
   * longer counts as quick. The addon's prepared restart is due then (supervise/prepared-restart.ts).
   */
  msUntilRestartIsDue(): number {
    const quickExitBacksOff = backoffDelayMs(this.quickExits + 1, this.rules.backoffCapMs) > 0;
    const runMs = Math.max(this.rules.minRestartMs, quickExitBacksOff ? this.rules.backoffResetMs : 0);
    return this.lastAttemptMono + runMs - performance.now();
  }

  /** The 1 s rule, plus the crash-loop backoff once quick exits pile up. */
  restartDelay(): number {
    this.backoffMs = backoffDelayMs(this.quickExits, this.rules.backoffCapMs);
    const ruleMs = Math.max(0, this.lastAttemptMono + this.rules.minRestartMs - performance.now());
    return ruleMs + this.backoffMs;
  }

  /** Status while a start is pending: why nothing runs, else the first start's countdown, else the backoff. */
  waitNote(firstStartDueAt?: number): string | undefined {
    const backoff = this.backoffMs > 0 ? `backoff ${Math.round(this.backoffMs / 1000)}s` : undefined;
    // The binary was removed, or lost its x bit: say why nothing runs, not only when the next try is.
    if (this.lastStartFailed) return [`start failed: ${this.lastStartError}`, backoff].filter(Boolean).join('; ');
    if (this.restartNote) return [this.restartNote, backoff].filter(Boolean).join('; ');
    if (this.count === 0 && firstStartDueAt !== undefined) {
      const remaining = Math.max(0, firstStartDueAt - Date.now()) / 1000;
      return `Starting in ${remaining.toFixed(1)} seconds`;
    }
    return backoff;
  }
}
