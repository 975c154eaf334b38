// A small client for immortal.sock: one keep-alive agent shared by every request, so talking
// to many supervisors (immortaldir, require:) reuses one connection per socket; a program
// that asks once and exits (immortalctl) uses one HTTP/1.0 request per connection instead,
// without loading node:http at all.
// Connection failures come back as a ControlError whose `kind` tells a stale socket (nobody
// listening) from a missing one, a timeout or a permission problem.

import type { Agent } from 'node:http';
import { http10Get, type Reply } from './http10-request';
import type { StatusDocument } from './status';

export type ControlErrorKind = 'stale' | 'missing' | 'timeout' | 'denied' | 'protocol';

export class ControlError extends Error {
  constructor(
    readonly kind: ControlErrorKind,
    readonly socketPath: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface SignalResponse {
  Err: string;
}

export type StatusResponse = StatusDocument;

export const DEFAULT_TIMEOUT_MS = 5000;

// The agent keys pooled connections by socketPath, so sockets of different services never mix;
// idle pooled sockets are unref'd by Node and do not keep a CLI alive.
let sharedAgent: Agent | undefined;
let oneRequestPerConnection = false;

function agent(http: typeof import('node:http')): Agent {
  sharedAgent ??= new http.Agent({ keepAlive: true, maxSockets: 4 });
  return sharedAgent;
}

/** From now on every request opens its own connection (HTTP/1.0, node:http never loaded). */
export function useOneRequestPerConnection(): void {
  oneRequestPerConnection = true;
}

/** Drops pooled connections (tests, or a program about to exit cleanly). */
export function closeClients(): void {
  sharedAgent?.destroy();
  sharedAgent = undefined;
}

/** GET `/`: the one status path the Go original answers too (it has no `/status`). */
export async function getStatus(socketPath: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<StatusResponse> {
  const reply = await request(socketPath, '/', timeoutMs);
  if (reply.statusCode !== 200) throw httpError(socketPath, reply);
  return parseJson<StatusResponse>(socketPath, reply.body);
}

/**
 * GET `/service`: the full record (control/record.ts). undefined from a supervisor that has
 * none (the Go original answers 404): callers show what `/` says alone.
 */
export async function getRecord(socketPath: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Record<string, unknown> | undefined> {
  const reply = await request(socketPath, '/service', timeoutMs);
  if (reply.statusCode === 404) return undefined;
  if (reply.statusCode !== 200) throw httpError(socketPath, reply);
  return parseJson<Record<string, unknown>>(socketPath, reply.body);
}

/**
 * Sends `/signal/<name>`. A refusal by the supervisor (unknown name, 403 for another uid)
 * is a normal answer with `Err` set, not an exception.
 */
export async function sendSignal(
  socketPath: string,
  name: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<SignalResponse> {
  const reply = await request(socketPath, `/signal/${encodeURIComponent(name)}`, timeoutMs);
  const parsed = parseJson<Partial<SignalResponse>>(socketPath, reply.body);
  if (typeof parsed.Err !== 'string') throw httpError(socketPath, reply);
  return { Err: parsed.Err };
}

/** What `watchStatus` ended with: the status (or error) that satisfied `until`, or the last one seen. */
export interface WatchedStatus {
  last: StatusResponse | ControlError;
  /** False when the time ran out first. */
  reached: boolean;
}

/**
 * Asks for the status again and again (20 ms apart at first, then up to 250 ms) until
 * `until` accepts an answer — an error such as a socket gone counts as an answer — or
 * `timeoutMs` has passed. The Go protocol has no way to wait for a change, so this polls.
 */
export async function watchStatus(
  socketPath: string,
  until: (answer: StatusResponse | ControlError) => boolean,
  timeoutMs: number,
): Promise<WatchedStatus> {
  const deadline = Date.now() + timeoutMs;
  let pauseMs = 20;
  for (;;) {
    let answer: StatusResponse | ControlError;
    try {
      // Each request has its own usual timeout: the wait bounds the asking again, not an answer.
      answer = await getStatus(socketPath);
    } catch (err) {
      answer = toControlError(socketPath, err as Error);
    }
    if (until(answer)) return { last: answer, reached: true };
    if (Date.now() + pauseMs >= deadline) return { last: answer, reached: false };
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    pauseMs = Math.min(250, pauseMs * 2);
  }
}

export async function getMetrics(socketPath: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  const reply = await request(socketPath, '/metrics', timeoutMs);
  if (reply.statusCode !== 200) throw httpError(socketPath, reply);
  return reply.body;
}

function request(socketPath: string, path: string, timeoutMs: number): Promise<Reply> {
  const timeoutError = () => new ControlError('timeout', socketPath, `${socketPath}: no answer within ${timeoutMs} ms`);
  if (oneRequestPerConnection) {
    return http10Get(socketPath, path, timeoutMs, timeoutError).catch((err: Error) => Promise.reject(toControlError(socketPath, err)));
  }
  const http = require('node:http') as typeof import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: 'GET', agent: agent(http), headers: { Host: 'immortal' } });
    req.setTimeout(timeoutMs, () => req.destroy(timeoutError()));
    req.once('error', (err) => reject(toControlError(socketPath, err)));
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', (err) => reject(toControlError(socketPath, err)));
      res.once('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end();
  });
}

function toControlError(socketPath: string, err: Error): ControlError {
  if (err instanceof ControlError) return err;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ECONNREFUSED':
      return new ControlError('stale', socketPath, `${socketPath}: stale socket (connection refused)`);
    case 'ENOENT':
      return new ControlError('missing', socketPath, `${socketPath}: no such socket`);
    case 'EACCES':
    case 'EPERM':
      return new ControlError('denied', socketPath, `${socketPath}: permission denied`);
    default:
      return new ControlError('protocol', socketPath, `${socketPath}: ${err.message}`);
  }
}

function parseJson<T>(socketPath: string, body: string): T {
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new ControlError('protocol', socketPath, `${socketPath}: not JSON: ${body.slice(0, 80)}`);
  }
}

function httpError(socketPath: string, reply: Reply): ControlError {
  let reason = reply.body.trim();
  try {
    const parsed = JSON.parse(reply.body) as { Err?: unknown };
    if (typeof parsed.Err === 'string') reason = parsed.Err;
  } catch {
    // not JSON: keep the raw body as the reason
  }
  return new ControlError('protocol', socketPath, `${socketPath}: HTTP ${reply.statusCode}: ${reason}`);
}
