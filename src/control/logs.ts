// A service's log file read the way `tail -n N -F` reads it: the last lines, then whatever is
// appended, across rotations. Rotation here is rename + new file (our own writer, logrotate's
// default) or truncation in place (logrotate's copytruncate). Used by `immortalctl logs` and
// the dashboard's log view; bytes are passed through undecoded, so nothing is mangled.

import fs from 'node:fs';

/** Size of the chunks read backwards while looking for the last lines. */
const BACKWARD_CHUNK = 64 * 1024;
const FORWARD_CHUNK = 64 * 1024;
/** How often a followed file is checked; tail -F checks every second, we want under 1 s. */
export const FOLLOW_INTERVAL_MS = 200;

export interface LogTail {
  /** The last lines (whole lines, the final one possibly without its newline). */
  text: Buffer;
  /** Offset just after `text` in the file: where following goes on. */
  end: number;
  /** Identity of the file that was read, so a follower can tell a rotation. */
  ino: number;
}

/** The last `lines` lines of `file` (all of it when it has fewer). Throws ENOENT & co. */
export function lastLines(file: string, lines: number): LogTail {
  const fd = fs.openSync(file, 'r');
  try {
    const { size, ino } = fs.fstatSync(fd);
    return { text: readLastLines(fd, size, lines), end: size, ino };
  } finally {
    fs.closeSync(fd);
  }
}

function readLastLines(fd: number, size: number, lines: number): Buffer {
  if (lines <= 0 || size === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let start = size;
  let newlines = 0;
  // A final newline ends the last line rather than starting an empty one.
  let skipFinalNewline = true;
  while (start > 0) {
    const length = Math.min(BACKWARD_CHUNK, start);
    start -= length;
    const chunk = Buffer.alloc(length);
    fs.readSync(fd, chunk, 0, length, start);
    for (let i = length - 1; i >= 0; i--) {
      if (chunk[i] !== 0x0a) {
        skipFinalNewline = false;
        continue;
      }
      if (skipFinalNewline) {
        skipFinalNewline = false;
        continue;
      }
      if (++newlines === lines) {
        chunks.unshift(chunk.subarray(i + 1));
        return Buffer.concat(chunks);
      }
    }
    chunks.unshift(chunk);
  }
  return Buffer.concat(chunks);
}

export interface LogFollower {
  close(): void;
}

export interface FollowOptions {
  /** Where to go on in the file `from.ino`; without it, following starts at the end. */
  from?: { end: number; ino: number };
  /** Told once per rotation or truncation (tail -F says so on stderr). */
  notice?: (message: string) => void;
  intervalMs?: number;
}

/**
 * Calls `onData` with every byte appended to `file` from now on. When the name comes to point
 * at a new file (rename + create), the old file is read to its end first, then the new one
 * from its start: no line written before the rotation is lost. A file truncated in place is
 * read again from its start. A missing file is waited for.
 */
export function followLog(file: string, onData: (bytes: Buffer) => void, opts: FollowOptions = {}): LogFollower {
  let current: { fd: number; ino: number; position: number } | undefined;
  let missingNoticed = false;
  const notice = opts.notice ?? (() => {});

  const open = (position: 'start' | 'end' | number): boolean => {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      if (!missingNoticed) notice(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; waiting for it`);
      missingNoticed = true;
      return false;
    }
    missingNoticed = false;
    const { ino, size } = fs.fstatSync(fd);
    const at = position === 'start' ? 0 : position === 'end' ? size : Math.min(position, size);
    current = { fd, ino, position: at };
    return true;
  };

  const drain = () => {
    if (!current) return;
    const buffer = Buffer.alloc(FORWARD_CHUNK);
    for (;;) {
      const read = fs.readSync(current.fd, buffer, 0, buffer.length, current.position);
      if (read <= 0) return;
      current.position += read;
      onData(Buffer.from(buffer.subarray(0, read)));
    }
  };

  const check = () => {
    if (!current) {
      if (open('start')) drain();
      return;
    }
    drain();
    let named: fs.Stats | undefined;
    try {
      named = fs.statSync(file);
    } catch {
      return; // renamed away, the new file not there yet: keep the old one
    }
    if (named.ino !== current.ino) {
      fs.closeSync(current.fd);
      current = undefined;
      notice(`${file}: rotated; following the new file`);
      if (open('start')) drain();
    } else if (named.size < current.position) {
      notice(`${file}: truncated; reading it from the start`);
      current.position = 0;
      drain();
    }
  };

  const from = opts.from;
  if (from && open(from.end)) {
    if (current!.ino !== from.ino) {
      // Rotated between reading the last lines and opening it again: the new file is all new.
      current!.position = 0;
    }
  } else if (!from) {
    open('end');
  }
  check();
  const timer = setInterval(check, opts.intervalMs ?? FOLLOW_INTERVAL_MS);
  return {
    close() {
      clearInterval(timer);
      if (current) fs.closeSync(current.fd);
      current = undefined;
    },
  };
}
