// run.yml `restart_if: {memory: SIZE}` (docs/limits.md): the resident memory of all the
// service's processes (ServiceMembers.usage(): memory.current where the cgroup memory
// controller is on, else the RSS of every member) sampled every 2 s while it runs; 3 samples
// in a row above the size → a graceful restart (TERM → KILL, like a stop), counted by cause.
//
// Three in a row, not one: a short peak (a big request, a GC that has not returned memory yet)
// is not a leak. The count starts anew with each run, so a restart is never decided on
// samples of the previous process.

import { formatSize } from '../config/limit-values';

export const memorySampleIntervalMs = 2000;
export const memorySamplesOver = 3;

export interface MemoryWatchTarget {
  /** The pid of the current run while the service runs, else undefined. */
  runningPid(): number | undefined;
  /** Resident bytes of the whole service. */
  memoryBytes(): number;
  /** The graceful restart (Supervisor.restartFor). */
  restart(reason: string): void;
}

export class MemoryWatch {
  private timer?: NodeJS.Timeout;
  private over = 0;
  private run?: number;

  constructor(
    private readonly limitBytes: number,
    private readonly target: MemoryWatchTarget,
    private readonly intervalMs = memorySampleIntervalMs,
  ) {}

  start(): void {
    // unref: the watch never keeps a finished supervisor's process alive.
    this.timer ??= setInterval(() => this.sample(), this.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sample; public for the unit test's clock. */
  sample(): void {
    const pid = this.target.runningPid();
    if (pid !== this.run) this.over = 0;
    this.run = pid;
    // Not running (waiting, stopping, down): nothing to measure, no /proc read.
    if (pid === undefined) return;
    const bytes = this.target.memoryBytes();
    this.over = bytes > this.limitBytes ? this.over + 1 : 0;
    if (this.over < memorySamplesOver) return;
    this.over = 0;
    this.target.restart(`memory ${formatSize(bytes)} > ${formatSize(this.limitBytes)}`);
  }
}
