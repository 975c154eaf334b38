// Detaching (immortal without -n). Node cannot fork, so the launcher starts a copy of this
// program in a new session with stdio on /dev/null and a pipe on fd 3, and waits for one
// line on it: "ok" once the service has started, or "err <message>". The launcher exits
// 0 or 1 accordingly, so a shell script knows whether the service really started.

import { closeSync, readSync, writeSync } from 'node:fs';
import { pipe, spawn } from '../native';
import { supervisingExecArgv } from './node-flags';

const notifyEnv = 'IMMORTAL_DAEMON_NOTIFY_FD';
const notifyFd = 3;

/** True in the detached copy; the variable is removed so the service never inherits it. */
export function takeDaemonNotifier(): ((message: string) => void) | undefined {
  const fd = process.env[notifyEnv];
  if (fd === undefined) return undefined;
  delete process.env[notifyEnv];
  let sent = false;
  return (message) => {
    if (sent) return;
    sent = true;
    try {
      writeSync(Number(fd), `${message}\n`);
      // After an error this copy only exits: the pipe then closes with the process, so the
      // launcher (which reads to end of file) returns once nothing of the copy is left.
      if (!message.startsWith('err ')) closeSync(Number(fd));
    } catch {
      // the launcher is gone: nobody to tell
    }
  };
}

/**
 * Starts the detached copy (scriptPath with args, extraEnv added to its environment) and
 * waits for its verdict; returns the launcher's exit code.
 */
export function detach(scriptPath: string, args: string[], extraEnv: Record<string, string> = {}): number {
  const [readFd, writeFd] = pipe();
  const env = Object.entries({ ...process.env, ...extraEnv, [notifyEnv]: String(notifyFd) }).map(([k, v]) => `${k}=${v}`);
  try {
    spawn({
      file: process.execPath,
      argv: [process.execPath, ...supervisingExecArgv(), scriptPath, ...args],
      env,
      setsid: true,
      stdio: [-1, -1, -1, writeFd],
    });
  } finally {
    closeSync(writeFd);
  }
  const verdict = readAll(readFd).trim();
  closeSync(readFd);
  if (verdict === 'ok') return 0;
  process.stderr.write(`immortal: ${verdict.startsWith('err ') ? verdict.slice(4) : 'supervisor exited during start-up'}\n`);
  return 1;
}

function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buffer, 0, buffer.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
    if (n === 0) return Buffer.concat(chunks).toString();
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
}
