// One supervised service's state machine: the states of states.ts, carried out for the
// events that come from the process world — timers, a child's exit, a watched pid's exit,
// the answers of async work (require:, require_cmd:, the pidfile search, post_exit). Each
// event is one method switching over every state; `to()` is the only place the state
// changes. supervisor.ts adds the operator's commands and status on top.

import type { Config } from '../config/config';
import { cancelRestart, isSubreaper, kill, type ExitStatus } from '../native';
import { prepareServiceRestart, restartedService, spawnService, type SpawnExtras } from '../process/launch';
import { processStartTime } from '../process/proc';
import { waitForFollowablePid } from './follow';
import { RunHistory } from './history';
import { SupervisorOutcome } from './outcome';
import { checkPreconditions, hasPreconditions, startPostExit } from './hooks';
import type { SupervisorOptions } from './options';
import { restartNeedsNoJavaScript } from './prepared-restart';
import {
  timersOf, trackedProcess, unreachable,
  type AfterStop, type CheckingPreconditions, type PendingStop, type Draining, type Finished, type FinishReason,
  type SearchingPidfile, type StartDue, type State, type StopProgress, type Stopping, type StoppingLeftovers, type Tracked,
} from './states';
import { beginStop, drainCheckIntervalMs, serviceDrained, signalService } from './stopping';
import { findLeftRunning, trackedExited, watchTracked, writeChildPidfiles } from './tracked-process';

export type { SupervisorOptions } from './options';

/** pid.grace when unset: gunicorn renames its pidfile back up to ~1 s after the old master exits. */
const defaultPidGraceSeconds = 3;

export class ServiceStateMachine {
  /** Resolves once the supervisor is done; the caller then tears down socket and lock. */
  readonly finished: Promise<FinishReason>;
  /** Settles on the first start: the pid, or the spawn error (daemon mode reports it). */
  readonly firstStart: Promise<number>;
  protected readonly outcome = new SupervisorOutcome();

  protected state: State = { name: 'new' };
  /** The operator's wish, apart from the state: what to do after the next exit (setWant). */
  private wanted: 'up' | 'down' | 'once' = 'up';
  protected readonly history: RunHistory;
  private readonly postExits = new Set<Promise<unknown>>();
  protected readonly config: Config;
  private readonly minRestartMs: number;
  /** No key of the config needs JavaScript between an exit and the next start (prepared-restart.ts). */
  private readonly addonMayRestart: boolean;
  /** The child whose exit the addon will answer with the next start (native.prepareRestart). */
  private preparedFor?: number;
  /** A start's next restart is prepared once the start's own callbacks are done (setImmediate). */
  private prepareSoon?: NodeJS.Immediate;

  constructor(protected readonly opts: SupervisorOptions) {
    this.config = opts.config;
    this.minRestartMs = opts.minRestartMs ?? 1000;
    this.history = new RunHistory({
      minRestartMs: this.minRestartMs,
      backoffResetMs: this.config.backoffReset * 1000,
      backoffCapMs: this.config.backoffCap * 1000,
    });
    this.finished = this.outcome.finished;
    this.firstStart = this.outcome.firstStart;
    this.addonMayRestart = restartNeedsNoJavaScript(this.config, opts);
  }

  protected get want(): 'up' | 'down' | 'once' {
    return this.wanted;
  }

  /** Anything but `up` decides at the exit: a prepared restart would not. */
  protected setWant(want: 'up' | 'down' | 'once'): void {
    this.wanted = want;
    if (want !== 'up') this.cancelPreparedRestart();
  }

  /** Picks up a service still running from a previous supervisor, else starts after `wait`. */
  begin(): void {
    const s = this.state;
    switch (s.name) {
      case 'new': {
        const proc = findLeftRunning(this.config, this.opts.members, (pid, status) => this.onExited(pid, status));
        if (proc === undefined) {
          // Processes of the service but none to adopt (its main process died with the last
          // supervisor): they go before anything new starts.
          if (!this.opts.members.empty()) return this.stopLeftovers('restart');
          return this.scheduleStart(this.config.wait * 1000);
        }
        this.history.resumed(proc.kind === 'adopted' ? 'adopted' : 'followed');
        this.tracking(proc);
        this.to({ name: 'running', proc });
        return this.outcome.started(proc.pid);
      }
      case 'start-due': case 'checking-preconditions': case 'running': case 'starting': case 'searching-pidfile':
      case 'stopping': case 'draining': case 'stopping-leftovers': case 'down': case 'finished':
        return; // a command came first (down, halt): it stands
      default: return unreachable(s);
    }
  }

  // ── events ────────────────────────────────────────────────────────────────────────────

  private onStartDue(due: StartDue): void {
    const s = this.state;
    switch (s.name) {
      case 'start-due': {
        if (s !== due) return;
        // Node arms timers from the event loop's cached clock, so one can fire a few ms early;
        // starting then would break the 1 s rule (seen: starts 992 ms apart). Wait out the rest.
        const earlyMs = s.dueMono - performance.now();
        if (earlyMs > 0) {
          s.timer = setTimeout(() => this.onStartDue(s), Math.ceil(earlyMs));
          return;
        }
        s.timer = undefined;
        if (!hasPreconditions(this.config, this.opts.requireCheck)) return this.spawnNow();
        const checking: CheckingPreconditions = { name: 'checking-preconditions', held: s.held };
        this.to(checking);
        void checkPreconditions(this.config, this.opts.launch, this.opts.requireCheck, () => this.state !== checking).then(
          (held) => this.onPreconditionsChecked(checking, held),
          (err: Error) => this.onPreconditionsChecked(checking, `require: ${err.message}`),
        );
        return;
      }
      case 'new': case 'checking-preconditions': case 'running': case 'starting': case 'searching-pidfile':
      case 'stopping': case 'draining': case 'stopping-leftovers': case 'down': case 'finished':
        return; // a command changed course while the timer ran
      default: return unreachable(s);
    }
  }

  /** `held`: why the start must wait (undefined: go ahead). */
  private onPreconditionsChecked(checking: CheckingPreconditions, held: string | undefined): void {
    const s = this.state;
    switch (s.name) {
      case 'checking-preconditions':
        if (s !== checking) return;
        if (held === undefined) return this.spawnNow();
        this.scheduleStart(this.minRestartMs, held);
        return this.outcome.started(0); // the launcher stops waiting: we are up, the service is held back
      case 'new': case 'start-due': case 'running': case 'starting': case 'searching-pidfile': case 'stopping':
      case 'draining': case 'stopping-leftovers': case 'down': case 'finished':
        return; // stale: down or halt came while the check ran
      default: return unreachable(s);
    }
  }

  /** exited: our child (SIGCHLD, with its status) or a watched pid (pidfd/kqueue, no status). */
  protected onExited(pid: number, status: ExitStatus | undefined): void {
    const s = this.state;
    switch (s.name) {
      case 'running':
      case 'starting':
      case 'stopping':
        if (s.proc.pid !== pid) return this.strayRestart(status);
        if (status?.restarted !== undefined || status?.restartError !== undefined) {
          if (s.name === 'running') return this.restartedByAddon(s.proc, status);
          // The addon's thread restarted it as it exited, just before a stop cancelled that
          // restart: the new run is not wanted, and this exit is the one the stop waits for.
          this.strayRestart(status);
        } else if (status) {
          // A child's last partial line is ended now, not glued to the next run's first line.
          this.opts.output.endOfRun();
        }
        // A watched pid is not our child: its exit status went to its parent, not to us.
        this.exited(s.proc, status?.code ?? null, status?.signal ?? null);
        return s.name === 'stopping' ? this.leaderGone(s) : this.afterRunning(s.proc);
      case 'new': case 'start-due': case 'checking-preconditions': case 'searching-pidfile':
      case 'draining': case 'stopping-leftovers': case 'down': case 'finished':
        return this.strayRestart(status); // not ours any more (exit, or an earlier run)
      default: return unreachable(s);
    }
  }

  private onPidfileSearchDone(search: SearchingPidfile, pid: number | undefined): void {
    const s = this.state;
    switch (s.name) {
      case 'searching-pidfile': {
        if (s !== search) return;
        const proc = pid === undefined ? undefined : watchTracked(pid, 'followed', this.config, (p, status) => this.onExited(p, status));
        if (proc) {
          this.history.handedOver();
          this.tracking(proc);
          return s.then ? this.stopService(proc, s.then) : this.to({ name: 'running', proc });
        }
        return this.afterRun(s.then);
      }
      case 'new': case 'start-due': case 'checking-preconditions': case 'running': case 'starting': case 'stopping':
      case 'draining': case 'stopping-leftovers': case 'down': case 'finished':
        return; // abandoned while searching
      default: return unreachable(s);
    }
  }

  private onKillTimeout(stop: StopProgress): void {
    const s = this.state;
    switch (s.name) {
      case 'stopping':
      case 'draining':
      case 'stopping-leftovers':
        if (s.stop !== stop) return;
        stop.killTimer = undefined;
        return signalService(stop, trackedProcess(s), 'SIGKILL', this.opts.members);
      case 'new': case 'start-due': case 'checking-preconditions': case 'running': case 'starting': case 'searching-pidfile':
      case 'down': case 'finished':
        return;
      default: return unreachable(s);
    }
  }

  private onDrainTick(draining: Draining | StoppingLeftovers): void {
    const s = this.state;
    switch (s.name) {
      case 'draining':
      case 'stopping-leftovers':
        if (s !== draining) return;
        if (serviceDrained(s.stop, this.opts.members)) return this.stopComplete(s.stop.then);
        s.tick = setTimeout(() => this.onDrainTick(s), drainCheckIntervalMs);
        return;
      case 'new': case 'start-due': case 'checking-preconditions': case 'running': case 'starting': case 'searching-pidfile':
      case 'stopping': case 'down': case 'finished':
        return;
      default: return unreachable(s);
    }
  }

  private onPostExitDone(run: Promise<unknown>): void {
    this.postExits.delete(run);
    const s = this.state;
    switch (s.name) {
      case 'finished': if (this.postExits.size === 0) this.settleFinished(s); return;
      case 'new': case 'start-due': case 'checking-preconditions': case 'running': case 'starting': case 'searching-pidfile':
      case 'stopping': case 'draining': case 'stopping-leftovers': case 'down':
        return;
      default: return unreachable(s);
    }
  }

  /** stop_timeout after finishing: post_exit commands still running are not waited for. */
  private onFinishBound(done: Finished): void {
    const s = this.state;
    switch (s.name) {
      case 'finished': if (s === done) this.settleFinished(s); return;
      case 'new': case 'start-due': case 'checking-preconditions': case 'running': case 'starting': case 'searching-pidfile':
      case 'stopping': case 'draining': case 'stopping-leftovers': case 'down':
        return;
      default: return unreachable(s);
    }
  }

  // ── transitions ───────────────────────────────────────────────────────────────────────

  /** The one place the state changes; timers the old state owned and the new one does not take are cleared. */
  protected to(next: State): void {
    // Prepared for the state being left: whatever follows decides anew.
    this.cancelPreparedRestart();
    const kept = timersOf(next);
    for (const timer of timersOf(this.state)) if (!kept.includes(timer)) clearTimeout(timer);
    const left = this.state;
    this.state = next;
    this.transitioned(left);
  }

  // Hooks for ready-machine.ts: a state changed; what a start adds to the spawn (NOTIFY_SOCKET,
  // a notification fd); the process exists (without `ready:` it is running at once).
  protected transitioned(_left: State): void {}
  protected spawnExtras(): SpawnExtras | undefined { return undefined; }
  protected spawned(proc: Tracked): void {
    this.to({ name: 'running', proc });
    this.outcome.started(proc.pid);
  }

  protected scheduleStart(delayMs: number, held?: string): void {
    const due: StartDue = { name: 'start-due', dueAt: Date.now() + delayMs, dueMono: performance.now() + delayMs, held };
    // Due now (a restart more than 1 s after the last start): setTimeout(0) would wait at
    // least 1 ms, a third of a restart here. A stale immediate finds another state and returns.
    if (delayMs <= 0) setImmediate(() => this.onStartDue(due));
    else due.timer = setTimeout(() => this.onStartDue(due), delayMs);
    this.to(due);
  }

  private spawnNow(): void {
    this.history.attempting();
    let pid: number;
    try {
      pid = spawnService(this.opts.launch, (status) => this.onExited(status.pid, status), this.spawnExtras());
    } catch (err) {
      return this.startFailed(err as Error);
    }
    this.startedRun(pid);
  }

  /** A run of ours exists (spawnNow, or the addon's prepared restart): recorded, announced, and the next restart prepared. */
  private startedRun(pid: number): void {
    this.history.started();
    writeChildPidfiles(this.config, pid, this.opts.log);
    this.opts.log(`started ${pid}: ${this.config.command.join(' ')}`);
    this.spawned({ pid, kind: 'child', ours: true, member: true });
    if (!this.addonMayRestart || this.state.name !== 'running') return;
    // Prepared once this turn of the event loop is done with the start, in the same wake-up:
    // a timer, even of 0 ms, sleeps 1 ms and wakes the supervisor again, and on a virtual
    // machine that wake-up cost 75-95 µs of CPU, more than the preparation itself.
    this.prepareSoon = setImmediate(() => this.prepareRestart(pid));
    this.prepareSoon.unref();
  }

  /**
   * While pid runs as the service, its next start is handed to the addon, due when an exit
   * would be restarted at once: the addon starts it as pid exits (prepared-restart.ts).
   */
  private prepareRestart(pid: number): void {
    this.prepareSoon = undefined;
    const s = this.state;
    if (this.want !== 'up' || s.name !== 'running' || s.proc.pid !== pid) return;
    try {
      if (prepareServiceRestart(this.opts.launch, pid, this.history.msUntilRestartIsDue())) this.preparedFor = pid;
    } catch (err) {
      // Only slower: the exit is then restarted here, as without a cgroup.
      this.opts.log(`next restart not prepared: ${(err as Error).message}`);
    }
  }

  private cancelPreparedRestart(): void {
    if (this.prepareSoon !== undefined) clearImmediate(this.prepareSoon);
    this.prepareSoon = undefined;
    if (this.preparedFor === undefined) return;
    cancelRestart(this.preparedFor);
    this.preparedFor = undefined;
  }

  /**
   * The addon restarted the service the moment `gone` was reaped: what this exit and that
   * start do here is done now, in the order and through the states of any restart (running →
   * start-due → running), so hooks, logs and status see no difference.
   */
  private restartedByAddon(gone: Tracked, status: ExitStatus): void {
    this.preparedFor = undefined; // reap() consumed it; the copiers' endOfRun ran before the start
    this.exited(gone, status.code, status.signal, status.restarted !== undefined);
    this.history.restartDelay(); // 0: due, as prepared; it sets the backoff status shows
    this.to({ name: 'start-due', dueAt: Date.now(), dueMono: performance.now() });
    this.history.attempting();
    if (status.restartError) return this.startFailed(status.restartError);
    const pid = status.restarted!;
    restartedService(this.opts.launch, pid, (next) => this.onExited(next.pid, next));
    this.startedRun(pid);
  }

  /**
   * A restart the addon started for a state already left: the state changed (and cancelled
   * it) between the exit, when the addon's thread started it, and the reap that tells us.
   * Its process would run unsupervised beside the service: it is killed and reaped.
   */
  private strayRestart(status: ExitStatus | undefined): void {
    const pid = status?.restarted;
    if (pid === undefined) return;
    this.opts.log(`a restart started as the service exited is not wanted any more: killing ${pid}`);
    restartedService(this.opts.launch, pid, () => {});
    kill(pid, 'SIGKILL');
  }

  /** An overlapped upgrade (upgrade.ts): its new instance is ready and becomes the service. */
  protected handOver(next: Tracked): void {
    this.history.since = Date.now(); // count rose when it started (upgrade.ts)
    this.to({ name: 'running', proc: next });
    writeChildPidfiles(this.config, next.pid, this.opts.log);
  }

  /** The exit of an instance an upgrade handed the service over to. */
  protected serviceExited(status: ExitStatus): void { this.onExited(status.pid, status); }

  private startFailed(err: Error): void {
    this.history.startFailed(err);
    // `immortal` reports a failed first start and exits: fail loudly, leave nothing behind.
    if (this.outcome.firstStartFailed(err) && (this.opts.failFirstStart ?? true)) return this.finish('start-error');
    this.opts.log(`start failed: ${err.message}`);
    this.scheduleStart(this.history.restartDelay());
  }

  /** A followed or adopted pid is now the service. */
  protected tracking(proc: Tracked): void {
    proc.member = this.opts.members.pids().includes(proc.pid);
    // From now on its session and group are the service's too (tracked mode): its workers are stopped with it.
    this.opts.members.claim(proc.pid);
    this.history.since = processStartTime(proc.pid) ?? Date.now();
    this.opts.log(`${proc.kind === 'adopted' ? 'adopted' : 'following'} pid ${proc.pid}`);
  }

  /** `replaced`: a successor already runs (prepared restart), whose pid goes over child.pid at once. */
  private exited(proc: Tracked, code: number | null, signal: string | null, replaced = false): void {
    this.history.exited(code, signal);
    trackedExited(proc, this.config, replaced);
    this.opts.log(`pid ${proc.pid} exited${signal ? ` on ${signal}` : code === null ? '' : ` with ${code}`}`);
  }

  /** The running process is gone by itself: look for its successor, or decide what is next. */
  private afterRunning(gone: Tracked): void {
    const file = this.config.pid.follow;
    // Nothing of the service is left: nobody could name a successor, so none is waited for.
    if (file === undefined || (gone.member && this.opts.members.empty())) return this.afterRun();
    // What our own command started hands over only to our descendants; a daemon an earlier
    // supervisor left us re-execs outside our tree, so its successor cannot be held to that.
    // Descent proves a pid is ours only while orphans are re-parented to us (subreaper).
    const check = { exclude: [process.pid, gone.pid], ancestor: gone.ours && isSubreaper() ? process.pid : undefined };
    const search: SearchingPidfile = { name: 'searching-pidfile', gone, file };
    this.to(search);
    const graceMs = (this.config.pid.grace ?? defaultPidGraceSeconds) * 1000;
    void waitForFollowablePid(file, check, graceMs, () => this.state !== search).then((verdict) => {
      if (typeof verdict === 'number') return this.onPidfileSearchDone(search, verdict);
      if (this.state === search) this.opts.log(`no pid to follow after ${graceMs / 1000} s: ${verdict}`);
      this.onPidfileSearchDone(search, undefined);
    });
  }

  /**
   * A run is over and nothing took its place: what it left is stopped first (two generations
   * never run side by side), then post_exit, then restart, rest or finish. `pending`: a stop
   * asked for while the pidfile was searched.
   */
  private afterRun(pending?: PendingStop): void {
    const then = pending !== undefined && pending !== 'down' ? pending : this.nextAfterRun();
    if (this.opts.members.empty()) return this.stopComplete(then);
    this.stopLeftovers(then);
  }

  /** want and retries decide what follows a run that ended by itself. */
  private nextAfterRun(): AfterStop {
    if (this.want === 'once') this.setWant('down');
    if (this.want === 'down') return 'down';
    if (this.history.retriesUsed(this.config.retries)) {
      this.opts.log(`retries used up (${this.config.retries})`);
      this.setWant('down');
      return this.opts.exitWhenRetriesUsed ? 'retries' : 'down';
    }
    return 'restart';
  }

  protected stopService(proc: Tracked, then: AfterStop): void {
    const stop = beginStop(proc, this.config, then, this.opts.members);
    stop.killTimer = setTimeout(() => this.onKillTimeout(stop), this.config.stopTimeout * 1000);
    this.to({ name: 'stopping', proc, stop });
  }

  /** Processes of the service outlived its main process (workers of a killed master): TERM, KILL at the deadline. */
  protected stopLeftovers(then: AfterStop): void {
    const left = this.opts.members.pids().length;
    this.opts.log(`stopping ${left} process${left === 1 ? '' : 'es'} left of the last run`);
    const stop = beginStop(undefined, this.config, then, this.opts.members);
    stop.killTimer = setTimeout(() => this.onKillTimeout(stop), this.config.stopTimeout * 1000);
    const leftovers: StoppingLeftovers = { name: 'stopping-leftovers', stop, left };
    leftovers.tick = setTimeout(() => this.onDrainTick(leftovers), drainCheckIntervalMs);
    this.to(leftovers);
  }

  /** The leader of a stop exited: wait for the rest of the service, or the stop is over. */
  private leaderGone(s: Stopping): void {
    if (serviceDrained(s.stop, this.opts.members)) return this.stopComplete(s.stop.then);
    const draining: Draining = { name: 'draining', stop: s.stop };
    draining.tick = setTimeout(() => this.onDrainTick(draining), drainCheckIntervalMs);
    this.to(draining);
  }

  private stopComplete(then: AfterStop): void {
    this.runPostExit();
    if (then === 'down') this.to({ name: 'down' });
    else if (then === 'restart') this.scheduleStart(this.history.restartDelay());
    else this.finish(then);
  }

  /** `finished` resolves once the post_exit commands running now are over, or after stop_timeout. */
  protected finish(reason: FinishReason): void {
    const done: Finished = { name: 'finished', reason };
    this.to(done);
    if (this.postExits.size === 0) return this.settleFinished(done);
    done.bound = setTimeout(() => this.onFinishBound(done), this.config.stopTimeout * 1000).unref();
  }

  private settleFinished(done: Finished): void {
    if (done.bound) clearTimeout(done.bound);
    this.outcome.finish(done.reason);
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────

  private runPostExit(): void {
    const run = startPostExit(this.config, this.opts.launch, this.history.lastExit, this.opts.log);
    if (run === undefined) return;
    this.postExits.add(run);
    void run.then(() => this.onPostExitDone(run));
  }
}
