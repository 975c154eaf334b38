// The dashboard's HTTP routes, the same on --http and on immortaldir.sock:
//   GET  /  /dashboard.css  /dashboard.js     the page (self-contained: nothing from elsewhere)
//   GET  /events                              server-sent events (events.ts)
//   GET  /api/services[/NAME]                 records (control/record.ts)
//   GET  /metrics                             every service in one Prometheus exposition
//   GET  /api/services/NAME/log?lines=N       last lines of its log file (token)
//   POST /api/services/NAME/ACTION            start, stop, restart, once, HUP, KILL… (token)

import type http from 'node:http';
import { renderMetrics, METRICS_CONTENT_TYPE } from '../control/metrics';
import { lastLines } from '../control/logs';
import { serviceRecords, type DashboardSource } from './source';
import { dispatchSignal, isSignalName } from '../control/signals';
import { actionRefusal, hostRefusal, type AccessPolicy } from './access';
import type { EventHub } from './events';
import { PAGE_CSS, PAGE_HTML } from './page';
import { PAGE_SCRIPT } from './page-script';

export interface RouteContext {
  source: DashboardSource;
  hub: EventHub;
  policy: AccessPolicy;
}

/** Actions a page may ask for: every socket signal name except `exit`, which only abandons. */
const REFUSED_ACTIONS = new Set(['x', 'exit']);
const MAX_LOG_LINES = 1000;
const DEFAULT_LOG_LINES = 100;

const PAGE_SECURITY = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

const STATIC: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/index.html': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/dashboard.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
  '/dashboard.js': { type: 'text/javascript; charset=utf-8', body: PAGE_SCRIPT },
};

export function handleDashboardRequest(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  try {
    route(ctx, req, res);
  } catch (err) {
    send(res, 500, { Err: `internal error: ${(err as Error).message}` });
  }
}

function route(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const refusedHost = hostRefusal(ctx.policy, req);
  if (refusedHost) return send(res, refusedHost.status, { Err: refusedHost.message });
  const url = new URL(req.url ?? '/', 'http://dashboard');
  const path = url.pathname.replace(/\/{2,}/g, '/');
  const method = req.method ?? 'GET';
  const isRead = method === 'GET' || method === 'HEAD';

  const asset = STATIC[path];
  if (asset) return isRead ? sendText(res, 200, asset.type, asset.body, PAGE_SECURITY) : notAllowed(res, 'GET, HEAD');
  if (path === '/events') return method === 'GET' ? ctx.hub.add(req, res) : notAllowed(res, 'GET');
  if (path === '/metrics') {
    if (!isRead) return notAllowed(res, 'GET, HEAD');
    const sources = ctx.source.listing().flatMap((l) => (l.service ? [{ name: l.name, snapshot: l.service.snapshot(), usage: l.service.usage() }] : []));
    return sendText(res, 200, METRICS_CONTENT_TYPE, renderMetrics(sources, Date.now()));
  }
  if (path === '/api/services') {
    if (!isRead) return notAllowed(res, 'GET, HEAD');
    const now = Date.now();
    return send(res, 200, { now, dir: ctx.source.dir, actions: ctx.policy.token !== undefined, services: serviceRecords(ctx.source, now) });
  }
  const parts = /^\/api\/services\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (!parts) return send(res, 404, { Err: `not found: ${path}` });
  const name = decodeURIComponent(parts[1]);
  const record = serviceRecords(ctx.source, Date.now()).find((r) => r.name === name);
  if (!record) return send(res, 404, { Err: `unknown service: ${name}` });
  const sub = parts[2] === undefined ? undefined : decodeURIComponent(parts[2]);
  if (sub === undefined) return isRead ? send(res, 200, record) : notAllowed(res, 'GET, HEAD');
  if (sub === 'log') {
    if (!isRead) return notAllowed(res, 'GET, HEAD');
    return serveLog(ctx, req, res, record.logFile, url.searchParams.get('lines'));
  }
  if (method !== 'POST') return notAllowed(res, 'POST');
  const refused = actionRefusal(ctx.policy, req);
  if (refused) return send(res, refused.status, { Err: refused.message });
  if (!isSignalName(sub) || REFUSED_ACTIONS.has(sub)) return send(res, 400, { Err: `unknown action: ${sub}` });
  const service = ctx.source.control(name);
  if (!service) return send(res, 409, { Err: `${name} has no running supervisor (${record.error ?? 'starting'})` });
  // The body is not used; reading it lets keep-alive go on.
  req.resume();
  send(res, 200, { Err: dispatchSignal(service, sub) });
}

function serveLog(
  ctx: RouteContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  logFile: string | null,
  linesParam: string | null,
): void {
  const refused = actionRefusal(ctx.policy, req);
  if (refused) return send(res, refused.status, { Err: refused.message });
  if (logFile === null) return send(res, 404, { Err: 'this service has no log file (no log: in its run.yml)' });
  const lines = Math.min(MAX_LOG_LINES, linesParam !== null && /^\d+$/.test(linesParam) ? Number(linesParam) : DEFAULT_LOG_LINES);
  try {
    const tail = lastLines(logFile, lines);
    send(res, 200, { file: logFile, text: tail.text.toString('utf8') });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    send(res, 404, { Err: `${logFile}: ${e.code ?? e.message}` });
  }
}

function notAllowed(res: http.ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  send(res, 405, { Err: `method not allowed; use ${allow}` });
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  sendText(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}

function sendText(res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
