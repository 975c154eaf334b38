// One output stream of the service (stdout, or stderr when it has a file of its own): a
// long-lived pipe whose write end every start of the service gets, so the last lines of a
// child that exited are read before the first lines of the next one. Its read end is cut
// into lines and handed to the file writer and the logger.

import fs from 'node:fs';
import net from 'node:net';
import { pipe } from '../native';
import type { FileWriter } from './file-writer';
import { LineSplitter } from './lines';
import type { LoggerPipe } from './logger-pipe';

/** At close: give up on end of input after this long without data (a daemonized grandchild may hold the pipe forever). */
const DRAIN_IDLE_MS = 1000;
/** At close: and in any case after this long (a grandchild that never stops writing). */
const DRAIN_MAX_MS = 5000;
/** At a service's exit: read at most this much at once (a grandchild may keep writing). */
const END_OF_RUN_MAX_BYTES = 4 * 1024 * 1024;

// Every stream reads into this one buffer: reads are synchronous callbacks and whoever keeps
// bytes copies them (the held partial line, the file queue, the logger buffer), so hundreds of
// services cost no read buffer each, and no read allocates.
const readBuffer = Buffer.allocUnsafeSlow(1024 * 1024);

export class ServiceStream {
  /** Handed to the service as its fd 1 or 2; closed by drain(). */
  readonly writeFd: number;
  private readonly readFd: number;
  private readonly socket: net.Socket;
  private readonly splitter: LineSplitter;
  /** The file writer is behind: stop reading, so the service blocks on its full pipe. */
  private paused = false;
  private ended = false;
  private draining = false;
  private lastReadAt = 0;
  private endWaiter: (() => void) | undefined;

  constructor(private readonly file: FileWriter | undefined, private readonly logger: LoggerPipe | undefined) {
    const [readFd, writeFd] = pipe();
    this.readFd = readFd;
    this.writeFd = writeFd;
    this.splitter = new LineSplitter((lines) => this.deliver(lines));
    this.socket = new net.Socket({
      fd: readFd,
      readable: true,
      writable: false,
      onread: { buffer: readBuffer, callback: (bytes: number) => this.onRead(bytes) },
    } as net.SocketConstructorOpts);
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.onEnd());
    // A read error on our own pipe cannot really happen; treat it as the end of the stream.
    this.socket.on('error', () => this.onEnd());
    file?.onDrain(() => {
      this.paused = false;
      this.socket.resume();
    });
  }

  /**
   * Closes our write end and reads until every writer has closed its end too — bounded —
   * then hands on the last unfinished line.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    fs.closeSync(this.writeFd);
    if (!this.ended) {
      this.lastReadAt = Date.now();
      await new Promise<void>((resolve) => {
        let idle: NodeJS.Timeout | undefined;
        const finish = () => {
          clearTimeout(hardStop);
          clearTimeout(idle);
          resolve();
        };
        const hardStop = setTimeout(finish, DRAIN_MAX_MS);
        const checkIdle = () => {
          const quietFor = Date.now() - this.lastReadAt;
          // Waiting on a slow file is not idleness.
          if (this.paused) idle = setTimeout(checkIdle, DRAIN_IDLE_MS);
          else if (quietFor < DRAIN_IDLE_MS) idle = setTimeout(checkIdle, DRAIN_IDLE_MS - quietFor);
          else finish();
        };
        idle = setTimeout(checkIdle, DRAIN_IDLE_MS);
        this.endWaiter = finish;
      });
    }
    this.socket.destroy();
    this.splitter.flush();
  }

  /**
   * The service exited: what it wrote is all in the pipe by now. Read it at once and end its
   * unfinished last line, so the next start's first line does not run on from it.
   */
  endOfRun(): void {
    if (this.ended || this.draining) return;
    // Bounded: a daemonized grandchild may still be writing into the pipe.
    for (let read = 0; read < END_OF_RUN_MAX_BYTES;) {
      let bytes: number;
      try {
        bytes = fs.readSync(this.readFd, readBuffer, 0, readBuffer.length, null);
      } catch {
        break; // EAGAIN: the pipe is empty
      }
      if (bytes === 0) break;
      read += bytes;
      this.splitter.push(readBuffer.subarray(0, bytes));
    }
    this.splitter.flush();
  }

  /** Returning false stops reading until the file writer drains. */
  private onRead(bytes: number): boolean {
    this.lastReadAt = Date.now();
    this.splitter.push(readBuffer.subarray(0, bytes));
    return !this.paused;
  }

  private deliver(lines: Buffer): void {
    this.logger?.write(lines);
    if (this.file !== undefined && !this.file.write(lines)) this.paused = true;
  }

  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    this.endWaiter?.();
  }
}
