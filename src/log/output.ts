// Where a service's stdout and stderr go. Without log:/stderr:/logger: the service writes
// straight to the supervisor's own stdout/stderr (no pipe, no copy); otherwise the log
// writer owns pipes whose write ends are handed to every start of the service.

import type { Config } from '../config';

export interface ServiceOutput {
  /** fd given to the service as its stdout. */
  readonly stdoutFd: number;
  /** fd given to the service as its stderr. */
  readonly stderrFd: number;
  /** Reopens log files (SIGUSR1, for external logrotate). */
  reopen(): void;
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

/** The service shares the supervisor's stdout and stderr. */
export function inheritedOutput(): ServiceOutput {
  return {
    stdoutFd: 1,
    stderrFd: 2,
    reopen() {},
    droppedLines: () => 0,
    lastError: () => undefined,
    close: async () => {},
  };
}

/** Opens what config asks for; throws an Error naming the file when a log cannot be opened. */
export function openServiceOutput(config: Config, _owner?: OutputOwner): ServiceOutput {
  if (!config.log && !config.stderr && !config.logger) return inheritedOutput();
  throw new Error('log files and logger are not implemented yet');
}
