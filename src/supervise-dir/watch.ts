// The supervise directory can vanish under a running supervisor (rm -rf /var/run/immortal,
// a tmp cleaner, a tmpfs remount). The service keeps running either way; what is lost is the
// socket (immortalctl cannot reach it) and the lock (a second supervisor could start a
// duplicate). The supervisor notices this and rebuilds both in place.
//
// It listens rather than polls: an idle supervisor should not wake at all, and on a virtual
// machine every wake-up of a process that slept is paid for cold (a 2 s poll cost ~8 ms of
// CPU each, most of an idle supervisor's CPU). fs.watch (inotify, kqueue) reports a removal
// or rename of the directory, of `lock` or of `immortal.sock`, and a chmod/chown of the
// socket; a slow look catches what no event reports (a filesystem mounted over the
// directory), and without a watch (inotify's limit reached) the old 2 s look comes back.

import { existsSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { ControlServer } from '../control/server';
import { acquireSuperviseDir, SuperviseDirBusy, type SuperviseDir } from './lock';

/** After an event, let the change finish (rm -rf still deleting, a second rename) before looking. */
const settleMs = 200;
/** The look that catches what no event reports (the first one comes this long after start). */
export const slowLookMs = 60_000;
/** The look when there is no watch, or while a repair keeps failing. */
const pollMs = 2000;

export interface SuperviseDirWatchOptions {
  /** Starts a control server on socketPath, with the options used at start-up. */
  startServer: (socketPath: string) => Promise<ControlServer>;
  /** Puts back what lived in the directory besides lock and socket (child.pid). */
  restore: (dir: SuperviseDir) => void;
  log: (line: string) => void;
}

export class SuperviseDirWatch {
  private dir: SuperviseDir;
  private server?: ControlServer;
  /** Watches the directory now at the path; undefined when fs.watch refused (we poll then). */
  private watcher?: FSWatcher;
  /** The one pending look: soon after an event, else slow (watched) or every pollMs. */
  private look?: NodeJS.Timeout;
  /** The repair under way, if any: stop() waits for it. */
  private repairing?: Promise<void>;
  /** An event came while repairing. */
  private lookAfterRepair = false;
  /** Set once another supervisor took the directory: we stay without a socket. */
  private gaveUp = false;
  private stopped = false;
  /** The last repair error logged, so a lasting failure is logged once, not every look. */
  private lastError?: string;

  constructor(dir: SuperviseDir, server: ControlServer, private readonly opts: SuperviseDirWatchOptions) {
    this.dir = dir;
    this.server = server;
    this.watchDir();
    this.lookLater();
  }

  /** Stops watching; hands back the lock and server in place now, for the caller to close. */
  async stop(): Promise<{ dir: SuperviseDir; server?: ControlServer }> {
    this.stopped = true;
    this.watcher?.close();
    clearTimeout(this.look);
    await this.repairing;
    return { dir: this.dir, server: this.server };
  }

  /**
   * Watches the directory at the path now. A recreated directory is a new inode: the watch on
   * the old one saw it go and sees nothing more. Our own writes of child.pid are not looked at.
   */
  private watchDir(): void {
    this.watcher?.close();
    this.watcher = undefined;
    const names = new Set(['lock', path.basename(this.dir.socketPath), path.basename(this.dir.dir)]);
    try {
      const watcher = watch(this.dir.dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name)) this.lookIn(settleMs);
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher !== watcher) return;
        this.watcher = undefined;
        this.lookLater();
      });
      this.watcher = watcher;
    } catch {
      // inotify's watch limit reached, or the directory already gone: polled instead
    }
  }

  private lookIn(ms: number): void {
    if (this.stopped || this.gaveUp) return;
    clearTimeout(this.look);
    this.look = setTimeout(() => this.check(), ms);
    this.look.unref(); // never what keeps the supervisor alive
  }

  private lookLater(): void {
    this.lookIn(this.watcher === undefined || this.lastError !== undefined ? pollMs : slowLookMs);
  }

  private check(): void {
    this.look = undefined;
    if (this.stopped || this.gaveUp) return;
    if (this.repairing) {
      this.lookAfterRepair = true; // something changed meanwhile: look again once it is over
      return;
    }
    if (this.intact()) return this.lookLater();
    this.repairing = this.repair().finally(() => {
      this.repairing = undefined;
      if (this.lookAfterRepair) this.lookIn(settleMs);
      else this.lookLater();
      this.lookAfterRepair = false;
    });
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
        this.watchDir();
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
      this.watcher?.close();
      this.opts.log(`${err.message}; still supervising the service, but without a control socket`);
      return;
    }
    if (err.message !== this.lastError) {
      this.opts.log(`cannot recreate ${this.dir.dir}: ${err.message}; trying again`);
    }
    this.lastError = err.message;
  }
}
