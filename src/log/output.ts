// Where a service's stdout and stderr go. Without log:/stderr:/logger: the service writes
// straight to the supervisor's own stdout/stderr (no pipe, no copy); otherwise the log
// streams (stream.ts) own pipes whose write ends are handed to every start of the service.

import type { Config } from '../config/config';
import type { LogCopier } from '../native';
import { minRestartMs } from '../supervise/restart-rule';
import { inheritedStdio } from './inherited-stdio';
import type { LoggerPipe } from './logger-pipe';
import type { ServiceStream, StreamOptions } from './stream';

export interface ServiceOutput {
  /** fd given to the service as its stdout. */
  readonly stdoutFd: number;
  /** fd given to the service as its stderr. */
  readonly stderrFd: number;
  /** Reopens log files (SIGUSR1, for external logrotate). */
  reopen(): void;
  /**
   * The service exited (call before starting it again): its output still in the pipe is read
   * and its unfinished last line ended, so the next start begins on a line of its own.
   */
  endOfRun(): void;
  /** What endOfRun() ends, for a restart the addon starts by itself (native.prepareRestart). */
  readonly copiers: readonly LogCopier[];
  /** Lines dropped because the logger could not keep up (bounded buffer). */
  droppedLines(): number;
  /** Last write error (disk full…), or undefined. */
  lastError(): string | undefined;
  /** Flushes what the service wrote and closes files and the logger. */
  close(): Promise<void>;
}

export interface OutputOwner {
  uid: number;
  gid: number;
}

/** The service shares the supervisor's stdout and stderr (blocking: see inherited-stdio.ts). */
export function inheritedOutput(): ServiceOutput {
  const [stdoutFd, stderrFd] = inheritedStdio();
  return {
    stdoutFd,
    stderrFd,
    reopen() {},
    endOfRun() {},
    copiers: [],
    droppedLines: () => 0,
    lastError: () => undefined,
    close: async () => {},
  };
}

export interface OutputOptions {
  /** The supervisor's message log (write errors, logger restarts); default: stderr. */
  report?: (message: string) => void;
  /** Minimum time between two starts of the logger; default the 1 s rule (supervise/restart-rule.ts). */
  loggerRestartMs?: number;
  /** Bound of the logger's buffer; default LOGGER_BUFFER_BYTES (8 MiB). */
  loggerBufferBytes?: number;
  /** After a write error (disk full), lines are dropped for this long before the next try; default 1 s. */
  fileRetryMs?: number;
}

/**
 * Opens what config asks for; throws an Error (with code) naming the file when a log cannot
 * be opened, with nothing left open behind it.
 *
 * stdout goes through a pipe when there is a log file or a logger; stderr shares that pipe
 * (one pipe keeps the two in the order written) unless `stderr:` gives it a file of its own.
 */
export function openServiceOutput(config: Config, owner?: OutputOwner, opts: OutputOptions = {}): ServiceOutput {
  if (!config.log && !config.stderr && !config.logger) return inheritedOutput();
  // Loaded only for a service that logs: most supervisors never need them.
  const { ServiceStream } = require('./stream') as typeof import('./stream');
  const report = opts.report ?? stderrReporter(config.name);
  const streams: ServiceStream[] = [];
  let logger: LoggerPipe | undefined;
  try {
    // The files first: one that cannot be opened stops everything before the logger starts.
    const streamOptions: StreamOptions = {
      owner,
      report,
      retryMs: opts.fileRetryMs,
      // Lines arrive only once the service runs, and the logger is started below by then.
      onLines: config.logger ? (lines) => logger?.write(lines) : undefined,
    };
    const stdout = config.log || config.logger ? new ServiceStream(config.log, streamOptions) : undefined;
    if (stdout) streams.push(stdout);
    const stderr = config.stderr ? new ServiceStream(config.stderr, streamOptions) : undefined;
    if (stderr) streams.push(stderr);
    if (config.logger) {
      const { LoggerPipe } = require('./logger-pipe') as typeof import('./logger-pipe');
      logger = new LoggerPipe({
        command: config.logger,
        env: Object.entries(process.env).map(([key, value]) => `${key}=${value}`),
        cwd: config.cwd,
        restartMs: opts.loggerRestartMs ?? minRestartMs(),
        bufferBytes: opts.loggerBufferBytes,
        report,
      });
    }
    for (const stream of streams) stream.start();
    let closed: Promise<void> | undefined;
    return {
      stdoutFd: stdout?.writeFd ?? inheritedStdio()[0],
      stderrFd: stderr?.writeFd ?? stdout?.writeFd ?? inheritedStdio()[1],
      reopen: () => streams.forEach((stream) => stream.reopen()),
      endOfRun: () => streams.forEach((stream) => stream.endOfRun()),
      copiers: streams.map((stream) => stream.copier),
      droppedLines: () => streams.reduce((sum, stream) => sum + stream.droppedLines(), logger?.droppedLines() ?? 0),
      lastError: () => streams.map((stream) => stream.lastError()).find((e) => e !== undefined) ?? logger?.lastError(),
      close: () => (closed ??= closeAll(streams, logger)),
    };
  } catch (err) {
    // Nothing was started yet but the logger: everything is closed before this throw.
    for (const stream of streams) stream.discard();
    void logger?.close();
    throw err;
  }
}

/** Streams first (they feed the logger), then the logger. */
async function closeAll(streams: ServiceStream[], logger: LoggerPipe | undefined): Promise<void> {
  await Promise.all(streams.map((stream) => stream.drain()));
  await logger?.close();
}

/** Lines like the supervisor's own: `2026-11-28T22:52:09.123Z web: log /x.log: ENOSPC…`. */
function stderrReporter(name: string): (message: string) => void {
  return (message) => {
    try {
      process.stderr.write(`${new Date().toISOString()} ${name}: ${message}\n`);
    } catch {
      // No stderr left (EPIPE): nobody to tell.
    }
  };
}

