// The overlapped upgrade (`immortalctl upgrade NAME`, `GET /signal/upgrade`): a second
// instance is started on the same held sockets (listen:) while the running one keeps serving;
// once it is ready (upgrade-readiness.ts) the service is handed over to it and the old one is
// stopped gracefully (TERM → KILL after stop_timeout). If the new one exits or is not ready
// in time, it is stopped whole and the old one keeps serving; the answer says why.
//
// An upgrade is an overlay on `running`, not a state of its own: during the overlap the
// service IS the old instance in every rule of the machine (a crash of it, down, halt stop
// the whole service — the new instance with it, which then fails the upgrade). Only when the
// new one is ready does the machine hand over (machine.ts handOver), in one step.
//
// Each instance is the session it was started in (every start is setsid): the old one's
// processes are those of its session, so stopping it spares the new one even when both are
// in the service's cgroup. A worker that leaves its session (its own setsid) is not stopped
// with its instance, only with the service (docs/zero-downtime.md).

import type { Config } from '../config/config';
import { kill, type ExitStatus } from '../native';
import { spawnService, type LaunchContext } from '../process/launch';
import { readProcessTable } from '../process/process-table';
import type { Tracked } from './states';
import { UPGRADE_SETTLE_MS, upgradeRefusal, waitUntilReady } from './upgrade-readiness';

/** What the upgrade needs from the supervisor. */
export interface UpgradeHost {
  /** The config in use: replaced in place by the re-read one at the hand-over. */
  readonly config: Config;
  readonly launch: LaunchContext;
  /** The running instance, or why there is none to upgrade. */
  runningChild(): Tracked | string;
  /** The service is still `old` running (no stop, crash or exit came meanwhile). */
  stillRunning(old: Tracked): boolean;
  /** The new instance runs (count +1). */
  started(pid: number): void;
  /** From now on the service is `next`. */
  handOver(next: Tracked): void;
  /** An exit of the instance the service was handed over to: the machine's, like any run's. */
  childExited(status: ExitStatus): void;
  log(line: string): void;
}

/** Between TERM-ing an instance's session and looking again. */
const STOP_POLL_MS = 20;
/** After KILL, how long a session may take to be gone before the upgrade stops waiting for it. */
const AFTER_KILL_MS = 5000;

export class Upgrades {
  private nextPidNow: number | undefined;

  constructor(private readonly host: UpgradeHost) {}

  /** The new instance's pid while an upgrade overlaps two (status shows both). */
  get nextPid(): number | undefined {
    return this.nextPidNow;
  }

  /** '' once the new instance took over and the old one is stopped; else why not. */
  async run(): Promise<string> {
    if (this.nextPidNow !== undefined) return `an upgrade is in progress (new pid ${this.nextPidNow})`;
    const old = this.host.runningChild();
    if (typeof old === 'string') return old;
    let config: Config;
    try {
      config = reread(this.host.config);
    } catch (err) {
      return `upgrade refused: ${(err as Error).message}`;
    }
    const refusal = upgradeRefusal(config);
    if (refusal !== undefined) return `upgrade refused: ${refusal}`;
    let handedOver = false;
    let onNextExit: (status: ExitStatus) => void = () => {};
    const nextExited = new Promise<ExitStatus>((resolve) => { onNextExit = resolve; });
    const startedAt = Date.now();
    let pid: number;
    try {
      pid = spawnService({ ...this.host.launch, config }, (status) => (handedOver ? this.host.childExited(status) : onNextExit(status)));
    } catch (err) {
      return `upgrade failed: cannot start the new instance: ${(err as Error).message}; the old one keeps serving`;
    }
    this.nextPidNow = pid;
    this.host.started(pid);
    this.host.log(`upgrade: started ${pid}: ${config.command.join(' ')} (old pid ${old.pid} keeps serving)`);
    const readiness = waitUntilReady(pid, config, this.host.launch);
    const outcome = await Promise.race([
      readiness.ready.then(() => undefined, (err: Error) => `not ready in time: ${err.message}`),
      nextExited.then((status) => `exited ${exitText(status)} ${withinText(Date.now() - startedAt)}`),
    ]);
    readiness.cancel();
    try {
      if (!this.host.stillRunning(old)) {
        await stopSession(pid, this.host.config.stopTimeout * 1000);
        return this.failed(pid, 'the service was stopped or restarted during the upgrade', false);
      }
      if (outcome !== undefined) {
        await stopSession(pid, this.host.config.stopTimeout * 1000);
        return this.failed(pid, `new instance ${outcome}`, true);
      }
      handedOver = true;
      Object.assign(this.host.config, config);
      this.host.handOver({ pid, kind: 'child', ours: true, member: true });
      this.host.log(`upgrade: ${pid} is ready; stopping the old instance ${old.pid}`);
      await stopSession(old.pid, this.host.config.stopTimeout * 1000);
      this.host.log(`upgrade: done, ${pid} serves`);
      return '';
    } finally {
      this.nextPidNow = undefined;
    }
  }

  private failed(pid: number, why: string, oldServes: boolean): string {
    const text = `upgrade failed: ${why}${oldServes ? '; the old one keeps serving' : ''}`;
    this.host.log(`${text} (new pid ${pid} stopped)`);
    return text;
  }
}

/**
 * The run.yml read again for the new instance: its command, directory and environment (what
 * a deploy changes). The supervise dir, logs, user, socket and `listen:` stay those the
 * supervisor opened; changing them needs a restart of the supervisor. Without a run.yml the
 * same command is started again (a new binary at the same path).
 */
function reread(current: Config): Config {
  if (current.configFile === undefined) return { ...current };
  // Loaded only for an upgrade: the supervising process holds no YAML reader otherwise (docs/performance.md).
  const { loadServiceFile } = require('../config/config') as typeof import('../config/config');
  const fresh = loadServiceFile(current.configFile, { ctl: current.superviseDir, foreground: current.foreground }, process.env, {
    pid: process.pid, home: process.env.HOME ?? '/', uid: process.getuid!(),
  });
  return {
    ...current,
    command: fresh.command,
    cwd: fresh.cwd,
    env: fresh.env,
    envDir: fresh.envDir,
    requireCmd: fresh.requireCmd,
    postExit: fresh.postExit,
    stopTimeout: fresh.stopTimeout,
    // How the new instance proves it is ready is part of what a deploy changes.
    ready: fresh.ready,
  };
}

function exitText(status: ExitStatus): string {
  return status.signal ? `on ${status.signal}` : `with ${status.code}`;
}

function withinText(ms: number): string {
  return ms <= UPGRADE_SETTLE_MS ? `within ${UPGRADE_SETTLE_MS / 1000} s` : `after ${(ms / 1000).toFixed(1)} s`;
}

function sessionPids(session: number): number[] {
  return readProcessTable().filter((entry) => entry.session === session).map((entry) => entry.pid);
}

function signalSession(session: number, sig: string): void {
  for (const pid of sessionPids(session)) {
    try {
      kill(pid, sig);
    } catch {
      // Gone meanwhile.
    }
  }
}

/** TERM (and CONT) to every process of the instance's session; KILL after timeoutMs; resolves once none is left. */
async function stopSession(session: number, timeoutMs: number): Promise<void> {
  signalSession(session, 'SIGTERM');
  signalSession(session, 'SIGCONT');
  const killAt = Date.now() + timeoutMs;
  let killed = false;
  while (sessionPids(session).length > 0) {
    if (!killed && Date.now() >= killAt) {
      signalSession(session, 'SIGKILL');
      killed = true;
    }
    if (killed && Date.now() >= killAt + AFTER_KILL_MS) return;
    await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
  }
}
