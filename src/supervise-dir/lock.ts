// The supervise directory: `lock` (flock held for the supervisor's lifetime, so a second
// supervisor on the same directory refuses to start) and `immortal.sock`.

import { closeSync, fstatSync, mkdirSync, openSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { flock } from '../native';

export interface SuperviseDir {
  readonly dir: string;
  readonly socketPath: string;
  /**
   * True while `lock` at the path is still the file we hold locked. False once the file or
   * the whole directory was removed (rm -rf, a tmp cleaner): our flock then guards nothing.
   */
  holdsLock(): boolean;
  /**
   * Drops the lock. Only while `lock` is still ours does it also remove the file and, if
   * then empty, the directory: a lock we lost may already belong to a successor. Call on
   * clean exit. child.pid stays when the service was left running (exit), so the next
   * supervisor re-adopts it.
   */
  release(): void;
}

export class SuperviseDirBusy extends Error {}

export function acquireSuperviseDir(dir: string): SuperviseDir {
  // 0755: the socket's own mode (0600 by default, socket.mode) is what guards it; a 0700
  // directory would make `socket: {mode: 0660, group: ops}` useless.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const lockPath = path.join(dir, 'lock');
  const fd = lockExclusively(lockPath);
  let released = false;
  return {
    dir,
    socketPath: path.join(dir, 'immortal.sock'),
    holdsLock: () => !released && sameFile(fd, lockPath),
    release() {
      if (released) return;
      const ours = sameFile(fd, lockPath);
      released = true;
      if (ours) unlinkQuietly(lockPath);
      closeSync(fd);
      if (!ours) return;
      try {
        rmdirSync(dir);
      } catch {
        // not empty (the operator keeps files there) or already gone
      }
    },
  };
}

function lockExclusively(lockPath: string): number {
  for (;;) {
    const fd = openSync(lockPath, 'a', 0o600);
    try {
      flock(fd);
    } catch (err) {
      closeSync(fd);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EWOULDBLOCK' || code === 'EAGAIN') {
        throw new SuperviseDirBusy(`${path.dirname(lockPath)}: already supervised by another immortal (lock held)`);
      }
      throw err;
    }
    // A supervisor that just exited may have unlinked the file we opened: a lock on that
    // orphaned inode protects nothing, so lock the file that is at the path now.
    if (sameFile(fd, lockPath)) return fd;
    closeSync(fd);
  }
}

function sameFile(fd: number, file: string): boolean {
  try {
    const held = fstatSync(fd);
    const named = statSync(file);
    return held.ino === named.ino && held.dev === named.dev;
  } catch {
    return false;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // not there
  }
}
