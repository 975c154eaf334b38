// The `logger` command: `sh -c command` reading every line on its stdin. It is restarted when
// it dies (never sooner than the restart rule after its previous start). Its stdin is one
// long-lived pipe whose read end we keep open too: lines already in the pipe when a logger
// dies stay there for the next one (and we never get EPIPE). What the pipe cannot take waits
// in a bounded buffer; when the bound is hit the oldest lines of that buffer are dropped and
// counted, so a slow or dead logger never blocks the service and never grows our memory
// without limit. Lines go to the pipe first: nothing is dropped that the pipe could still take.

import fs from 'node:fs';
import net from 'node:net';
import { killpg, pipe, spawn, type ExitStatus } from '../native';
import { onChildExit } from '../process/reaper';
import { ByteQueue, countLines } from './byte-queue';

/** Lines waiting for the logger, beyond what the pipe itself holds. */
export const LOGGER_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * Lines are copied into one of two recycled slots for each write to the pipe, so at most two
 * slots are in the socket's hands; a slot holds any line (lines are cut at 64 KiB).
 */
const SLOT_BYTES = 256 * 1024;
const SLOTS = 2;

export interface LoggerOptions {
  command: string;
  env: string[];
  cwd?: string;
  /** Minimum time between two starts (the 1 s rule). */
  restartMs: number;
  bufferBytes?: number;
  report: (message: string) => void;
}

export class LoggerPipe {
  private readonly readFd: number;
  private readonly socket: net.Socket;
  private readonly pending = new ByteQueue();
  private readonly freeSlots: Buffer[] = [];
  /** What was handed to the socket and not yet confirmed written, oldest first. */
  private readonly inFlight: Buffer[] = [];
  private slotsMade = 0;
  private readonly bufferBytes: number;
  private pid = 0;
  private lastStartAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private exitWaiters: (() => void)[] = [];
  private dropped = 0;
  private error: string | undefined;
  private closing = false;

  /** Starts the logger; throws when /bin/sh cannot be started. */
  constructor(private readonly opts: LoggerOptions) {
    this.bufferBytes = opts.bufferBytes ?? LOGGER_BUFFER_BYTES;
    const [readFd, writeFd] = pipe();
    this.readFd = readFd;
    this.socket = new net.Socket({ fd: writeFd, readable: false, writable: true });
    // Cannot be EPIPE while we hold the read end; anything else stops delivery, not us.
    this.socket.on('error', (err) => {
      this.error = `logger pipe: ${err.message}`;
      this.opts.report(this.error);
    });
    try {
      this.start();
    } catch (err) {
      this.socket.destroy();
      fs.closeSync(readFd);
      throw err;
    }
  }

  droppedLines(): number {
    return this.dropped;
  }

  lastError(): string | undefined {
    return this.error;
  }

  /** Queues whole lines for the logger; never blocks, drops the oldest past the bound. */
  write(lines: Buffer): void {
    if (this.closing) {
      this.dropped += countLines(lines);
      return;
    }
    this.pending.append(lines);
    // Into the pipe first: only what it cannot take yet counts against the bound.
    this.pump();
    const excess = this.pending.bytes - this.bufferBytes;
    if (excess > 0) {
      // The oldest whole lines go, at least `excess` bytes of them.
      const drop = this.pending.lineEndFrom(excess - 1) || this.pending.bytes;
      this.dropped += this.pending.countLines(drop);
      this.pending.consume(drop);
    }
  }

  /**
   * Hands over what is buffered (for at most timeoutMs), closes the pipe so the logger sees
   * end of input, and waits for it to exit; TERM then KILL to its process group if it does not.
   * Every line the logger did not get is counted as dropped: those still buffered, those the
   * socket had not written yet, and those left unread in the pipe.
   */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.restartTimer);
    if (this.pid !== 0) {
      await this.until(() => this.pending.bytes === 0 && this.socket.writableLength === 0, timeoutMs);
    }
    this.dropped += this.pending.countLines() + this.unwrittenLines();
    this.pending.clear();
    this.socket.destroy();
    await this.stopLogger(timeoutMs);
    // Our end is closed and the logger is gone: what is still in the pipe never reached a
    // logger. Reading it to end of file counts it.
    this.dropped += this.drainPipe();
    fs.closeSync(this.readFd);
  }

  private async stopLogger(timeoutMs: number): Promise<void> {
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      if (await this.exited(timeoutMs)) return;
      try {
        killpg(this.pid, signal);
      } catch {
        // ESRCH: the group is gone; its exit is on the way.
      }
    }
    await this.exited(timeoutMs);
  }

  /**
   * Lines the socket was given but has not written into the pipe. Written bytes leave the
   * front: the unwritten ones are the last `writableLength` bytes of what is in flight, less
   * what libuv already wrote of the oldest request (it holds its remainder as writeQueueSize).
   */
  private unwrittenLines(): number {
    const queued = this.socket.writableLength;
    if (queued === 0 || this.inFlight.length === 0) return 0;
    // The requests not yet confirmed are the newest ones whose lengths sum to `queued`.
    let sum = 0;
    let oldest = this.inFlight.length;
    while (oldest > 0 && sum < queued) sum += this.inFlight[--oldest].length;
    const handle = (this.socket as unknown as { _handle?: { writeQueueSize?: number } })._handle;
    const remainder = Math.min(handle?.writeQueueSize ?? this.inFlight[oldest].length, this.inFlight[oldest].length);
    let lines = countLines(this.inFlight[oldest].subarray(this.inFlight[oldest].length - remainder));
    for (let i = oldest + 1; i < this.inFlight.length; i++) lines += countLines(this.inFlight[i]);
    return lines;
  }

  /**
   * Newlines left in the pipe. Read through a non-blocking description of its own (Linux
   * /proc/self/fd), so that a writer we do not know of could never make a stop hang: EAGAIN
   * ends the count as end of file does. Elsewhere nothing is counted here.
   */
  private drainPipe(): number {
    let fd: number;
    try {
      fd = fs.openSync(`/proc/self/fd/${this.readFd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {
      return 0;
    }
    const buffer = Buffer.allocUnsafe(64 * 1024);
    let lines = 0;
    try {
      for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0; ) {
        lines += countLines(buffer.subarray(0, n));
      }
    } catch {
      // EAGAIN: a writer is still there and the pipe is empty; what was read is counted.
    } finally {
      fs.closeSync(fd);
    }
    return lines;
  }

  private start(): void {
    const { pid } = spawn({
      file: '/bin/sh',
      argv: ['sh', '-c', this.opts.command],
      env: this.opts.env,
      cwd: this.opts.cwd,
      // Its own group: a terminal's Ctrl-C reaches only the supervisor, and stopping the
      // logger reaches whatever `sh -c` started.
      setsid: true,
      stdio: [this.readFd, 1, 2],
    });
    this.pid = pid;
    this.lastStartAt = Date.now();
    this.error = undefined;
    onChildExit(pid, (status) => this.onExit(status));
  }

  private onExit(status: ExitStatus): void {
    this.pid = 0;
    for (const resolve of this.exitWaiters.splice(0)) resolve();
    if (this.closing) return;
    const how = status.signal !== null ? `killed by ${status.signal}` : `exited with code ${status.code}`;
    const delay = Math.max(0, this.lastStartAt + this.opts.restartMs - Date.now());
    this.opts.report(`logger ${how}; starting it again in ${(delay / 1000).toFixed(1)}s`);
    this.scheduleStart(delay);
  }

  private scheduleStart(delay: number): void {
    this.restartTimer = setTimeout(() => {
      if (this.closing) return;
      try {
        this.start();
      } catch (err) {
        this.error = `logger: ${(err as Error).message}`;
        this.opts.report(this.error);
        this.scheduleStart(this.opts.restartMs);
      }
    }, delay);
  }

  /**
   * Moves buffered lines into the pipe, whole lines per write, while a slot is free. This goes
   * on while the logger is down: the pipe keeps them for the next one.
   */
  private pump(): void {
    while (this.pending.bytes > 0 && !this.socket.destroyed) {
      const slot = this.freeSlots.pop() ?? (this.slotsMade < SLOTS ? this.makeSlot() : undefined);
      if (slot === undefined) return;
      // The queue holds whole lines, each shorter than a slot.
      const bytes = this.pending.bytes <= slot.length ? this.pending.bytes : this.pending.wholeLinesWithin(slot.length);
      this.pending.copyTo(slot, bytes);
      this.pending.consume(bytes);
      const chunk = slot.subarray(0, bytes);
      this.inFlight.push(chunk);
      this.socket.write(chunk, () => {
        // By identity: after an error the callbacks of a destroyed socket may come out of order.
        const at = this.inFlight.indexOf(chunk);
        if (at !== -1) this.inFlight.splice(at, 1);
        this.freeSlots.push(slot);
        this.pump();
      });
    }
  }

  private makeSlot(): Buffer {
    this.slotsMade++;
    return Buffer.allocUnsafeSlow(SLOT_BYTES);
  }

  /** True once the current logger (if any) has exited, false after timeoutMs. */
  private exited(timeoutMs: number): Promise<boolean> {
    if (this.pid === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private async until(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && Date.now() < deadline && this.pid !== 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
