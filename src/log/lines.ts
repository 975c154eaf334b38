// Cutting a service's byte stream into whole lines, and stamping them. Everything downstream
// (rotation, the logger buffer) works on blocks of whole lines, so a line can never be split
// across two log files or half-dropped.

import { stampLines as nativeStampLines } from '../native';

const NEWLINE = 0x0a;

/**
 * A service that never writes a newline must not make us hold its output forever: a line
 * longer than this is written in pieces of this many bytes, each ending with a newline.
 */
export const PARTIAL_LINE_CAP = 64 * 1024;

/**
 * Receives one or more whole lines, each ending with '\n'. The buffer may be the read buffer
 * itself, reused for the next read: a sink that keeps bytes copies them.
 */
export type LinesSink = (lines: Buffer) => void;

export class LineSplitter {
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(private readonly emit: LinesSink, private readonly cap = PARTIAL_LINE_CAP) {}

  /** Bytes of an unfinished line waiting for its newline. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline === -1) {
      this.hold(chunk);
      this.cutLongHeld();
      return;
    }
    // The common case: no line longer than the cap, so whole lines pass as one block, without
    // a copy; only the line that straddles two reads is put together.
    const firstNewline = chunk.indexOf(NEWLINE);
    if (this.heldBytes + firstNewline > this.cap || this.mayHoldLongLine(chunk, firstNewline + 1, lastNewline)) {
      this.pushSlowly(chunk);
      return;
    }
    let from = 0;
    if (this.heldBytes > 0) {
      from = firstNewline + 1;
      this.emit(Buffer.concat([this.takeHeld(), chunk.subarray(0, from)]));
    }
    if (lastNewline + 1 > from) this.emit(chunk.subarray(from, lastNewline + 1));
    if (lastNewline < chunk.length - 1) {
      this.hold(chunk.subarray(lastNewline + 1));
      this.cutLongHeld();
    }
  }

  /** End of stream: an unfinished line is written with a newline added. */
  flush(): void {
    if (this.heldBytes === 0) return;
    const rest = this.takeHeld();
    this.emit(Buffer.concat([rest, Buffer.from('\n')]));
  }

  /** Line by line, cutting every line longer than the cap into cap-sized pieces. */
  private pushSlowly(chunk: Buffer): void {
    const out: Buffer[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline + 1;
      const piece = chunk.subarray(start, end);
      start = end;
      if (newline === -1) {
        this.hold(piece);
        continue;
      }
      let line = this.heldBytes > 0 ? Buffer.concat([this.takeHeld(), piece]) : piece;
      while (line.length - 1 > this.cap) {
        out.push(withNewline(line.subarray(0, this.cap)));
        line = line.subarray(this.cap);
      }
      out.push(line);
    }
    if (out.length > 0) this.emit(out.length === 1 ? out[0] : Buffer.concat(out));
    this.cutLongHeld();
  }

  private hold(piece: Buffer): void {
    // Copied: the chunk is the shared read buffer, overwritten by the next read.
    this.held.push(Buffer.from(piece));
    this.heldBytes += piece.length;
  }

  private takeHeld(): Buffer {
    const all = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return all;
  }

  /**
   * Whether the lines between start and end (a newline) might include one longer than the cap.
   * Such a line contains a whole block of cap/2 bytes without a newline, so one search per
   * block answers it: a few searches per megabyte instead of one per line.
   */
  private mayHoldLongLine(chunk: Buffer, start: number, end: number): boolean {
    if (end - start <= this.cap) return false;
    const block = Math.max(1, this.cap >> 1);
    for (let at = start; at + block <= end; at += block) {
      const newline = chunk.indexOf(NEWLINE, at);
      if (newline === -1 || newline >= at + block) return true;
    }
    return false;
  }

  /** Held bytes beyond the cap go out as cap-sized lines; the rest stays held. */
  private cutLongHeld(): void {
    if (this.heldBytes <= this.cap) return;
    const all = this.takeHeld();
    const pieces: Buffer[] = [];
    let at = 0;
    for (; all.length - at > this.cap; at += this.cap) pieces.push(withNewline(all.subarray(at, at + this.cap)));
    this.hold(all.subarray(at));
    this.emit(pieces.length === 1 ? pieces[0] : Buffer.concat(pieces));
  }
}

function withNewline(piece: Buffer): Buffer {
  const line = Buffer.allocUnsafe(piece.length + 1);
  piece.copy(line);
  line[piece.length] = NEWLINE;
  return line;
}

/** Number of lines in a block of whole lines. */
export function countLines(lines: Buffer): number {
  let count = 0;
  for (let at = lines.indexOf(NEWLINE); at !== -1; at = lines.indexOf(NEWLINE, at + 1)) count++;
  return count;
}

/**
 * `2026-11-28T22:52:09.123Z `: RFC 3339 in UTC with milliseconds, the same clock and format as
 * the supervisor's own messages; UTC so that logs from hosts in different zones sort together.
 */
export function timestampPrefix(now = new Date()): Buffer {
  return Buffer.from(`${now.toISOString()} `, 'latin1');
}

// Reused for every stamped block: one growing buffer instead of an allocation per read.
let stampBuffer = Buffer.allocUnsafeSlow(0);

/**
 * The block with `prefix` before every line, in a buffer shared by all callers: valid until
 * the next call (the file writer copies it into its queue at once). The copying is native
 * (one call per block instead of three per line: a 1 GB log of 100-byte lines is 10 million).
 */
export function stampLines(lines: Buffer, prefix: Buffer): Buffer {
  let written = nativeStampLines(lines, prefix, stampBuffer);
  if (written < 0) {
    stampBuffer = Buffer.allocUnsafeSlow(Math.max(-written, 128 * 1024));
    written = nativeStampLines(lines, prefix, stampBuffer);
  }
  return stampBuffer.subarray(0, written);
}
