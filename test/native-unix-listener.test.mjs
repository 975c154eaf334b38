// native.listenUnix: a unix socket bound and accepted in the addon. The file's mode from the
// first instant, accepted fds (CLOEXEC, nonblocking) with their peer's credentials, the probe
// that tells our listener from another one at the same path, and close().
import test, { after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import native from '../dist/native.js';
import { descendantsOf, spawnTracker, tmpdir, waitFor } from './helpers.mjs';

const ENV = ['PATH=/usr/bin:/bin'];
const children = spawnTracker(native);

after(async () => {
  await children.cleanup();
  assert.deepEqual(descendantsOf(process.pid), [], 'leftover processes');
});

function fdFlags(fd) {
  return parseInt(/flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1], 8);
}

/** A listener at <tmp>/s.sock whose connections are collected (and wrapped as net.Sockets). */
function listener(t, opts = { bindUmask: 0o177 }) {
  const socketPath = path.join(tmpdir(t), 's.sock');
  const connections = [];
  const sockets = [];
  const wrap = (connection) => {
    const socket = new net.Socket({ fd: connection.fd, readable: true, writable: true });
    sockets.push(socket);
    return socket;
  };
  const handle = native.listenUnix(socketPath, opts, (connection) => connections.push(connection));
  t.after(() => {
    handle.close();
    for (const socket of sockets) socket.destroy();
  });
  return { socketPath, handle, connections, wrap };
}

function connected(socketPath) {
  return new Promise((resolve, reject) => {
    const client = net.connect(socketPath);
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

describe('listenUnix', () => {
  test('the file is bound with the umask given: 0600 from the first instant, the process umask untouched', (t) => {
    const before = process.umask();
    const { socketPath } = listener(t, { bindUmask: 0o177 });
    assert.equal(fs.lstatSync(socketPath).mode & 0o777, 0o600);
    assert.ok(fs.lstatSync(socketPath).isSocket());
    assert.equal(process.umask(), before);
    const open = listener(t, { bindUmask: 0o111 });
    assert.equal(fs.lstatSync(open.socketPath).mode & 0o777, 0o666);
  });

  test('a connection arrives as a CLOEXEC, nonblocking fd with our uid, gid and pid; it carries data both ways', async (t) => {
    const { socketPath, connections, wrap } = listener(t);
    const client = await connected(socketPath);
    t.after(() => client.destroy());
    await waitFor(() => connections.length === 1, { timeout: 5000, message: 'accepted connection' });
    const [connection] = connections;
    assert.deepEqual({ ...connection, fd: undefined }, { fd: undefined, uid: process.getuid(), gid: process.getgid(), pid: process.pid });
    const flags = fdFlags(connection.fd);
    assert.notEqual(flags & 0o2000000, 0, 'O_CLOEXEC');
    assert.notEqual(flags & 0o4000, 0, 'O_NONBLOCK');
    const server = wrap(connection);
    server.on('data', (chunk) => server.write(`echo ${chunk}`));
    client.write('ping');
    const answer = await new Promise((resolve) => client.once('data', (chunk) => resolve(String(chunk))));
    assert.equal(answer, 'echo ping');
  });

  test('a client in another process: that process\'s pid', async (t) => {
    const { socketPath, connections } = listener(t);
    const script = `require('net').connect(${JSON.stringify(socketPath)}).on('close', () => process.exit(0)).resume();`;
    const { pid } = children.spawn({ file: process.execPath, argv: ['node', '-e', script], env: ENV, stdio: [-1, -1, 2] });
    await waitFor(() => connections.length === 1, { timeout: 5000, message: 'connection from the child' });
    assert.deepEqual({ ...connections[0], fd: undefined }, { fd: undefined, uid: process.getuid(), gid: process.getgid(), pid });
    fs.closeSync(connections[0].fd); // the child sees EOF and exits
    await waitFor(() => native.reap(pid), { timeout: 5000, message: 'exit of the client' });
  });

  test('bind errors are thrown with code, syscall and path; a path too long for sun_path is ENAMETOOLONG', (t) => {
    const { socketPath } = listener(t);
    assert.throws(() => native.listenUnix(socketPath, { bindUmask: 0o177 }, () => {}), { code: 'EADDRINUSE', syscall: 'bind', path: socketPath });
    const missingDir = path.join(path.dirname(socketPath), 'missing', 's.sock');
    assert.throws(() => native.listenUnix(missingDir, { bindUmask: 0o177 }, () => {}), { code: 'ENOENT', syscall: 'bind' });
    assert.throws(() => native.listenUnix(`/tmp/${'x'.repeat(200)}.sock`, { bindUmask: 0o177 }, () => {}), { code: 'ENAMETOOLONG' });
  });

  test('close() refuses new connections at once, keeps the file, and is idempotent', async (t) => {
    const { socketPath, handle } = listener(t);
    handle.close();
    handle.close();
    assert.ok(fs.existsSync(socketPath), 'the file is the caller\'s to remove');
    await assert.rejects(connected(socketPath), { code: 'ECONNREFUSED' });
    assert.throws(() => handle.probe('x'), { code: 'EBADF' });
  });
});

describe('a connection is handed over once its peer has spoken', () => {
  /** The inodes of our open sockets. */
  const openSockets = () => new Set(fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    } catch {
      return undefined; // the directory's own descriptor, closed by now
    }
  }).filter(Boolean));

  test('a request written at once is whole in the socket when the connection arrives; peekConnection leaves it there', async (t) => {
    const { socketPath, connections, wrap } = listener(t);
    const client = await connected(socketPath);
    t.after(() => client.destroy());
    client.write('GET / HTTP/1.0\r\n\r\n');
    await waitFor(() => connections.length === 1, { timeout: 5000, message: 'accepted connection' });
    const buffer = Buffer.alloc(64);
    const peeked = native.peekConnection(connections[0].fd, buffer);
    assert.equal(buffer.toString('latin1', 0, peeked), 'GET / HTTP/1.0\r\n\r\n');
    assert.equal(native.peekConnection(connections[0].fd, buffer), peeked, 'still queued');
    const server = wrap(connections[0]);
    const read = await new Promise((resolve) => server.once('data', (chunk) => resolve(String(chunk))));
    assert.equal(read, 'GET / HTTP/1.0\r\n\r\n', 'and read by whoever wraps the fd');
  });

  test('a silent peer is held, then handed over after about a second; one that hangs up at once, at once', async (t) => {
    const { socketPath, connections } = listener(t);
    const silent = await connected(socketPath);
    t.after(() => silent.destroy());
    const since = Date.now();
    await waitFor(() => connections.length === 1, { timeout: 5000, message: 'the silent connection handed over' });
    assert.ok(Date.now() - since >= 900, `held ${Date.now() - since} ms before it was handed over`);
    assert.equal(native.peekConnection(connections[0].fd, Buffer.alloc(8)), 0, 'nothing sent yet');
    fs.closeSync(connections[0].fd);

    const quitter = await connected(socketPath);
    quitter.end();
    await waitFor(() => connections.length === 2, { timeout: 5000, message: 'the hung-up connection handed over' });
    assert.equal(native.peekConnection(connections[1].fd, Buffer.alloc(8)), 0, 'end of stream');
    fs.closeSync(connections[1].fd);
  });

  test('close() with a connection held: the peer sees it closed, no descriptor is left', async (t) => {
    const { socketPath, handle, connections } = listener(t);
    const before = openSockets();
    const client = await connected(socketPath);
    const closed = new Promise((resolve) => client.once('close', resolve));
    client.resume();
    const added = () => [...openSockets()].filter((inode) => !before.has(inode));
    await waitFor(() => added().length === 2, { timeout: 5000, message: 'the client\'s socket and the held one' });
    const ends = added();
    handle.close();
    await closed;
    assert.deepEqual(connections, [], 'never handed over');
    await waitFor(() => ends.every((inode) => !openSockets().has(inode)), { timeout: 5000, message: 'both ends closed' });
  });
});

describe('probe', () => {
  test('reaches our own listener: "ours", and the probe connection is never delivered', (t) => {
    const { handle, connections } = listener(t);
    assert.deepEqual(handle.probe('HEAD / HTTP/1.0\r\n\r\n'), { verdict: 'ours', accepted: [] });
    assert.deepEqual(connections, []);
  });

  test('through a hard link and after a chmod: still "ours"', (t) => {
    const { socketPath, handle } = listener(t);
    fs.chmodSync(socketPath, 0o660);
    const linked = `${socketPath}.link`;
    fs.linkSync(socketPath, linked);
    fs.unlinkSync(socketPath);
    fs.renameSync(linked, socketPath);
    assert.equal(handle.probe('probe-1').verdict, 'ours');
  });

  test('clients queued before the probe are accepted by it and handed back, not lost', (t) => {
    const { socketPath, handle, connections } = listener(t);
    // Our loop is blocked while the child connects and exits: its connection waits in the queue.
    const script = 'require("net").connect(process.argv[1], () => { process.stdout.write(String(process.pid)); process.exit(0); });';
    const pid = Number(execFileSync(process.execPath, ['-e', script, socketPath], { encoding: 'utf8' }));
    const result = handle.probe('probe-2');
    assert.equal(result.verdict, 'ours');
    assert.equal(result.accepted.length, 1);
    assert.equal(result.accepted[0].pid, pid);
    assert.deepEqual(connections, [], 'not delivered twice');
    fs.closeSync(result.accepted[0].fd);
  });

  test('the file removed: "absent"; another listener at the path: "elsewhere", and it got the message', async (t) => {
    const { socketPath, handle } = listener(t);
    fs.unlinkSync(socketPath);
    assert.equal(handle.probe('probe-3').verdict, 'absent');
    const received = [];
    const other = net.createServer((socket) => {
      let text = '';
      socket.on('data', (chunk) => { text += chunk; }).on('end', () => { received.push(text); socket.end(); });
    });
    await new Promise((resolve) => other.listen(socketPath, resolve));
    t.after(() => new Promise((resolve) => other.close(resolve)));
    assert.equal(handle.probe('probe-4').verdict, 'elsewhere');
    await waitFor(() => received.length === 1, { timeout: 5000, message: 'the other listener reading the probe' });
    assert.deepEqual(received, ['probe-4']);
  });
});
