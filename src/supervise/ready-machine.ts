// Readiness, health and the watchdog on top of the state machine (machine.ts; the rows of
// `starting` are in states.ts). With `ready:` a spawn leads to `starting`, and one of these
// makes it `running`: READY=1 on the notify socket, a newline on the notification fd, a
// passing probe. Not ready within ready.timeout: the start failed (stopped whole, counted,
// retried under the 1 s rule and backoff; `immortal`'s first start then exits 1). While
// running, `health:` probes and the `watchdog:` may restart the service (restartFor).

import { closeFd, pipe, type NotifyMessage } from '../native';
import type { SpawnExtras } from '../process/launch';
import { HealthMonitor } from './health';
import { ServiceStateMachine, type SupervisorOptions } from './machine';
import { NotifySocket } from './notify';
import { ProbeLoop, runProbe, watchNotificationPipe } from './readiness';
import type { RestartCause } from './service';
import type { Starting, State, Tracked } from './states';
import { watchTracked } from './tracked-process';

/** Longest a single ready probe may take (the whole wait is ready.timeout). */
const readyProbeTimeoutMs = 5000;

/** What the record shows of readiness and health (see service.ts StatusSnapshot). */
export interface ReadinessSnapshot {
  ready: boolean | null;
  health: string | null;
  healthFailures: number;
  probeError?: string;
  notifyStatus?: string;
}

export abstract class ReadyStateMachine extends ServiceStateMachine {
  private notifySocket?: NotifySocket;
  /** Our copy of the notification pipe's write end, between spawnExtras and spawned. */
  private pipeWriteFd?: number;
  private pipeReadFd?: number;
  /** What waits for this start to be ready (probe loop, pipe watch). */
  private readyWait?: { close(): void };
  private readonly health?: HealthMonitor;
  private watchdogTimer?: NodeJS.Timeout;
  private probeError?: string;
  /** STATUS= text, and STOPPING=1 / RELOADING=1 while they hold. */
  private notifyStatus?: string;

  constructor(opts: SupervisorOptions) {
    super(opts);
    if (opts.config.health) this.health = new HealthMonitor(opts.config.health, opts.launch);
  }

  abstract restartFor(cause: RestartCause, reason: string): void;

  /** Called each time the service becomes ready (immortaldir wakes what requires it). */
  whenReady?: () => void;

  /** A start held back by `require:` is checked again now, not at the next 1 s retry. */
  recheckHeldStart(): void {
    const s = this.state;
    if (s.name === 'start-due' && s.held !== undefined) this.scheduleStart(0, s.held);
  }

  readinessSnapshot(): ReadinessSnapshot {
    const s = this.state;
    return {
      ready: s.name === 'running' ? true : s.name === 'starting' ? false : null,
      health: this.health?.summary() ?? null,
      healthFailures: this.health?.totalFailures ?? 0,
      probeError: this.health?.lastError ?? this.probeError,
      notifyStatus: this.notifyStatus,
    };
  }

  // ── hooks of machine.ts ─────────────────────────────────────────────────────────────

  protected override spawnExtras(): SpawnExtras | undefined {
    const ready = this.config.ready;
    this.closePipe();
    if (ready?.notify === 'systemd') {
      const env = [`NOTIFY_SOCKET=${this.openNotifySocket().path}`];
      if (this.config.watchdog) env.push(`WATCHDOG_USEC=${Math.round(this.config.watchdog * 1e6)}`);
      return { env };
    }
    if (typeof ready?.notify === 'number') {
      [this.pipeReadFd, this.pipeWriteFd] = pipe();
      return { fds: new Map([[ready.notify, this.pipeWriteFd]]) };
    }
    return undefined;
  }

  protected override spawned(proc: Tracked): void {
    const ready = this.config.ready;
    if (ready === undefined) return super.spawned(proc);
    this.probeError = undefined;
    this.notifyStatus = undefined;
    const starting: Starting = { name: 'starting', proc };
    starting.timer = setTimeout(() => this.onReadyTimeout(starting), ready.timeout * 1000);
    this.to(starting);
    if (this.pipeReadFd !== undefined) {
      const readFd = this.pipeReadFd;
      this.pipeReadFd = undefined;
      this.closePipe(); // the service holds the write end now: end of file once it is gone
      this.readyWait = watchNotificationPipe(readFd, () => this.onReady(starting));
    } else if (ready.probe) {
      const probe = ready.probe;
      const timeoutMs = Math.min(readyProbeTimeoutMs, ready.timeout * 1000);
      this.readyWait = new ProbeLoop(() => runProbe(probe, timeoutMs, this.opts.launch), ready.interval * 1000, (verdict) => {
        if (verdict === undefined) return this.onReady(starting);
        this.probeError = verdict;
      });
    }
  }

  protected override transitioned(left: State): void {
    const now = this.state;
    if (left.name === 'starting' && now !== left) this.endReadyWait();
    if (left.name === 'running' && now.name !== 'running') this.endRunningWatch();
    if (now.name === 'running' && left.name !== 'running') {
      this.beginRunningWatch();
      this.whenReady?.();
    }
    if (now.name === 'finished') {
      this.endReadyWait();
      this.closePipe();
      this.notifySocket?.close();
      this.notifySocket = undefined;
    }
  }

  // ── events ──────────────────────────────────────────────────────────────────────────

  private onReady(starting: Starting): void {
    if (this.state !== starting) return; // stale: exited, stopped, or already ready
    this.probeError = undefined;
    this.opts.log(`ready: pid ${starting.proc.pid}`);
    this.to({ name: 'running', proc: starting.proc });
    this.outcome.started(starting.proc.pid);
  }

  private onReadyTimeout(starting: Starting): void {
    if (this.state !== starting) return;
    starting.timer = undefined;
    const seconds = this.config.ready!.timeout;
    // A code, like spawn's errors: `immortal -n` prints the message alone, as its one line.
    const err = Object.assign(new Error(`not ready within ${seconds} s${this.probeError ? ` (last probe: ${this.probeError})` : ''}`), { code: 'ENOTREADY' });
    this.history.startFailed(err);
    this.opts.log(`start failed: ${err.message}`);
    const first = this.outcome.firstStartFailed(err) && (this.opts.failFirstStart ?? true);
    if (first) this.setWant('down');
    this.stopService(starting.proc, first ? 'start-error' : 'restart');
  }

  private onNotify(msg: NotifyMessage, fields: Map<string, string>): void {
    const s = this.state;
    if (s.name !== 'starting' && s.name !== 'running') return;
    // Only the service speaks for itself: a stranger that can reach the socket (root) is ignored.
    if (msg.pid <= 0 || (msg.pid !== s.proc.pid && !this.opts.members.pids().includes(msg.pid))) {
      this.opts.log(`notify: ignored a message from pid ${msg.pid}, not a process of the service`);
      return;
    }
    const status = fields.get('STATUS');
    if (status !== undefined) this.notifyStatus = status;
    if (fields.get('STOPPING') === '1') this.notifyStatus = status ?? 'stopping';
    if (fields.get('RELOADING') === '1') this.notifyStatus = status ?? 'reloading';
    const mainPid = Number(fields.get('MAINPID'));
    if (Number.isInteger(mainPid) && mainPid > 0 && mainPid !== s.proc.pid) this.followMainPid(s, mainPid);
    if (fields.get('READY') === '1') {
      if (fields.get('RELOADING') === undefined && status === undefined && this.notifyStatus !== undefined
        && ['stopping', 'reloading'].includes(this.notifyStatus)) this.notifyStatus = undefined;
      if (s.name === 'starting') this.onReady(s);
    }
    const watchdog = fields.get('WATCHDOG');
    if (watchdog === '1' && s.name === 'running') this.armWatchdog();
    if (watchdog === 'trigger' && s.name === 'running') this.restartFor('watchdog', 'watchdog: WATCHDOG=trigger from the service');
  }

  /** MAINPID=: the service's main process is now that pid, followed like -f (it must be a member). */
  private followMainPid(s: Extract<State, { name: 'starting' | 'running' }>, pid: number): void {
    if (!this.opts.members.pids().includes(pid)) {
      this.opts.log(`notify: MAINPID=${pid} ignored, not a process of the service`);
      return;
    }
    const proc = watchTracked(pid, 'adopted', this.config, (p, status) => this.onExited(p, status));
    if (proc === undefined) return;
    proc.kind = 'followed';
    this.tracking(proc);
    s.proc = proc;
  }

  // ── while running ───────────────────────────────────────────────────────────────────

  private openNotifySocket(): NotifySocket {
    this.notifySocket ??= new NotifySocket(this.config.superviseDir, this.opts.launch.user, (msg, fields) => this.onNotify(msg, fields), this.opts.log);
    return this.notifySocket;
  }

  private beginRunningWatch(): void {
    // A service adopted from an earlier supervisor still sends to the same path: listen there too.
    if (this.config.ready?.notify === 'systemd' && this.notifySocket === undefined) {
      try {
        this.openNotifySocket();
      } catch (err) {
        this.opts.log(`notify socket: ${(err as Error).message}`);
      }
    }
    this.health?.begin((reason) => this.restartFor('health', reason));
    if (this.config.watchdog && this.config.ready?.notify === 'systemd') this.armWatchdog();
  }

  private endRunningWatch(): void {
    this.health?.end();
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private armWatchdog(): void {
    const seconds = this.config.watchdog;
    if (!seconds) return;
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = undefined;
      this.restartFor('watchdog', `watchdog: no WATCHDOG=1 for ${seconds} s`);
    }, seconds * 1000);
  }

  private endReadyWait(): void {
    this.readyWait?.close();
    this.readyWait = undefined;
  }

  private closePipe(): void {
    for (const fd of [this.pipeWriteFd, this.pipeReadFd]) if (fd !== undefined) closeFd(fd);
    this.pipeWriteFd = undefined;
    this.pipeReadFd = undefined;
  }
}
