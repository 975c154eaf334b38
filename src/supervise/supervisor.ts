// One supervised service as the control socket, immortal and immortaldir see it: the
// operator's commands and the status, on top of the state machine (machine.ts, whose
// states and transition table are in states.ts). Each command switches over every state,
// like the machine's events do.

import { kill } from '../native';
import type { SupervisorOptions } from './machine';
import { ReadyStateMachine } from './ready-machine';
import type { RestartCause, ServiceControl, ServiceUsage, StatusSnapshot } from './service';
import { coarseState, trackedProcess, unreachable, type SupervisorState } from './states';
import { signalDraining } from './stopping';
import { letGo } from './tracked-process';
import { Upgrades } from './upgrade';

export type { SupervisorOptions } from './machine';
export type { FinishReason, SupervisorState } from './states';

export class Supervisor extends ReadyStateMachine implements ServiceControl {
  readonly name: string;
  readonly superviseDir: string;
  readonly ownerUid: number;
  /** Overlapped upgrades (upgrade.ts), on top of `running`. */
  private readonly upgrades = new Upgrades({
    config: this.config,
    launch: this.opts.launch,
    runningChild: () => {
      const s = this.state;
      if (s.name !== 'running') return `no running process to upgrade (${coarseState(s)})`;
      if (s.proc.kind !== 'child') return `cannot upgrade a ${s.proc.kind} process: only one this supervisor started`;
      return s.proc;
    },
    stillRunning: (old) => this.state.name === 'running' && this.state.proc === old,
    started: () => { this.history.count++; },
    handOver: (next) => this.handOver(next),
    childExited: (status) => this.serviceExited(status),
    log: (line) => this.opts.log(line),
  });

  constructor(opts: SupervisorOptions) {
    super(opts);
    this.name = opts.config.name;
    this.superviseDir = opts.config.superviseDir;
    this.ownerUid = opts.ownerUid;
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
    const s = this.state;
    if (s.name === 'finished') return 'supervisor is exiting';
    this.setWant(want);
    this.history.operatorStart(want);
    switch (s.name) {
      case 'down': this.scheduleStart(0); break;
      case 'stopping': case 'draining': case 'stopping-leftovers': if (s.stop.then === 'down') s.stop.then = 'restart'; break;
      case 'searching-pidfile': if (s.then === 'down') s.then = undefined; break;
      case 'new': case 'start-due': case 'checking-preconditions': case 'running': case 'starting': break;
      default: return unreachable(s);
    }
    return '';
  }

  down(): string {
    const s = this.state;
    if (s.name === 'finished') return 'supervisor is exiting';
    this.setWant('down');
    switch (s.name) {
      case 'new': case 'start-due': case 'checking-preconditions': this.to({ name: 'down' }); break;
      case 'searching-pidfile': s.then ??= 'down'; break;
      case 'running': case 'starting': this.stopService(s.proc, 'down'); break;
      case 'stopping': case 'draining': case 'stopping-leftovers': if (s.stop.then === 'restart') s.stop.then = 'down'; break;
      case 'down': break;
      default: return unreachable(s);
    }
    return '';
  }

  signal(sig: string): string {
    const s = this.state;
    switch (s.name) {
      case 'running':
      case 'starting':
      case 'stopping':
        try {
          kill(s.proc.pid, sig);
          return '';
        } catch (err) {
          return (err as Error).message;
        }
      case 'draining': case 'stopping-leftovers': return signalDraining(s.stop, sig, this.opts.members);
      case 'new': case 'start-due': case 'checking-preconditions': case 'searching-pidfile':
      case 'down': case 'finished':
        return 'no running process';
      default: return unreachable(s);
    }
  }

  halt(): string {
    return this.terminate('halt');
  }

  /** SIGTERM/SIGINT to the supervisor: stop the service gracefully, then finish. */
  shutdown(): string {
    return this.terminate('shutdown');
  }

  private terminate(reason: 'halt' | 'shutdown'): string {
    this.setWant('down');
    const s = this.state;
    switch (s.name) {
      case 'running': case 'starting': this.stopService(s.proc, reason); break;
      case 'stopping': case 'draining': case 'stopping-leftovers': s.stop.then = reason; break;
      case 'searching-pidfile': s.then = reason; break;
      case 'new': case 'start-due': case 'checking-preconditions': case 'down': this.finish(reason); break;
      case 'finished': return 'supervisor is exiting';
      default: return unreachable(s);
    }
    return '';
  }

  /**
   * A graceful restart the supervisor decides itself (a failing health probe, a silent
   * watchdog, memory over `restart_if`): TERM → KILL after stop_timeout, like a stop, then the
   * next start under the 1 s rule. Counted by cause; the reason shows in status. Only a
   * running service is restarted: in any other state there is nothing to restart.
   */
  restartFor(cause: RestartCause, reason: string): void {
    const s = this.state;
    switch (s.name) {
      case 'running':
        this.opts.log(`restarting: ${reason}`);
        this.history.restartedFor(cause, reason);
        return this.stopService(s.proc, 'restart');
      case 'new': case 'start-due': case 'checking-preconditions': case 'searching-pidfile': case 'stopping':
      case 'starting': // not ready yet: ready.timeout decides
      case 'draining': case 'stopping-leftovers': case 'down': case 'finished':
        return;
      default: return unreachable(s);
    }
  }

  /** Starts a second instance on the held sockets, hands over once it is ready, stops the old one. */
  upgrade(): Promise<string> {
    return this.upgrades.run();
  }

  exit(): string {
    // The Go original's wording, which operators' scripts may match on.
    if (!this.opts.allowExit) return 'set environment variable IMMORTAL_EXIT to exit';
    return this.abandon();
  }

  /** Finish while leaving the service running (exit; immortaldir on a removed followed service). */
  abandon(): string {
    const s = this.state;
    switch (s.name) {
      case 'running': case 'starting': case 'stopping': letGo(s.proc); break;
      case 'new': case 'start-due': case 'checking-preconditions': case 'searching-pidfile':
      case 'draining': case 'stopping-leftovers': case 'down':
        break;
      case 'finished': return 'supervisor is exiting';
      default: return unreachable(s);
    }
    this.finish('exit');
    return '';
  }

  snapshot(): StatusSnapshot {
    const proc = trackedProcess(this.state);
    const h = this.history;
    return {
      pid: proc?.pid ?? 0,
      running: proc !== undefined,
      since: h.since,
      cmd: this.config.command.join(' '),
      fpid: proc?.kind === 'followed',
      count: h.count,
      note: this.waitNote(),
      want: this.want,
      lastExit: h.lastExit,
      restarts: { ...h.restarts },
      lastRestart: h.lastRestart,
      startFailures: h.startFailures,
      lastStartError: h.lastStartError,
      backoffMs: h.backoffMs,
      logDroppedLines: this.opts.output.droppedLines(),
      logError: this.opts.output.lastError(),
      ...this.readinessSnapshot(),
      upgradePid: this.upgrades.nextPid,
    };
  }

  usage(): ServiceUsage {
    return this.opts.members.usage();
  }

  /** Current state, coarse ('waiting' covers new, start-due, checking and searching), for tests and immortaldir. */
  get currentState(): SupervisorState {
    return coarseState(this.state);
  }

  /** Status while waiting: why a start is held back, or when it comes. */
  private waitNote(): string | undefined {
    const s = this.state;
    switch (s.name) {
      case 'start-due': return s.held ?? this.history.waitNote(s.dueAt);
      case 'checking-preconditions': return s.held ?? this.history.waitNote();
      case 'new': return this.history.waitNote();
      case 'searching-pidfile': return `looking for a pid in ${s.file}`;
      case 'stopping-leftovers': return `stopping ${s.left} process${s.left === 1 ? '' : 'es'} left of the last run`;
      // A restart the supervisor decided (restart_if, health…): why, while the old run stops.
      case 'stopping': case 'draining': return this.history.restartNote;
      case 'running': case 'starting': case 'down': case 'finished':
        return undefined;
      default: return unreachable(s);
    }
  }
}

