// HTTP/1.1 on `<supervise dir>/immortal.sock`: the Go immortal's routes and JSON, plus what the
// original lacked: a private socket mode from the first instant, peer-credential checks on
// signals, a metrics route, and replacement of a stale socket left by a killed supervisor.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { ServiceControl } from '../supervise/service';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics';
import { dispatchSignal } from './signals';
import { encodeJsonLikeGo, statusJson } from './status';

export interface ControlServerOptions {
  socketPath: string;
  /** Socket file mode; default 0o600, or 0o666 with statusOpen. */
  mode?: number;
  /** Group owner of the socket file (e.g. for mode 0o660). */
  gid?: number;
  /** Let any local user read status and metrics (mode 0o666); signals stay peer-checked. */
  statusOpen?: boolean;
}

export interface ControlServer {
  readonly socketPath: string;
  /** True while the file at socketPath is the socket this server bound: not removed, not replaced. */
  ownsSocketFile(): boolean;
  /** Stops listening, ends keep-alive connections, removes the socket file. Idempotent. */
  close(): Promise<void>;
}

/** How long an existing socket may take to accept before we call it neither live nor stale. */
const PROBE_TIMEOUT_MS = 1000;
/** How long close() lets an in-flight response finish before cutting connections. */
const CLOSE_GRACE_MS = 1000;
const JSON_CONTENT_TYPE = 'application/json';

interface ServerState {
  service: ServiceControl;
  closing: boolean;
  peerUids: WeakMap<net.Socket, number | Error>;
}

export async function startControlServer(
  service: ServiceControl,
  opts: ControlServerOptions,
): Promise<ControlServer> {
  const state: ServerState = { service, closing: false, peerUids: new WeakMap() };
  const server = http.createServer((req, res) => handleRequest(state, req, res));
  await removeStaleSocket(opts.socketPath);
  await listenPrivately(server, opts.socketPath);
  try {
    applySocketPermissions(opts);
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    unlinkQuietly(opts.socketPath);
    throw err;
  }
  const { ino, ctimeMs } = fs.statSync(opts.socketPath);
  return controlHandle(server, state, opts.socketPath, { ino, ctimeMs });
}

// ---- socket file lifecycle -------------------------------------------------------------

/** A socket nobody answers on is left over from a killed supervisor; a live one is refused. */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) {
    throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await isSocketLive(socketPath)) {
    const err = new Error(`another supervisor is listening on ${socketPath}`) as NodeJS.ErrnoException;
    err.code = 'EADDRINUSE';
    throw err;
  }
  unlinkQuietly(socketPath);
}

function isSocketLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path: socketPath });
    const timer = setTimeout(() => {
      probe.destroy();
      reject(new Error(`${socketPath} did not accept a connection within ${PROBE_TIMEOUT_MS} ms`));
    }, PROBE_TIMEOUT_MS);
    const settle = (live: boolean | Error) => {
      clearTimeout(timer);
      probe.destroy();
      if (live instanceof Error) reject(live);
      else resolve(live);
    };
    probe.once('connect', () => settle(true));
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') settle(false);
      // A full accept backlog still means someone is listening.
      else if (err.code === 'EAGAIN') settle(true);
      else settle(new Error(`cannot probe ${socketPath}: ${err.message}`));
    });
  });
}

/**
 * bind() creates the socket file with the process umask; a tight umask around it keeps the
 * file private from the first instant instead of open until chmod. Node binds a path
 * synchronously inside listen(), so the umask is restored before any other code runs.
 */
export function listenPrivately(server: http.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
    const previousUmask = setUmask(0o177);
    try {
      server.listen(socketPath);
    } finally {
      if (previousUmask !== undefined) setUmask(previousUmask);
    }
  });
}

/** process.umask(mask) throws in worker threads; chmod after listen still applies there. */
function setUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
  }
}

function applySocketPermissions(opts: ControlServerOptions): void {
  if (opts.gid !== undefined) fs.chownSync(opts.socketPath, -1, opts.gid);
  fs.chmodSync(opts.socketPath, socketMode(opts));
}

export function socketMode(opts: Pick<ControlServerOptions, 'mode' | 'statusOpen'>): number {
  return opts.mode ?? (opts.statusOpen ? 0o666 : 0o600);
}

function unlinkQuietly(socketPath: string): void {
  try {
    fs.unlinkSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Inode numbers are reused as soon as freed; with the change time they name one file. */
interface FileIdentity {
  ino: number;
  ctimeMs: number;
}

function isSameFile(file: string, identity: FileIdentity): boolean {
  try {
    const now = fs.lstatSync(file);
    return now.ino === identity.ino && now.ctimeMs === identity.ctimeMs;
  } catch {
    return false;
  }
}

function controlHandle(server: http.Server, state: ServerState, socketPath: string, identity: FileIdentity): ControlServer {
  let closed: Promise<void> | undefined;
  return {
    socketPath,
    ownsSocketFile: () => isSameFile(socketPath, identity),
    close() {
      closed ??= new Promise<void>((resolve) => {
        // Responses written after this point say `Connection: close`, so a halt request
        // that closes the server from inside its own handler still gets its answer.
        state.closing = true;
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          // Only our own socket file: a successor may already have bound the path.
          if (isSameFile(socketPath, identity)) unlinkQuietly(socketPath);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

// ---- requests ----------------------------------------------------------------------------

type RouteHandler = (state: ServerState, req: http.IncomingMessage, res: http.ServerResponse, path: string) => void;

interface Route {
  matches(path: string): boolean;
  methods: readonly string[];
  handle: RouteHandler;
}

const READ_METHODS = ['GET', 'HEAD'];
const SIGNAL_PREFIX = '/signal/';

const ROUTES: readonly Route[] = [
  { matches: (p) => p === '/' || p === '/status', methods: READ_METHODS, handle: serveStatus },
  { matches: (p) => p === '/metrics', methods: READ_METHODS, handle: serveMetrics },
  // Signals change state, so HEAD (which clients and proxies treat as safe) is not accepted.
  { matches: (p) => p.startsWith(SIGNAL_PREFIX), methods: ['GET'], handle: serveSignal },
];

function handleRequest(state: ServerState, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = curlShorthand(req.headers.host, requestPath(req.url ?? '/'));
  const route = ROUTES.find((candidate) => candidate.matches(path));
  if (route === undefined) return sendJson(state, res, 404, { Err: `not found: ${path}` });
  const method = req.method ?? 'GET';
  if (!route.methods.includes(method)) {
    res.setHeader('Allow', route.methods.join(', '));
    return sendJson(state, res, 405, { Err: `method not allowed: ${method}` });
  }
  try {
    route.handle(state, req, res, path);
  } catch (err) {
    sendJson(state, res, 500, { Err: `internal error: ${(err as Error).message}` });
  }
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

function serveStatus(state: ServerState, _req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = statusJson(state.service.snapshot(), Date.now());
  sendBody(state, res, 200, JSON_CONTENT_TYPE, body);
}

function serveMetrics(state: ServerState, _req: http.IncomingMessage, res: http.ServerResponse): void {
  const { service } = state;
  const body = renderMetrics([{ name: service.name, snapshot: service.snapshot() }], Date.now());
  sendBody(state, res, 200, METRICS_CONTENT_TYPE, body);
}

function serveSignal(state: ServerState, req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
  const refusal = signalRefusal(state, req.socket);
  if (refusal) return sendJson(state, res, 403, { Err: refusal });
  const name = decodeSignalName(path.slice(SIGNAL_PREFIX.length));
  sendJson(state, res, 200, { Err: dispatchSignal(state.service, name) });
}

function decodeSignalName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

// ---- peer credentials -------------------------------------------------------------------

/** '' when the peer may send signals (root or the supervisor's user), else the reason. */
function signalRefusal(state: ServerState, socket: net.Socket): string {
  const uid = peerUid(state, socket);
  if (uid instanceof Error) return `permission denied: cannot read peer credentials (${uid.message})`;
  if (uid === 0 || uid === state.service.ownerUid) return '';
  return `permission denied: uid ${uid} may not send signals`;
}

/** Asked once per connection: the peer of a connected socket cannot change. */
function peerUid(state: ServerState, socket: net.Socket): number | Error {
  let uid = state.peerUids.get(socket);
  if (uid === undefined) {
    uid = readPeerUid(socket);
    state.peerUids.set(socket, uid);
  }
  return uid;
}

function readPeerUid(socket: net.Socket): number | Error {
  const fd: unknown = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return new Error('no file descriptor');
  try {
    // Loaded on first use: status-only users (tests, tools) need not have the addon built.
    const native: typeof import('../native') = require('../native');
    return native.peerCred(fd).uid;
  } catch (err) {
    return err as Error;
  }
}

// ---- responses ----------------------------------------------------------------------------

function sendJson(state: ServerState, res: http.ServerResponse, statusCode: number, value: unknown): void {
  sendBody(state, res, statusCode, JSON_CONTENT_TYPE, encodeJsonLikeGo(value));
}

function sendBody(
  state: ServerState,
  res: http.ServerResponse,
  statusCode: number,
  contentType: string,
  body: string,
): void {
  res.statusCode = statusCode;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (state.closing) res.setHeader('Connection', 'close');
  res.end(body);
}
