// The dashboard's listeners: `--http ADDRESS` (TCP, loopback unless an address says
// otherwise) and `<supervise root>/immortaldir.sock` (mode 0600, for nginx and immortalctl).
// Both serve the same routes (routes.ts) under the same access rules (access.ts), except that
// the Host check against DNS rebinding applies only to a loopback TCP listener.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { socketOf } from '../control/server';
import { SocketFile } from '../control/socket-file';
import { formatHostPort, isLoopbackHost, type HttpAddress } from './address';
import { EventHub } from './events';
import { handleDashboardRequest } from './routes';
import type { DashboardSource } from './source';

export const DASHBOARD_SOCKET_NAME = 'immortaldir.sock';

export interface DashboardOptions {
  source: DashboardSource;
  /** Token for actions; undefined = read-only. */
  token?: string;
  http?: HttpAddress;
  /** The supervise root; the socket is <root>/immortaldir.sock. */
  socketRoot?: string;
  /** Group that may connect too (mode 0660 instead of 0600), e.g. nginx's. */
  socketGid?: number;
  log: (line: string) => void;
}

export interface Dashboard {
  /** http://HOST:PORT/ with the real port (for --http :0). */
  readonly url?: string;
  readonly socketPath?: string;
  close(): Promise<void>;
}

/** Fails (one line) when --http cannot listen; a socket that cannot be made is logged and skipped. */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const hub = new EventHub(opts.source, { actions: opts.token !== undefined });
  const servers: http.Server[] = [];
  let url: string | undefined;
  let socketPath: string | undefined;
  let socketFile: SocketFile | undefined;
  const access = opts.token === undefined ? 'read-only' : 'actions need the token';
  if (opts.http) {
    const { host, port } = opts.http;
    const loopbackOnly = isLoopbackHost(host);
    const server = http.createServer((req, res) => handleDashboardRequest({ source: opts.source, hub, policy: { token: opts.token, loopbackOnly } }, req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`--http ${formatHostPort(host, port)}: cannot listen: ${err.code ?? err.message}`)));
      server.listen(port, host, () => resolve());
    });
    servers.push(server);
    const bound = server.address() as { port: number };
    url = `http://${formatHostPort(host, bound.port)}/`;
    opts.log(`dashboard on ${url} (${access})`);
  }
  if (opts.socketRoot) {
    const file = path.join(opts.socketRoot, DASHBOARD_SOCKET_NAME);
    const server = http.createServer((req, res) => handleDashboardRequest({ source: opts.source, hub, policy: { token: opts.token, loopbackOnly: false } }, req, res));
    try {
      fs.mkdirSync(opts.socketRoot, { recursive: true });
      // Bound private by the addon, then opened to the group: as the services' own sockets.
      socketFile = await SocketFile.open(
        { socketPath: file, mode: opts.socketGid === undefined ? 0o600 : 0o660, gid: opts.socketGid },
        (connection) => {
          const socket = socketOf(connection);
          if (socket) server.emit('connection', socket);
        },
      );
      servers.push(server);
      socketPath = file;
      opts.log(`dashboard on unix:${file} (${access})`);
    } catch (err) {
      // The services matter more than their page: run on without this socket.
      opts.log(`dashboard socket ${file} not available: ${(err as Error).message}`);
    }
  }
  let closed: Promise<void> | undefined;
  return {
    url,
    socketPath,
    close() {
      closed ??= (async () => {
        hub.close();
        // Removed only while it is still ours: another immortaldir may have bound the path since.
        socketFile?.close();
        await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        })));
      })();
      return closed;
    },
  };
}

