// The supervise directory: `lock` (flock held for the supervisor's lifetime, so a second
// supervisor on the same directory refuses to start) and `immortal.sock`.

import { closeSync, fstatSync, mkdirSync, openSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { flock } from './native';

export interface SuperviseDir {
  readonly dir: string;
  readonly socketPath: string;
  /**
   * Removes the lock and, if then empty, the directory; call on clean exit only. child.pid
   * stays when the service was left running (exit), so the next supervisor re-adopts it.
   */
  release(): void;
}

export class SuperviseDirBusy extends Error {}

export function acquireSuperviseDir(dir: string): SuperviseDir {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lockPath = path.join(dir, 'lock');
  const fd = lockExclusively(lockPath);
  return {
    dir,
    socketPath: path.join(dir, 'immortal.sock'),
    release() {
      try {
        unlinkSync(path.join(dir, 'lock'));
      } catch {
        // not there
      }
      closeSync(fd);
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
    return fstatSync(fd).ino === statSync(file).ino;
  } catch {
    return false;
  }
}
