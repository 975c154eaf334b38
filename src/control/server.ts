// HTTP/1.1 on `<supervise dir>/immortal.sock`: the socket file (socket-file.ts) accepts each
// connection in the addon with its peer's credentials; a one-shot status query already
// waiting is answered at once (quick-answer.ts), every other connection is wrapped in a
// public net.Socket and handed to an http.Server with `emit('connection')`, which answers by
// the routes of routes.ts. This file joins them and owns the connections' lifetime.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { PeerCred, UnixConnection } from '../native';
import type { ServiceControl } from '../supervise/service';
import { answerOneShot } from './quick-answer';
import { handleRequest, type RouteContext } from './routes';
import { SocketFile, type SocketFileCheck } from './socket-file';

export type { SocketFileCheck } from './socket-file';

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
  /**
   * Whether the file at socketPath is still the socket this server listens on. A chmod,
   * chown or link from outside keeps it ours ('ours-changed', reported once per change).
   */
  checkSocketFile(): SocketFileCheck;
  /** Stops listening, ends keep-alive connections, removes the socket file if ours. Idempotent. */
  close(): Promise<void>;
}

/** How long close() lets an in-flight response finish before cutting connections. */
const CLOSE_GRACE_MS = 1000;
/**
 * A connection silent this long mid-request or before its first one is closed. Node's own
 * headersTimeout check only runs for servers that listen themselves, so it is set here.
 */
const IDLE_REQUEST_TIMEOUT_MS = 60_000;

export function socketMode(opts: Pick<ControlServerOptions, 'mode' | 'statusOpen'>): number {
  return opts.mode ?? (opts.statusOpen ? 0o666 : 0o600);
}

export async function startControlServer(service: ServiceControl, opts: ControlServerOptions): Promise<ControlServer> {
  const connections = new Connections();
  const ctx: RouteContext = {
    service,
    closing: () => connections.closing,
    peerOf: (socket) => connections.peerOf(socket),
  };
  const server = http.createServer((req, res) => {
    connections.requestStarted(req.socket, res);
    handleRequest(ctx, req, res);
  });
  server.timeout = IDLE_REQUEST_TIMEOUT_MS;
  const socketFile = await SocketFile.open(
    { socketPath: opts.socketPath, mode: socketMode(opts), gid: opts.gid },
    (connection) => connections.adopt(server, connection, ctx),
  );
  let closed: Promise<void> | undefined;
  return {
    socketPath: opts.socketPath,
    checkSocketFile: () => socketFile.check(),
    close() {
      closed ??= (async () => {
        // Responses written from now on say `Connection: close`, so a halt request that
        // closes the server from inside its own handler still gets its answer.
        connections.closing = true;
        socketFile.close();
        await connections.end(CLOSE_GRACE_MS);
      })();
      return closed;
    },
  };
}

/** Every open connection, its peer, and whether a request on it is still being answered. */
class Connections {
  closing = false;
  private readonly peers = new WeakMap<net.Socket, PeerCred>();
  /** Open sockets and how many responses each still owes. */
  private readonly open = new Map<net.Socket, number>();
  private allClosed?: () => void;

  adopt(server: http.Server, connection: UnixConnection, ctx: RouteContext): void {
    // A one-shot status query already waiting is answered without node:http (quick-answer.ts).
    if (!this.closing && answerOneShot(connection.fd, ctx)) return;
    const socket = socketOf(connection);
    if (socket === undefined) return;
    const { uid, gid, pid } = connection;
    this.peers.set(socket, { uid, gid, pid });
    this.open.set(socket, 0);
    socket.once('close', () => {
      this.open.delete(socket);
      if (this.open.size === 0) this.allClosed?.();
    });
    if (this.closing) {
      socket.destroy();
      return;
    }
    server.emit('connection', socket);
  }

  peerOf(socket: net.Socket): PeerCred | undefined {
    return this.peers.get(socket);
  }

  requestStarted(socket: net.Socket, res: http.ServerResponse): void {
    this.open.set(socket, (this.open.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const owed = this.open.get(socket);
      if (owed === undefined) return;
      this.open.set(socket, owed - 1);
      // Answered before closing began, so still keep-alive: nothing more will be served on it.
      if (this.closing && owed === 1) socket.end();
    });
  }

  /** Idle connections now, busy ones after their answer, whatever is left after graceMs. */
  end(graceMs: number): Promise<void> {
    for (const [socket, owed] of this.open) if (owed === 0) socket.destroy();
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        for (const socket of this.open.keys()) socket.destroy();
      }, graceMs);
      force.unref();
      this.allClosed = () => {
        clearTimeout(force);
        resolve();
      };
    });
  }
}

/** An accepted connection as the public net.Socket an http.Server takes with emit('connection'). */
export function socketOf({ fd }: UnixConnection): net.Socket | undefined {
  try {
    // allowHalfOpen as for sockets a net.Server accepts for http: the server decides.
    return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  } catch {
    closeQuietly(fd);
    return undefined;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}
