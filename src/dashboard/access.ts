// Who may do what on the dashboard. Reading (the page, events, /metrics) is open to whoever
// reaches the listener; acting (start, stop, restart, signals) and reading log lines need
// the token of --http-token-file, sent in the X-Immortal-Token header. A header, not a
// cookie: a browser never adds it by itself, and a cross-site page cannot set it without a
// CORS preflight, which this server never grants. Origin and Sec-Fetch-Site are checked on
// top, and on a loopback listener the Host header must be a loopback name (DNS rebinding).

import fs from 'node:fs';
import type http from 'node:http';
import { hostOfHostHeader, isLoopbackHost } from './address';

export const TOKEN_HEADER = 'x-immortal-token';
/** Short tokens are guessable; ask for one worth the name. */
const MIN_TOKEN_LENGTH = 16;

/** Reads the token; throws one line naming the file and the cause. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`--http-token-file ${file}: cannot read it: ${e.code ?? e.message}`);
  }
  const token = text.trim();
  if (token.length === 0) throw new Error(`--http-token-file ${file}: the file is empty`);
  if (/\s/.test(token)) throw new Error(`--http-token-file ${file}: the token must be one word (no spaces or newlines inside)`);
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(`--http-token-file ${file}: the token has ${token.length} characters, at least ${MIN_TOKEN_LENGTH} are needed (e.g. head -c 24 /dev/urandom | base64)`);
  }
  return token;
}

export interface Refusal {
  status: 401 | 403;
  message: string;
}

export interface AccessPolicy {
  /** The token actions need; undefined = read-only dashboard. */
  token?: string;
  /** Listening on loopback TCP: the Host header must name this host. */
  loopbackOnly: boolean;
}

/** Any request: a loopback listener answers only to loopback Host names. */
export function hostRefusal(policy: AccessPolicy, req: http.IncomingMessage): Refusal | undefined {
  if (!policy.loopbackOnly) return undefined;
  const host = req.headers.host;
  if (host !== undefined && isLoopbackHost(hostOfHostHeader(host))) return undefined;
  return { status: 403, message: `this dashboard listens on loopback only; Host ${JSON.stringify(host ?? '')} is not a loopback name` };
}

/** A request that changes something or reads logs: same origin, and the token. */
export function actionRefusal(policy: AccessPolicy, req: http.IncomingMessage): Refusal | undefined {
  if (policy.token === undefined) {
    return { status: 403, message: 'read-only dashboard: immortaldir was started without --http-token-file' };
  }
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, message: `cross-site request refused (Sec-Fetch-Site: ${site})` };
  }
  const origin = header(req, 'origin');
  if (origin !== undefined && !sameOrigin(origin, header(req, 'host'))) {
    return { status: 403, message: `cross-origin request refused (Origin ${origin} is not this dashboard)` };
  }
  const given = header(req, TOKEN_HEADER);
  if (given === undefined || given === '') return { status: 401, message: `token required: send it in the X-Immortal-Token header` };
  if (!tokensEqual(given, policy.token)) return { status: 401, message: 'wrong token' };
  return undefined;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The scheme is not compared: behind a TLS proxy the page is https, we see http. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || origin === 'null') return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * Constant-time whatever the lengths: both sides are hashed first. node:crypto is loaded on
 * the first action, not at start-up: most immortaldirs never see one (0.7 MiB).
 */
function tokensEqual(given: string, expected: string): boolean {
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const digest = (text: string) => crypto.createHash('sha256').update(text).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}
