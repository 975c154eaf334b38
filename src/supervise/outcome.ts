// What the callers of a Supervisor wait for: how its first start went (daemon mode reports
// it to the launcher) and when it is finished (the runtime then closes socket and lock).

import type { FinishReason } from './states';

export class SupervisorOutcome {
  /** Resolves once the supervisor is done; the caller then tears down socket and lock. */
  readonly finished: Promise<FinishReason>;
  /** Settles on the first start: the pid (0 when held back by require:), or the spawn error. */
  readonly firstStart: Promise<number>;
  private resolveFinished!: (reason: FinishReason) => void;
  private first!: { resolve: (pid: number) => void; reject: (err: Error) => void; done: boolean };

  constructor() {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.firstStart = new Promise<number>((resolve, reject) => {
      this.first = { resolve, reject, done: false };
    });
    this.firstStart.catch(() => {}); // observed by the caller that cares; never unhandled
  }

  /** The first start happened (or was held back: pid 0); later calls do nothing. */
  started(pid: number): void {
    if (this.first.done) return;
    this.first.done = true;
    this.first.resolve(pid);
  }

  /** The first start failed: true when this was it (later failures are ordinary restarts). */
  firstStartFailed(err: Error): boolean {
    if (this.first.done) return false;
    this.first.done = true;
    this.first.reject(err);
    return true;
  }

  finish(reason: FinishReason): void {
    this.resolveFinished(reason);
  }
}
