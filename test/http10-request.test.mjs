// immortalctl's transport (control/http10-request.ts via client.useOneRequestPerConnection):
// one HTTP/1.0 GET per connection against the real control server and plain HTTP servers,
// with the same ControlError kinds as the pooled client.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, test } from 'node:test';

const require = createRequire(import.meta.url);
const client = require('../dist/control/client.js');
const { http10Get } = require('../dist/control/http10-request.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-http10-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function serve(name, handler) {
  const socketPath = path.join(dir, name);
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(socketPath, resolve));
  return { socketPath, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
}

test('status, record and signal over one connection each; the request is HTTP/1.0 and the connection closes', async () => {
  const seen = [];
  const server = await serve('a.sock', (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.httpVersion} ${req.headers.host}`);
    if (req.url === '/') res.end(JSON.stringify({ pid: 7, up: '1s', cmd: 'x', fpid: false, count: 1 }));
    else if (req.url === '/service') { res.statusCode = 404; res.end('{"Err":"no"}'); }
    else res.end(JSON.stringify({ Err: '' }));
  });
  try {
    client.useOneRequestPerConnection();
    assert.equal((await client.getStatus(server.socketPath)).pid, 7);
    assert.equal(await client.getRecord(server.socketPath), undefined);
    assert.deepEqual(await client.sendSignal(server.socketPath, 'down'), { Err: '' });
    assert.deepEqual(seen, ['GET / 1.0 immortal', 'GET /service 1.0 immortal', 'GET /signal/down 1.0 immortal']);
  } finally {
    await server.close();
  }
});

test('a chunked body and a Content-Length body read back whole; an HTTP error carries its reason', async () => {
  const raw = net.createServer((socket) => {
    socket.once('data', (request) => {
      const url = String(request).split(' ')[1];
      if (url === '/chunked') socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n');
      else if (url === '/length') socket.end('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nokTRAILING');
      else socket.end('HTTP/1.0 500 Oops\r\n\r\n{"Err":"it broke"}');
    });
  });
  const socketPath = path.join(dir, 'raw.sock');
  await new Promise((resolve) => raw.listen(socketPath, resolve));
  try {
    const timeoutError = () => new Error('timeout');
    assert.deepEqual(await http10Get(socketPath, '/chunked', 1000, timeoutError), { statusCode: 200, body: 'abcdefg' });
    assert.deepEqual(await http10Get(socketPath, '/length', 1000, timeoutError), { statusCode: 200, body: 'ok' });
    client.useOneRequestPerConnection();
    await assert.rejects(client.getStatus(socketPath), (err) => err instanceof client.ControlError && err.kind === 'protocol' && /HTTP 500: it broke/.test(err.message));
  } finally {
    await new Promise((resolve) => raw.close(resolve));
  }
});

test('missing, stale and silent sockets: the same ControlError kinds as the pooled client', async () => {
  client.useOneRequestPerConnection();
  await assert.rejects(client.getStatus(path.join(dir, 'none.sock')), (err) => err.kind === 'missing');
  const stalePath = path.join(dir, 'stale.sock');
  const stale = net.createServer().listen(stalePath);
  await new Promise((resolve) => stale.once('listening', resolve));
  await new Promise((resolve) => stale.close(resolve));
  fs.closeSync(fs.openSync(stalePath, 'a')); // not a socket any more: connecting is refused
  await assert.rejects(client.getStatus(stalePath), (err) => err instanceof client.ControlError);
  const accepted = new Set();
  const silentPath = path.join(dir, 'silent.sock');
  const silent = net.createServer((socket) => accepted.add(socket)).listen(silentPath);
  await new Promise((resolve) => silent.once('listening', resolve));
  try {
    await assert.rejects(client.getStatus(silentPath, 100), (err) => err instanceof client.ControlError && err.kind === 'timeout');
  } finally {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
