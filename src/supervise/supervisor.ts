// One supervised service: the state machine. Every event — a timer, a child's exit, a
// followed pid's exit, an operator command — lands in one method below that switches on
// the current state, so "what happens if `down` arrives while stopping?" is one case to read.
//
//   waiting  ─start→  running  ─exit→  (follow? running : waiting | down)
//      │                 │
//      └──down──→ down ←─┴─down→ stopping ─exit→ down | finished
//
// Native callbacks and signals only call these methods; nothing else mutates the state.

import path from 'node:path';
import { backoffDelayMs } from './backoff';
import type { Config } from '../config/config';
import { adoptablePid, followablePid, waitForFollowablePid } from './follow';
import { runShellCommand, spawnService, type LaunchContext } from '../process/launch';
import type { ServiceOutput } from '../log/output';
import { alive, isSubreaper, kill, watchExit, type ExitStatus, type ExitWatch } from '../native';
import { readPidfile, removePidfileIfOurs, writePidfileAtomically } from '../process/pidfile';
import { descendsFrom, processStartTime } from '../process/proc';
import { groupAlive, killGroup, serviceGroup } from '../process/process-group';
import { shellExitCode } from '../process/signal-names';
import { forgetChild } from '../process/reaper';
import type { ExitRecord, ServiceControl, StatusSnapshot } from './service';

export type SupervisorState = 'waiting' | 'running' | 'stopping' | 'down' | 'finished';
export type FinishReason = 'halt' | 'exit' | 'shutdown' | 'retries' | 'start-error';
type AfterStop = 'down' | 'restart' | FinishReason;

/** The process the service is right now: our child, a pid we follow, or one we re-adopted. */
interface Tracked {
  pid: number;
  kind: 'child' | 'followed' | 'adopted';
  watch?: ExitWatch;
  /** Descends from this supervisor; then so must any pid it hands over to (see follow.ts). */
  ours: boolean;
}

export interface SupervisorOptions {
  config: Config;
  launch: LaunchContext;
  output: ServiceOutput;
  /** uid besides root allowed to signal over the socket. */
  ownerUid: number;
  /** `exit` over the socket is allowed: command-line runs, or IMMORTAL_EXIT set. */
  allowExit: boolean;
  /** Finish the supervisor once retries are used up (else the service just stays down). */
  exitWhenRetriesUsed: boolean;
  /** Names from `require:` that are not up yet (empty: go ahead). */
  requireCheck?: (names: string[]) => Promise<string[]>;
  log: (line: string) => void;
  /** Finish when the very first start fails (default); immortaldir keeps retrying instead. */
  failFirstStart?: boolean;
  /** The 1 s rule. Only tests shorten it (IMMORTAL_TEST_RESTART_MS). */
  minRestartMs?: number;
}

/** How long after the direct child's exit a pidfile may take to name the daemon. */
const followGraceMs = 1000;
/** While stopping: how often to look whether the rest of the service's group is gone. */
const groupCheckIntervalMs = 20;

export class Supervisor implements ServiceControl {
  readonly name: string;
  readonly superviseDir: string;
  readonly ownerUid: number;
  /** Resolves once the supervisor is done; the caller then tears down socket and lock. */
  readonly finished: Promise<FinishReason>;
  /** Settles on the first start: the pid, or the spawn error (daemon mode reports it). */
  readonly firstStart: Promise<number>;

  private state: SupervisorState = 'waiting';
  private want: 'up' | 'down' | 'once' = 'up';
  private proc?: Tracked;
  private afterStop: AfterStop = 'down';
  /**
   * Set while the pidfile is searched after a daemonizing child exited: a stop asked for
   * meanwhile waits for the search (≤ followGraceMs), so the daemon it finds is stopped
   * too instead of left running unsupervised.
   */
  private searching: { then?: 'down' | FinishReason } | undefined;
  private startTimer?: NodeJS.Timeout;
  private startDueAt = 0;
  /** startDueAt on the monotonic clock: the start timer is re-armed if it fires early. */
  private startDueMono = 0;
  private killTimer?: NodeJS.Timeout;
  private killDeadline = 0;
  private stopGroup = 0;
  /** Bumped whenever a pending start or follow search must be abandoned. */
  private generation = 0;
  private count = 0;
  private runsSinceUp = 0;
  private lastAttemptMono = -Infinity;
  private since = 0;
  private lastExit?: ExitRecord;
  private quickExits = 0;
  private backoffMs = 0;
  private startFailures = 0;
  private lastStartError?: string;
  /** The latest start attempt was refused by spawn: status says why nothing runs. */
  private lastStartFailed = false;
  private note?: string;
  private postExits = new Set<Promise<unknown>>();
  private resolveFinished!: (reason: FinishReason) => void;
  private settleFirstStart!: { resolve: (pid: number) => void; reject: (err: Error) => void; done: boolean };
  private readonly config: Config;
  private readonly minRestartMs: number;

  constructor(private readonly opts: SupervisorOptions) {
    this.config = opts.config;
    this.name = opts.config.name;
    this.superviseDir = opts.config.superviseDir;
    this.ownerUid = opts.ownerUid;
    this.minRestartMs = opts.minRestartMs ?? 1000;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.firstStart = new Promise<number>((resolve, reject) => {
      this.settleFirstStart = { resolve, reject, done: false };
    });
    this.firstStart.catch(() => {}); // observed by the caller that cares; never unhandled
  }

  /** Picks up a service still running from a previous supervisor, else starts after `wait`. */
  begin(): void {
    if (this.resumeExisting()) return;
    this.scheduleStart(this.config.wait * 1000);
  }

  // ── operator commands (ServiceControl) ────────────────────────────────────────────────

  up(): string {
    return this.wantStarted('up');
  }

  once(): string {
    return this.wantStarted('once');
  }

  /** up and once: start if not running; they differ only in what happens after the next exit. */
  private wantStarted(want: 'up' | 'once'): string {
    if (this.state === 'finished') return 'supervisor is exiting';
    this.want = want;
    this.runsSinceUp = 0;
    // An operator's `up` is a fresh start: the crash-loop history no longer counts.
    if (want === 'up') this.quickExits = 0;
    switch (this.state) {
      case 'down': this.scheduleStart(0); break;
      case 'stopping': if (this.afterStop === 'down') this.afterStop = 'restart'; break;
      case 'waiting': if (this.searching?.then === 'down') this.searching.then = undefined; break;
      case 'running': break;
    }
    return '';
  }

  down(): string {
    if (this.state === 'finished') return 'supervisor is exiting';
    this.want = 'down';
    switch (this.state) {
      case 'waiting':
        if (this.searching) this.searching.then ??= 'down';
        else {
          this.cancelPendingStart();
          this.state = 'down';
        }
        break;
      case 'running': this.stop('down'); break;
      case 'stopping': if (this.afterStop === 'restart') this.afterStop = 'down'; break;
      case 'down': break;
    }
    return '';
  }

  signal(sig: string): string {
    if (this.state !== 'running' && this.state !== 'stopping') return 'no running process';
    try {
      kill(this.proc!.pid, sig);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  }

  halt(): string {
    return this.terminate('halt');
  }

  /** SIGTERM/SIGINT to the supervisor: stop the service gracefully, then finish. */
  shutdown(): string {
    return this.terminate('shutdown');
  }

  exit(): string {
    // The Go original's wording, which operators' scripts may match on.
    if (!this.opts.allowExit) return 'set environment variable IMMORTAL_EXIT to exit';
    return this.abandon();
  }

  /** Finish while leaving the service running (exit; immortaldir on a removed followed service). */
  abandon(): string {
    if (this.state === 'finished') return 'supervisor is exiting';
    if (this.proc) {
      this.proc.watch?.close();
      forgetChild(this.proc.pid);
      this.proc = undefined;
    }
    this.finish('exit');
    return '';
  }

  snapshot(): StatusSnapshot {
    const running = this.proc !== undefined;
    return {
      pid: this.proc?.pid ?? 0,
      running,
      since: this.since,
      cmd: this.config.command.join(' '),
      fpid: this.proc?.kind === 'followed',
      count: this.count,
      note: this.describeWait(),
      want: this.want,
      lastExit: this.lastExit,
      startFailures: this.startFailures,
      lastStartError: this.lastStartError,
      backoffMs: this.backoffMs,
      logDroppedLines: this.opts.output.droppedLines(),
      logError: this.opts.output.lastError(),
    };
  }

  /** Current state, for tests and immortaldir. */
  get currentState(): SupervisorState {
    return this.state;
  }

  // ── events ────────────────────────────────────────────────────────────────────────────

  private onStartDue(): void {
    this.startTimer = undefined;
    // Node arms timers from the event loop's cached clock, so one can fire a few ms early;
    // starting then would break the 1 s rule (seen: starts 992 ms apart). Wait out the rest.
    const earlyMs = this.startDueMono - performance.now();
    if (this.state === 'waiting' && earlyMs > 0) {
      this.startTimer = setTimeout(() => this.onStartDue(), Math.ceil(earlyMs));
      return;
    }
    switch (this.state) {
      case 'waiting': void this.attemptStart(this.generation); break;
      default: break; // a command changed course while the timer ran
    }
  }

  private onChildExit(status: ExitStatus): void {
    if (this.proc?.pid !== status.pid) return;
    // Its last partial line is ended now, not glued to the next run's first line.
    this.opts.output.endOfRun();
    const goneProc = this.proc;
    this.recordExit(status.code, status.signal);
    switch (this.state) {
      case 'stopping': void this.stopFinished(); break;
      case 'running': this.afterProcessGone(goneProc); break;
      default: break;
    }
  }

  private onWatchedExit(pid: number): void {
    if (this.proc?.pid !== pid) return;
    const goneProc = this.proc;
    this.recordExit(null, null); // not our child: its status belongs to its parent
    switch (this.state) {
      case 'stopping': void this.stopFinished(); break;
      case 'running': this.afterProcessGone(goneProc); break;
      default: break;
    }
  }

  private onKillTimeout(): void {
    this.killTimer = undefined;
    switch (this.state) {
      case 'stopping': this.signalService('SIGKILL'); break;
      default: break;
    }
  }

  // ── transitions ───────────────────────────────────────────────────────────────────────

  private scheduleStart(delayMs: number): void {
    this.state = 'waiting';
    this.clearStartTimer();
    this.startDueAt = Date.now() + delayMs;
    this.startDueMono = performance.now() + delayMs;
    this.startTimer = setTimeout(() => this.onStartDue(), delayMs);
  }

  private cancelPendingStart(): void {
    this.clearStartTimer();
    this.generation++;
    this.note = undefined;
  }

  private async attemptStart(generation: number): Promise<void> {
    if (!(await this.preconditionsMet(generation))) return;
    if (generation !== this.generation || this.state !== 'waiting') return;
    this.lastAttemptMono = performance.now();
    let pid: number;
    try {
      pid = spawnService(this.opts.launch, (status) => this.onChildExit(status));
    } catch (err) {
      this.startFailed(err as Error);
      return;
    }
    // The 1 s rule counts from when the process exists, not from when spawning began: a slow
    // spawn (busy machine) must not bring the next start closer than 1 s to this one.
    this.lastAttemptMono = performance.now();
    this.lastStartFailed = false;
    this.count++;
    this.runsSinceUp++;
    this.since = Date.now();
    this.note = undefined;
    this.proc = { pid, kind: 'child', ours: true };
    this.state = 'running';
    this.writeChildPidfiles(pid);
    this.opts.log(`started ${pid}: ${this.config.command.join(' ')}`);
    this.settleFirst(pid);
  }

  private settleFirst(pid: number): void {
    if (this.settleFirstStart.done) return;
    this.settleFirstStart.done = true;
    this.settleFirstStart.resolve(pid);
  }

  /** require: and require_cmd: both hold, or a retry in a second is scheduled. */
  private async preconditionsMet(generation: number): Promise<boolean> {
    const retryLater = (note: string) => {
      if (generation !== this.generation || this.state !== 'waiting') return false;
      this.note = note;
      this.scheduleStart(this.minRestartMs);
      this.settleFirst(0); // the launcher stops waiting: we are up, the service is held back
      return false;
    };
    if (this.config.require.length > 0 && this.opts.requireCheck) {
      const missing = await this.opts.requireCheck(this.config.require);
      if (missing.length > 0) return retryLater(`waiting for require: ${missing.join(', ')}`);
    }
    if (this.config.requireCmd !== undefined) {
      let status: ExitStatus;
      try {
        status = await runShellCommand(this.opts.launch, this.config.requireCmd).done;
      } catch (err) {
        return retryLater(`require_cmd: ${(err as Error).message}`);
      }
      if (status.code !== 0) return retryLater(`waiting for require_cmd (exit ${status.code ?? status.signal})`);
    }
    return generation === this.generation;
  }

  private startFailed(err: Error): void {
    this.startFailures++;
    this.lastStartError = err.message;
    this.lastStartFailed = true;
    if (!this.settleFirstStart.done) {
      this.settleFirstStart.done = true;
      this.settleFirstStart.reject(err);
      // `immortal` reports a failed first start and exits: fail loudly, leave nothing behind.
      if (this.opts.failFirstStart ?? true) {
        this.finish('start-error');
        return;
      }
    }
    this.opts.log(`start failed: ${err.message}`);
    this.quickExits++;
    this.scheduleStart(this.restartDelay());
  }

  /** The direct child or the followed pid is gone: follow a new pid, restart, or rest. */
  private afterProcessGone(gone: Tracked): void {
    if (this.config.pid.follow === undefined) return this.decideRestart();
    const generation = ++this.generation;
    this.state = 'waiting';
    this.note = `looking for a pid in ${this.config.pid.follow}`;
    // What our own command started hands over only to our descendants; a daemon an earlier
    // supervisor left us re-execs outside our tree, so its successor cannot be held to that.
    // Descent proves a pid is ours only while orphans are re-parented to us (subreaper).
    const check = { exclude: [process.pid, gone.pid], ancestor: gone.ours && isSubreaper() ? process.pid : undefined };
    const search: { then?: 'down' | FinishReason } = {};
    this.searching = search;
    void waitForFollowablePid(this.config.pid.follow, check, followGraceMs, () => generation !== this.generation)
      .then((pid) => {
        if (this.searching === search) this.searching = undefined;
        if (generation !== this.generation || this.state !== 'waiting') return;
        this.note = undefined;
        if (pid !== undefined && this.follow(pid, 'followed')) {
          // A handover (the foreground daemonized, a master re-exec'd) is no crash: it must
          // not bring the crash-loop backoff closer (recordExit counted it as a quick exit).
          this.quickExits = Math.max(0, this.quickExits - 1);
          if (search.then) this.stop(search.then);
          return;
        }
        if (search.then === undefined || search.then === 'down') this.decideRestart();
        else this.finish(search.then);
      });
  }

  /** Supervises a pid that is not our child. False when it vanished or the pidfile moved on. */
  private follow(pid: number, kind: 'followed' | 'adopted'): boolean {
    let watch: ExitWatch;
    try {
      watch = watchExit(pid, () => this.onWatchedExit(pid));
    } catch {
      return false;
    }
    // Armed first, checked second: a pid recycled between our read and the watch is caught here.
    const stillNamed = kind === 'adopted' || readPidfile(this.config.pid.follow!) === pid;
    if (!stillNamed || !alive(pid)) {
      watch.close();
      return false;
    }
    this.proc = { pid, kind, watch, ours: descendsFrom(pid, process.pid) === true };
    this.state = 'running';
    this.since = processStartTime(pid) ?? Date.now();
    this.opts.log(`${kind === 'adopted' ? 'adopted' : 'following'} pid ${pid}`);
    return true;
  }

  private decideRestart(): void {
    this.runPostExit();
    if (this.want === 'once') this.want = 'down';
    if (this.want === 'down') {
      this.state = 'down';
      return;
    }
    if (this.config.retries >= 0 && this.runsSinceUp > this.config.retries) {
      this.opts.log(`retries used up (${this.config.retries})`);
      this.want = 'down';
      this.state = 'down';
      if (this.opts.exitWhenRetriesUsed) this.finish('retries');
      return;
    }
    this.scheduleStart(this.restartDelay());
  }

  private stop(then: AfterStop): void {
    this.state = 'stopping';
    this.afterStop = then;
    this.killDeadline = Date.now() + this.config.stopTimeout * 1000;
    this.stopGroup = serviceGroup(this.proc!.pid, this.proc!.kind === 'child');
    this.signalService('SIGTERM');
    // A stopped process cannot act on TERM until continued.
    this.signalService('SIGCONT');
    this.killTimer = setTimeout(() => this.onKillTimeout(), this.config.stopTimeout * 1000);
  }

  /** The leader is gone; let the rest of its group finish until the deadline, then KILL it. */
  private async stopFinished(): Promise<void> {
    while (this.stopGroup > 1 && groupAlive(this.stopGroup) && Date.now() < this.killDeadline) {
      await new Promise((resolve) => setTimeout(resolve, groupCheckIntervalMs));
    }
    if (this.stopGroup > 1 && groupAlive(this.stopGroup)) killGroup(this.stopGroup, 'SIGKILL');
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = undefined;
    this.runPostExit();
    const then = this.afterStop;
    this.afterStop = 'down';
    if (then === 'down') this.state = 'down';
    else if (then === 'restart') this.scheduleStart(this.restartDelay());
    else this.finish(then);
  }

  private terminate(reason: FinishReason): string {
    this.want = 'down';
    switch (this.state) {
      case 'running': this.stop(reason); break;
      case 'stopping': this.afterStop = reason; break;
      case 'waiting':
        if (this.searching) {
          this.searching.then = reason;
          break;
        }
        this.cancelPendingStart();
        this.finish(reason);
        break;
      case 'down': this.cancelPendingStart(); this.finish(reason); break;
      case 'finished': return 'supervisor is exiting';
    }
    return '';
  }

  private finish(reason: FinishReason): void {
    this.cancelPendingStart();
    if (this.killTimer) clearTimeout(this.killTimer);
    this.state = 'finished';
    const pending = [...this.postExits];
    const bound = new Promise((resolve) => setTimeout(resolve, this.config.stopTimeout * 1000).unref());
    void Promise.race([Promise.allSettled(pending), bound]).then(() => this.resolveFinished(reason));
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────

  private recordExit(code: number | null, signal: string | null): void {
    const ranMs = performance.now() - this.lastAttemptMono;
    this.quickExits = ranMs < this.config.backoffReset * 1000 ? this.quickExits + 1 : 0;
    this.lastExit = { code, signal, at: Date.now() };
    this.since = this.lastExit.at;
    const { pid, kind } = this.proc!;
    this.proc?.watch?.close();
    this.proc = undefined;
    // child.pid names a live service and nothing else: it is what re-adoption trusts.
    if (kind !== 'followed') removePidfileIfOurs(path.join(this.superviseDir, 'child.pid'), pid);
    this.opts.log(`pid ${pid} exited${signal ? ` on ${signal}` : code === null ? '' : ` with ${code}`}`);
  }

  /** The 1 s rule, plus the crash-loop backoff once quick exits pile up. */
  private restartDelay(): number {
    this.backoffMs = backoffDelayMs(this.quickExits, this.config.backoffCap * 1000);
    const ruleMs = Math.max(0, this.lastAttemptMono + this.minRestartMs - performance.now());
    return ruleMs + this.backoffMs;
  }

  private describeWait(): string | undefined {
    if (this.state !== 'waiting') return undefined;
    if (this.note) return this.note;
    const backoff = this.backoffMs > 0 ? `backoff ${Math.round(this.backoffMs / 1000)}s` : undefined;
    // The binary was removed, or lost its x bit: say why nothing runs, not only when the next try is.
    if (this.lastStartFailed) return [`start failed: ${this.lastStartError}`, backoff].filter(Boolean).join('; ');
    const remaining = Math.max(0, this.startDueAt - Date.now()) / 1000;
    if (this.count === 0 && this.startTimer) return `Starting in ${remaining.toFixed(1)} seconds`;
    return backoff;
  }

  private runPostExit(): void {
    if (this.config.postExit === undefined) return;
    // 0 for a followed pid's exit, whose status only its parent saw (docs/follow.md).
    const code = (this.lastExit && shellExitCode(this.lastExit.code, this.lastExit.signal)) ?? 0;
    try {
      const run = runShellCommand(this.opts.launch, `${this.config.postExit} ${code}`).done;
      this.postExits.add(run);
      void run.then(() => this.postExits.delete(run));
    } catch (err) {
      this.opts.log(`post_exit failed: ${(err as Error).message}`);
    }
  }

  /** TERM/KILL/CONT to the whole group when we know it, else to the pid alone. */
  private signalService(sig: string): void {
    if (this.stopGroup > 1 && killGroup(this.stopGroup, sig)) return;
    if (this.proc) {
      try {
        kill(this.proc.pid, sig);
      } catch {
        // already gone: its exit event is on its way
      }
    }
  }

  private writeChildPidfiles(pid: number): void {
    const files = [path.join(this.superviseDir, 'child.pid')];
    if (this.config.pid.child) files.push(this.config.pid.child);
    for (const file of files) {
      try {
        writePidfileAtomically(file, pid);
      } catch (err) {
        this.opts.log(`cannot write ${file}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * After a supervisor was killed (-9) and started again: follow the pid the follow pidfile
   * names, or re-adopt the child the last supervisor started, instead of starting a duplicate.
   */
  private resumeExisting(): boolean {
    if (this.config.pid.follow !== undefined) {
      const pid = followablePid(this.config.pid.follow, { exclude: [process.pid] });
      if (pid !== undefined && this.follow(pid, 'followed')) {
        this.count = 1;
        this.settleFirst(pid);
        return true;
      }
    }
    const pid = adoptablePid(path.join(this.superviseDir, 'child.pid'), this.config.command);
    if (pid !== undefined && this.follow(pid, 'adopted')) {
      this.count = 1;
      this.runsSinceUp = 1;
      this.lastAttemptMono = performance.now();
      this.settleFirst(pid);
      return true;
    }
    return false;
  }

  private clearStartTimer(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }
}
