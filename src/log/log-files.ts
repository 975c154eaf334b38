// The file-system side of a log: creating it with the promised mode and owner, and the
// rename chain of a rotation.

import fs from 'node:fs';

export interface FileOwner {
  uid: number;
  gid: number;
}

/** Appends to file; a file we create is 0640 (whatever the umask) and owned by owner. */
export function openLogFile(file: string, owner?: FileOwner): { fd: number; created: boolean } {
  const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL } = fs.constants;
  try {
    const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0o640);
    try {
      fs.fchmodSync(fd, 0o640);
      if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return { fd, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { fd: fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT, 0o640), created: false };
}

/**
 * app.log.(keep-1) → app.log.keep … app.log → app.log.1: the oldest is replaced by rename,
 * so there is no moment without the newer files. Gaps in the chain are skipped.
 */
export function shiftRotatedFiles(file: string, keep: number): void {
  for (let i = keep - 1; i >= 1; i--) renameIfExists(`${file}.${i}`, `${file}.${i + 1}`);
  renameIfExists(file, `${file}.1`);
}

function renameIfExists(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
