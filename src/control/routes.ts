// What the control socket answers: the Go immortal's routes and JSON bytes, plus /metrics,
// JSON 404/405 answers, and signals refused to peers other than root and the supervisor's
// user. Knows nothing of the socket file; the peer of each connection is told to it.

import type http from 'node:http';
import type net from 'node:net';
import type { PeerCred } from '../native';
import type { ServiceControl } from '../supervise/service';
import { serviceRecord } from './record';
import { dispatchSignal } from './signals';
import { encodeJsonLikeGo, statusJson } from './status';

export interface RouteContext {
  readonly service: ServiceControl;
  /** True once the server is closing: answers then say `Connection: close`. */
  closing(): boolean;
  /** The credentials the kernel gave for the connection's peer, undefined if unknown. */
  peerOf(socket: net.Socket): PeerCred | undefined;
}

type RouteHandler = (ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, path: string) => void;

interface Route {
  matches(path: string): boolean;
  methods: readonly string[];
  handle: RouteHandler;
}

const JSON_CONTENT_TYPE = 'application/json';
const READ_METHODS = ['GET', 'HEAD'];
const SIGNAL_PREFIX = '/signal/';

/** A route answered from the service's state alone: no peer check, nothing to wait for. */
interface StateRoute {
  matches(path: string): boolean;
  contentType: string;
  body(ctx: RouteContext): string;
}

const STATUS_ROUTE: StateRoute = {
  matches: (p) => p === '/' || p === '/status',
  contentType: JSON_CONTENT_TYPE,
  body: (ctx) => statusJson(ctx.service.snapshot(), Date.now()),
};

// The full record (docs/socket.md); `/` and `/status` stay the Go original's bytes.
const RECORD_ROUTE: StateRoute = {
  matches: (p) => p === '/service',
  contentType: JSON_CONTENT_TYPE,
  body: (ctx) => {
    const { service } = ctx;
    return `${JSON.stringify(serviceRecord(service.name, service.snapshot(), Date.now(), { usage: service.usage() }))}\n`;
  },
};

const STATE_ROUTES: readonly StateRoute[] = [STATUS_ROUTE, RECORD_ROUTE];

/**
 * The answer to `GET target` (with its Host header) when a state route serves it, for a
 * caller that answers without node:http (quick-answer.ts); undefined for every other route.
 */
export function stateAnswer(ctx: RouteContext, host: string | undefined, target: string): { contentType: string; body: string } | undefined {
  const path = routePath(host, target);
  const route = STATE_ROUTES.find((candidate) => candidate.matches(path));
  return route && { contentType: route.contentType, body: route.body(ctx) };
}

function serveState(route: StateRoute): RouteHandler {
  return (ctx, _req, res) => sendBody(ctx, res, 200, route.contentType, route.body(ctx));
}

const ROUTES: readonly Route[] = [
  { matches: STATUS_ROUTE.matches, methods: READ_METHODS, handle: serveState(STATUS_ROUTE) },
  { matches: (p) => p === '/metrics', methods: READ_METHODS, handle: serveMetrics },
  { matches: RECORD_ROUTE.matches, methods: READ_METHODS, handle: serveState(RECORD_ROUTE) },
  // Signals change state, so HEAD (which clients and proxies treat as safe) is not accepted.
  { matches: (p) => p.startsWith(SIGNAL_PREFIX), methods: ['GET'], handle: serveSignal },
];

export function handleRequest(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = routePath(req.headers.host, req.url ?? '/');
  const route = ROUTES.find((candidate) => candidate.matches(path));
  if (route === undefined) return sendJson(ctx, res, 404, { Err: `not found: ${path}` });
  const method = req.method ?? 'GET';
  if (!route.methods.includes(method)) {
    res.setHeader('Allow', route.methods.join(', '));
    return sendJson(ctx, res, 405, { Err: `method not allowed: ${method}` });
  }
  try {
    route.handle(ctx, req, res, path);
  } catch (err) {
    sendJson(ctx, res, 500, { Err: `internal error: ${(err as Error).message}` });
  }
}

function routePath(host: string | undefined, target: string): string {
  return curlShorthand(host, requestPath(target));
}

/**
 * The Go client asks for `http://socket//` and `//signal/up` (it joins "/" + path), and the
 * Go server answered those; repeated slashes are therefore folded. A proxy may send the
 * absolute form (`http://host/status`); only its path counts. The query is ignored.
 */
function requestPath(url: string): string {
  const withoutQuery = url.split('?', 1)[0];
  const withoutOrigin = withoutQuery.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  return withoutOrigin.replace(/\/{2,}/g, '/') || '/';
}

/**
 * `curl --unix-socket immortal.sock http:/signal/d` reads "signal" as the host and sends
 * `GET /d` (just as `http:/status` sends `GET /` to host "status"): take it as /signal/d.
 */
function curlShorthand(host: string | undefined, path: string): string {
  return host === 'signal' && /^\/[^/]+$/.test(path) ? `${SIGNAL_PREFIX}${path.slice(1)}` : path;
}

function serveMetrics(ctx: RouteContext, _req: http.IncomingMessage, res: http.ServerResponse): void {
  const { service } = ctx;
  // Loaded on the first /metrics request: most supervisors are never scraped.
  const { METRICS_CONTENT_TYPE, renderMetrics } = require('./metrics') as typeof import('./metrics');
  const body = renderMetrics([{ name: service.name, snapshot: service.snapshot(), usage: service.usage() }], Date.now());
  sendBody(ctx, res, 200, METRICS_CONTENT_TYPE, body);
}

function serveSignal(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
  const refusal = signalRefusal(ctx, req.socket);
  if (refusal) return sendJson(ctx, res, 403, { Err: refusal });
  const name = decodeSignalName(path.slice(SIGNAL_PREFIX.length));
  // The overlapped upgrade answers once it is over (new instance serving, or why not).
  if (name === 'upgrade' && ctx.service.upgrade) {
    void ctx.service.upgrade().then((err) => sendJson(ctx, res, 200, { Err: err }));
    return;
  }
  sendJson(ctx, res, 200, { Err: dispatchSignal(ctx.service, name) });
}

function decodeSignalName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** '' when the peer may send signals (root or the supervisor's user), else the reason. */
function signalRefusal(ctx: RouteContext, socket: net.Socket): string {
  const peer = ctx.peerOf(socket);
  if (peer === undefined) return 'permission denied: peer credentials unknown';
  if (peer.uid === 0 || peer.uid === ctx.service.ownerUid) return '';
  return `permission denied: uid ${peer.uid} may not send signals`;
}

function sendJson(ctx: RouteContext, res: http.ServerResponse, statusCode: number, value: unknown): void {
  sendBody(ctx, res, statusCode, JSON_CONTENT_TYPE, encodeJsonLikeGo(value));
}

function sendBody(ctx: RouteContext, res: http.ServerResponse, statusCode: number, contentType: string, body: string): void {
  res.statusCode = statusCode;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (ctx.closing()) res.setHeader('Connection', 'close');
  res.end(body);
}
