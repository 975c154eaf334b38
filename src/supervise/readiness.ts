// Asking a service whether it is ready or healthy: one probe (an HTTP GET answered 2xx, a TCP
// connect, `sh -c` exiting 0), a loop of probes at an interval, and the s6-style notification
// fd (ready at the first newline). The state machine (ready-machine.ts) decides what follows.

import http from 'node:http';
import net from 'node:net';
import type { ProbeConfig } from '../config/config';
import { killpg } from '../native';
import { runShellCommand, type LaunchContext } from '../process/launch';

/** undefined when the probe passed, else why it failed ("connect ECONNREFUSED", "HTTP 503"). */
export type ProbeVerdict = string | undefined;

/** One probe, given at most timeoutMs. Never rejects. */
export function runProbe(probe: Pick<ProbeConfig, 'kind' | 'target'>, timeoutMs: number, launch: LaunchContext): Promise<ProbeVerdict> {
  switch (probe.kind) {
    case 'http': return httpProbe(probe.target, timeoutMs);
    case 'tcp': return tcpProbe(probe.target, timeoutMs);
    case 'cmd': return cmdProbe(probe.target, timeoutMs, launch);
  }
}

function httpProbe(url: string, timeoutMs: number): Promise<ProbeVerdict> {
  return new Promise((resolve) => {
    // No keep-alive agent: a probe holds no connection between probes.
    const req = http.get(url, { agent: false, timeout: timeoutMs, headers: { 'user-agent': 'immortal-probe' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 300 ? undefined : `HTTP ${code}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err) => resolve(describe(err)));
  });
}

function tcpProbe(target: string, timeoutMs: number): Promise<ProbeVerdict> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.slice(colon + 1));
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no connection within ${timeoutMs / 1000} s`)));
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err) => resolve(describe(err)));
  });
}

/** Run as require_cmd is (the service's user, env, cwd; through the reaper); its group KILLed at the timeout. */
async function cmdProbe(command: string, timeoutMs: number, launch: LaunchContext): Promise<ProbeVerdict> {
  let run: ReturnType<typeof runShellCommand>;
  try {
    run = runShellCommand(launch, command);
  } catch (err) {
    return describe(err as Error);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      killpg(run.pid, 'SIGKILL'); // its own session and group (setsid): the whole command goes
    } catch {
      // already gone
    }
  }, timeoutMs);
  const status = await run.done;
  clearTimeout(timer);
  if (timedOut) return `${command}: killed after ${timeoutMs / 1000} s`;
  if (status.code === 0) return undefined;
  return `${command}: ${status.signal ? `killed by ${status.signal}` : `exit ${status.code}`}`;
}

function describe(err: Error): string {
  const e = err as NodeJS.ErrnoException;
  return e.syscall && e.code ? `${e.syscall} ${e.code}` : err.message;
}

/** Probes every intervalMs (from the end of the last probe) until stopped; `onResult` sees each verdict. */
export class ProbeLoop {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly probe: () => Promise<ProbeVerdict>,
    private readonly intervalMs: number,
    private readonly onResult: (verdict: ProbeVerdict) => void,
    firstDelayMs = 0,
  ) {
    this.timer = setTimeout(() => this.tick(), firstDelayMs);
  }

  private tick(): void {
    this.timer = undefined;
    void this.probe().then((verdict) => {
      if (this.stopped) return;
      this.onResult(verdict);
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.intervalMs);
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  close(): void {
    this.stop();
  }
}

/** s6's notification-fd: the read end of the pipe whose write end the service has as fd N; ready at the first newline. */
export function watchNotificationPipe(readFd: number, onReady: () => void): { close(): void } {
  const socket = new net.Socket({ fd: readFd, readable: true, writable: false });
  let done = false;
  socket.on('data', (chunk: Buffer) => {
    if (done || !chunk.includes(0x0a)) return;
    done = true;
    socket.destroy();
    onReady();
  });
  socket.on('error', () => socket.destroy());
  return { close: () => socket.destroy() };
}
