// One output stream of the service (stdout, or stderr when it has a file of its own): a
// long-lived pipe whose write end every start of the service gets, so the last lines of a
// child that exited are read before the first lines of the next one. Its read end belongs to
// a native copier (native/log_copier.cc): a thread of its own cuts it into lines, stamps
// them, writes and rotates the file, so the copy never runs on the event loop and a hung disk
// never stalls supervision. With a logger, whole lines come back here for it.

import fs from 'node:fs';
import type { LogConfig } from '../config/config';
import { logCopier, pipe, type LogCopier, type LogCopierEvent } from '../native';

const MEGABYTE = 1024 * 1024;
/**
 * At close the copier reads for at most 5 s (a grandchild that never stops writing), then
 * writes what it has. A disk that does not take it within this long in all is given up on:
 * what is left is counted as dropped, so a hung disk cannot hang the supervisor's exit.
 */
const CLOSE_MAX_MS = 10_000;

export interface StreamOptions {
  /** A created file's owner (-u). */
  owner?: { uid: number; gid: number };
  /** One-line messages for the supervisor's log: write errors and recovery. */
  report: (message: string) => void;
  /** After a write error, lines are dropped this long before the next try (default 1 s). */
  retryMs?: number;
  /** Receives every whole line too (the logger); unset: the lines only go to the file. */
  onLines?: (lines: Buffer) => void;
}

export class ServiceStream {
  /** Handed to the service as its fd 1 or 2; closed by drain(). */
  readonly writeFd: number;
  /** Reads the pipe into the file, on a thread of its own (native/log_copier.cc). */
  readonly copier: LogCopier;
  private closed = false;
  private onClosed: () => void = () => {};
  private draining: Promise<void> | undefined;

  /**
   * Opens the file; start() starts the copy. When the file cannot be opened, throws one line
   * naming it (with the errno's code), with nothing left open.
   */
  constructor(file: LogConfig | undefined, private readonly opts: StreamOptions) {
    const [readFd, writeFd] = pipe();
    try {
      this.copier = logCopier(readFd, {
        file: file?.file,
        owner: opts.owner,
        sizeBytes: (file?.size ?? 0) * MEGABYTE,
        ageMs: (file?.age ?? 0) * 1000,
        // num: 0 (or unset) with size/age still keeps one rotated file: rotation never deletes
        // the only copy of what was just written.
        keep: Math.max(file?.num ?? 1, 1),
        timestamp: file?.timestamp ?? false,
        forward: opts.onLines !== undefined,
        retryMs: opts.retryMs,
      }, (event) => this.onEvent(event));
    } catch (err) {
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
      throw file ? cannotOpen(file.file, err as NodeJS.ErrnoException) : err;
    }
    this.writeFd = writeFd;
  }

  start(): void {
    this.copier.start();
  }

  /** Instead of start(): closes everything at once (another file of the service failed). */
  discard(): void {
    fs.closeSync(this.writeFd);
    this.copier.dispose();
  }

  /**
   * The service exited: what it wrote is all in the pipe by now. It is read at once and its
   * unfinished last line ended, so the next start's first line does not run on from it.
   */
  endOfRun(): void {
    this.copier.endOfRun();
  }

  reopen(): void {
    this.copier.reopen();
  }

  droppedLines(): number {
    return this.copier.droppedLines();
  }

  lastError(): string | undefined {
    return this.copier.lastError();
  }

  /**
   * Closes our write end; the copier reads until every writer has closed its end too
   * (bounded: a daemonized grandchild may hold the pipe forever), ends the unfinished last
   * line, writes everything and closes the file.
   */
  drain(): Promise<void> {
    this.draining ??= new Promise<void>((resolve) => {
      fs.closeSync(this.writeFd);
      const giveUp = setTimeout(() => {
        this.copier.abandon();
        this.copier.unref();
        resolve();
      }, CLOSE_MAX_MS);
      this.onClosed = () => {
        clearTimeout(giveUp);
        resolve();
      };
      if (this.closed) this.onClosed();
      else this.copier.close();
    });
    return this.draining;
  }

  private onEvent(event: LogCopierEvent): void {
    if (event.kind === 'lines') {
      this.opts.onLines?.(event.lines);
    } else if (event.kind === 'report') {
      this.opts.report(event.message);
    } else {
      this.closed = true;
      this.onClosed();
    }
  }
}

function cannotOpen(file: string, { code, message }: NodeJS.ErrnoException): Error {
  const reason = code === 'EACCES' ? 'permission denied' : code === 'ENOENT' ? 'no such file or directory' : message;
  return Object.assign(new Error(`log file ${file}: cannot open: ${reason}`), { code: code ?? 'EIO' });
}
