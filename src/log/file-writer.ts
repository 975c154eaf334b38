// One log file: appends whole lines, rotates by size and age at line boundaries, reopens on
// request (SIGUSR1), and survives write errors (disk full) by dropping lines, counting them and
// retrying at most once per retry period, so the service keeps running.
// Writes are asynchronous (libuv thread pool): a slow or hung disk never stalls the event loop
// (the control socket, signals, the service's restarts). write() returning false tells the
// reader to stop, so the service blocks on its full pipe instead of our memory growing.

import fs from 'node:fs';
import type { LogConfig } from '../config/config';
import { ByteQueue } from './byte-queue';
import { countLines, stampLines, timestampPrefix } from './lines';
import { openLogFile, shiftRotatedFiles, type FileOwner } from './log-files';

export type { FileOwner } from './log-files';

export interface FileWriterOptions {
  /** New files are chowned to the service user (-u). */
  owner?: FileOwner;
  /** One-line messages for the supervisor's log: write errors and recovery. */
  report: (message: string) => void;
  /** Above this many queued bytes write() returns false (default 1 MiB). */
  highWaterBytes?: number;
  /** After a write error, lines are dropped this long before the next try (default 1 s). */
  retryMs?: number;
}

const NEWLINE_BYTE = 0x0a;
const NEWLINE = Buffer.from('\n');
const MEGABYTE = 1024 * 1024;
/** IOV_MAX on Linux and the BSDs. */
const MAX_BATCH_BUFFERS = 1024;
/** setTimeout's limit; a longer age is waited for in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Batch {
  buffers: Buffer[];
  /** Queued bytes in this write (the leading newline not counted). */
  bytes: number;
  /** The next line did not fit under the size limit: rotate once this batch is written. */
  rotateAfter: boolean;
  /** buffers[0] is a newline ending the half line a failed write left in the file. */
  lead: boolean;
}

export class FileWriter {
  private fd = -1;
  private size = 0;
  /** When the current file was started: age rotation counts from here. */
  private bornAt = 0;
  private readonly queue = new ByteQueue();
  private writing = false;
  private wantReopen = false;
  private wantRotate = false;
  private needDrain = false;
  private drainListener: () => void = () => {};
  /** Set after a write error: lines are dropped until the retry timer fires. */
  private failing = false;
  /** The file ends inside a line (after a short write). */
  private endsMidLine = false;
  /** A failed write left half a line in the file: start the next write on a new line. */
  private needNewline = false;
  private error: string | undefined;
  private dropped = 0;
  private droppedSinceError = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private ageTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly highWaterBytes: number;
  private readonly retryMs: number;

  /** Opens (creates) the file; throws the open error for the caller to name. */
  constructor(private readonly config: LogConfig, private readonly opts: FileWriterOptions) {
    this.highWaterBytes = opts.highWaterBytes ?? MEGABYTE;
    this.retryMs = opts.retryMs ?? 1000;
    this.open();
  }

  get file(): string {
    return this.config.file;
  }

  /** Lines lost to write errors. */
  droppedLines(): number {
    return this.dropped;
  }

  /** The current write error; cleared once a write succeeds again. */
  lastError(): string | undefined {
    return this.error;
  }

  /** Called once the queue is below the high-water mark again after write() returned false. */
  onDrain(listener: () => void): void {
    this.drainListener = listener;
  }

  /** Copies whole lines into the queue; false when the caller should stop reading until onDrain. */
  write(lines: Buffer): boolean {
    if (this.failing || this.closed) {
      this.drop(countLines(lines));
      return true;
    }
    this.queue.append(this.config.timestamp ? stampLines(lines, timestampPrefix()) : lines);
    this.pump();
    if (this.queue.bytes < this.highWaterBytes) return true;
    this.needDrain = true;
    return false;
  }

  /** Closes and opens the file again (after an external logrotate moved it away). */
  reopen(): void {
    this.wantReopen = true;
    this.pump();
  }

  /**
   * Writes what is queued (giving up after timeoutMs: a hung disk must not hang the
   * supervisor's exit; what is left is counted as dropped) and closes the file.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (!this.closed && (this.writing || this.queue.bytes > 0)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.whenIdle(resolve)),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
      ]);
      clearTimeout(timer);
    }
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ageTimer);
    this.drop(this.queue.countLines());
    this.queue.clear();
    // A write still in flight owns the fd: closing it now could let a reused fd number
    // receive that write. Its callback closes it instead.
    if (!this.writing) this.closeFd();
  }

  // ── the write loop: at most one write in flight; rotation and reopening between writes ──

  private pump(): void {
    if (this.writing) return;
    if (this.closed) return this.closeFd();
    if (this.wantReopen || (this.fd === -1 && !this.failing)) {
      this.wantReopen = false;
      this.closeFd();
      if (!this.openOrFail()) return;
    }
    if (this.failing) return;
    if (this.wantRotate || this.ageDue()) {
      this.wantRotate = false;
      if (this.size > 0 && !this.rotate()) return;
    }
    if (this.queue.bytes === 0) {
      this.settleDrain();
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    let batch = this.takeBatch();
    if (batch.bytes === 0) {
      // Not even one line fits in what is left of this file.
      if (!this.rotate()) return;
      batch = this.takeBatch();
    }
    this.writing = true;
    fs.writev(this.fd, batch.buffers, (err, written) => this.afterWrite(batch, err, written));
  }

  /** Whole lines from the head of the queue, as many as fit under the size limit. */
  private takeBatch(): Batch {
    const limit = this.config.size > 0 ? this.config.size * MEGABYTE : Infinity;
    const room = limit - this.size;
    let wanted = this.queue.bytes;
    let rotateAfter = false;
    if (wanted > room) {
      rotateAfter = true;
      wanted = this.queue.wholeLinesWithin(room);
      // A single line longer than the limit gets a file of its own rather than being cut.
      if (wanted === 0 && this.size === 0) wanted = this.queue.lineEndFrom(0);
    }
    const buffers = wanted > 0 ? this.queue.peek(wanted, MAX_BATCH_BUFFERS) : [];
    const bytes = buffers.reduce((sum, b) => sum + b.length, 0);
    // Cut short by the iovec limit: the rest follows in this same file.
    if (bytes < wanted) rotateAfter = false;
    const lead = this.needNewline && bytes > 0;
    if (lead) buffers.unshift(NEWLINE);
    return { buffers, bytes, rotateAfter, lead };
  }

  private afterWrite(batch: Batch, err: NodeJS.ErrnoException | null, written: number): void {
    this.writing = false;
    const writtenNow = err ? 0 : written;
    const lead = batch.lead ? 1 : 0;
    const ours = Math.max(0, writtenNow - lead);
    if (writtenNow > 0) {
      this.size += writtenNow;
      if (writtenNow >= lead) this.needNewline = false;
      this.endsMidLine = byteAt(batch.buffers, writtenNow - 1) !== NEWLINE_BYTE;
    }
    this.queue.consume(ours);
    if (this.closed) {
      this.closeFd();
      return;
    }
    if (err) {
      this.fail(err);
    } else if (ours === batch.bytes) {
      if (this.error !== undefined) {
        this.opts.report(`log ${this.file}: writing again (${this.droppedSinceError} lines dropped)`);
        this.error = undefined;
      }
      if (batch.rotateAfter) this.wantRotate = true;
    }
    // After a short write (the disk filled up under it) the rest is simply still queued; the
    // next attempt reports the error, if there is one.
    this.pump();
  }

  /** Drops what is queued, reports once, and tries again after retryMs. */
  private fail(err: NodeJS.ErrnoException): void {
    if (this.error === undefined) this.droppedSinceError = 0;
    this.drop(this.queue.countLines());
    this.queue.clear();
    // Half a line may be in the file: what we manage to write next starts on a line of its own.
    this.needNewline = this.endsMidLine;
    const message = `log ${this.file}: ${err.message}`;
    if (this.error === undefined) this.opts.report(`${message}; dropping lines until it can be written again`);
    this.error = message;
    this.failing = true;
    this.settleDrain();
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    clearTimeout(this.retryTimer);
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.failing = false;
      this.pump();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private drop(lines: number): void {
    this.dropped += lines;
    this.droppedSinceError += lines;
  }

  private settleDrain(): void {
    if (!this.needDrain || this.queue.bytes >= this.highWaterBytes) return;
    this.needDrain = false;
    this.drainListener();
  }

  private whenIdle(resolve: () => void): void {
    if (!this.writing && (this.queue.bytes === 0 || this.failing)) resolve();
    else this.idleWaiters.push(resolve);
  }

  // ── the file ──

  private open(): void {
    const { fd, created } = openLogFile(this.config.file, this.opts.owner);
    const stat = fs.fstatSync(fd);
    this.fd = fd;
    this.size = stat.isFile() ? stat.size : 0;
    this.endsMidLine = false;
    this.needNewline = false;
    // An existing file is as old as its birth time, where the filesystem records one.
    this.bornAt = !created && stat.isFile() && stat.birthtimeMs > 0 ? stat.birthtimeMs : Date.now();
    this.armAgeTimer();
  }

  private openOrFail(): boolean {
    try {
      this.open();
      return true;
    } catch (err) {
      this.fail(err as NodeJS.ErrnoException);
      return false;
    }
  }

  private closeFd(): void {
    if (this.fd === -1) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // EIO on close of a full or vanished filesystem: the lines are already counted.
    }
    this.fd = -1;
  }

  private rotate(): boolean {
    this.closeFd();
    try {
      // num: 0 (or unset) with size/age still keeps one rotated file: rotation never deletes
      // the only copy of what was just written.
      shiftRotatedFiles(this.config.file, Math.max(this.config.num, 1));
    } catch (err) {
      this.opts.report(`log ${this.file}: rotation failed, writing on: ${(err as Error).message}`);
    }
    return this.openOrFail();
  }

  private ageDue(): boolean {
    return this.config.age > 0 && this.size > 0 && Date.now() - this.bornAt >= this.config.age * 1000;
  }

  /** A quiet service's file is rotated on time too, not at its next line. */
  private armAgeTimer(): void {
    clearTimeout(this.ageTimer);
    if (this.config.age <= 0 || this.closed) return;
    const dueIn = this.bornAt + this.config.age * 1000 - Date.now();
    this.ageTimer = setTimeout(() => {
      if (Date.now() - this.bornAt < this.config.age * 1000) return this.armAgeTimer();
      // An empty file has nothing to rotate away: its age starts again.
      if (this.size === 0) {
        this.bornAt = Date.now();
        return this.armAgeTimer();
      }
      this.wantRotate = true;
      this.pump();
    }, Math.min(Math.max(dueIn, 0), MAX_TIMER_MS));
    this.ageTimer.unref();
  }
}

function byteAt(buffers: Buffer[], offset: number): number {
  let at = offset;
  for (const buffer of buffers) {
    if (at < buffer.length) return buffer[at];
    at -= buffer.length;
  }
  return -1;
}
