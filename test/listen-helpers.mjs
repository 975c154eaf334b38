// Helpers for the `listen:` tests: the fixture server (it speaks systemd's socket protocol
// and answers each request with its pid), free ports, and a sequential request loop that
// counts the requests that failed while a test crashes, restarts or upgrades the service.

import { execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { FIXTURE_DIR } from './cli-helpers.mjs';

/**
 * The real interpreter, not a pyenv shim: re-adoption matches a process's argv with `cmd`,
 * and a shim execs the interpreter under another argv[0].
 */
export const PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
export const LISTEN_SERVER = `${FIXTURE_DIR}listen_server.py`;

/** A port free right now on 127.0.0.1 (the kernel's pick, released again). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A free port below 1024 (root only): tried from 1023 down. */
export async function freePrivilegedPort() {
  for (let port = 1023; port > 900; port--) {
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.on('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 901..1023');
}

/** GET / → the answering pid; rejects on a refused or broken connection. */
export function askPid(target, timeoutMs = 10000) {
  const where = typeof target === 'number' ? { host: '127.0.0.1', port: target } : { socketPath: target };
  return new Promise((resolve, reject) => {
    const req = http.get({ ...where, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(body.trim())) : reject(new Error(`status ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/**
 * Requests one after another until stop() is called: how many there were, which failed (and
 * why), and the pids that answered, in order.
 */
export function requestLoop(target) {
  const result = { total: 0, failed: [], pids: new Set() };
  let running = true;
  const done = (async () => {
    while (running) {
      result.total++;
      try {
        result.pids.add(await askPid(target));
      } catch (err) {
        result.failed.push(err.message);
      }
    }
  })();
  return {
    result,
    async stop() {
      running = false;
      await done;
      return result;
    },
  };
}
