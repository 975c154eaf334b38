// The supervise directory can vanish under a running supervisor (rm -rf /var/run/immortal,
// a tmp cleaner, a tmpfs remount). The service keeps running either way; what is lost is the
// socket (immortalctl cannot reach it) and the lock (a second supervisor could start a
// duplicate). A cheap periodic look notices this and rebuilds both in place.

import { existsSync } from 'node:fs';
import type { ControlServer } from '../control/server';
import { acquireSuperviseDir, SuperviseDirBusy, type SuperviseDir } from './lock';

/** Two stat calls per service every interval: cheap even for hundreds of services. */
const defaultIntervalMs = 2000;

export interface SuperviseDirWatchOptions {
  /** Starts a control server on socketPath, with the options used at start-up. */
  startServer: (socketPath: string) => Promise<ControlServer>;
  /** Puts back what lived in the directory besides lock and socket (child.pid). */
  restore: (dir: SuperviseDir) => void;
  log: (line: string) => void;
  intervalMs?: number;
}

export class SuperviseDirWatch {
  private dir: SuperviseDir;
  private server?: ControlServer;
  private readonly timer: NodeJS.Timeout;
  /** The repair under way, if any: stop() waits for it. */
  private repairing?: Promise<void>;
  /** Set once another supervisor took the directory: we stay without a socket. */
  private gaveUp = false;
  /** The last repair error logged, so a lasting failure is logged once, not every interval. */
  private lastError?: string;

  constructor(dir: SuperviseDir, server: ControlServer, private readonly opts: SuperviseDirWatchOptions) {
    this.dir = dir;
    this.server = server;
    this.timer = setInterval(() => this.check(), opts.intervalMs ?? defaultIntervalMs);
    this.timer.unref(); // never what keeps the supervisor alive
  }

  /** Stops watching; hands back the lock and server in place now, for the caller to close. */
  async stop(): Promise<{ dir: SuperviseDir; server?: ControlServer }> {
    clearInterval(this.timer);
    await this.repairing;
    return { dir: this.dir, server: this.server };
  }

  private check(): void {
    if (this.repairing || this.gaveUp || this.intact()) return;
    this.repairing = this.repair().finally(() => (this.repairing = undefined));
  }

  private intact(): boolean {
    return this.dir.holdsLock() && this.socketIsOurs();
  }

  /** An undecided answer counts as ours until the next look: never replace a socket on a doubt. */
  private socketIsOurs(): boolean {
    if (this.server === undefined) return false;
    const found = this.server.checkSocketFile();
    if (found.kind === 'ours-changed') {
      const mode = found.mode.toString(8).padStart(4, '0');
      this.opts.log(`${this.server.socketPath}: changed from outside (mode ${mode}, owner ${found.uid}:${found.gid}, ${found.nlink} link${found.nlink === 1 ? '' : 's'}); still ours, left as it is`);
    }
    return found.kind !== 'not-ours';
  }

  private async repair(): Promise<void> {
    const where = this.dir.dir;
    if (this.lastError === undefined) this.opts.log(`${where}: ${this.describeLoss()}; recreating it`);
    try {
      if (!this.dir.holdsLock()) {
        const lost = this.dir;
        this.dir = acquireSuperviseDir(where);
        lost.release(); // closes the orphaned lock; the path is not its own any more
      }
      this.opts.restore(this.dir);
      if (!this.socketIsOurs()) {
        // Closed before the new socket exists: the old server unlinks the path only while the
        // file there is its own (same inode, and a probe reaching its listener), and this
        // order leaves nothing to compare.
        await this.server?.close();
        this.server = undefined;
        this.server = await this.opts.startServer(this.dir.socketPath);
      }
      this.lastError = undefined;
      this.opts.log(`${where}: recreated; control socket answering at ${this.dir.socketPath}`);
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
    }
  }

  private describeLoss(): string {
    if (!existsSync(this.dir.dir)) return 'supervise directory removed';
    return this.dir.holdsLock() ? 'control socket removed' : 'lock file removed';
  }

  private failed(err: NodeJS.ErrnoException): void {
    if (err instanceof SuperviseDirBusy || err.code === 'EADDRINUSE') {
      // Another supervisor owns the directory now: it is its socket, not ours to fight over.
      // Our old server is left open, unreachable: never a chance to touch the other's socket.
      this.gaveUp = true;
      this.server = undefined;
      this.opts.log(`${err.message}; still supervising the service, but without a control socket`);
      return;
    }
    if (err.message !== this.lastError) {
      this.opts.log(`cannot recreate ${this.dir.dir}: ${err.message}; trying again`);
    }
    this.lastError = err.message;
  }
}
