// Sockets the supervisor holds for its services: TCP listeners (bindTcpListener, localPort,
// closeFd), the sd_notify datagram socket with sender credentials (openNotifySocket,
// watchNotify), and taking a listening fd back from a running child (pidfdGetfd).
import test, { after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

import native from '../dist/native.js';
import { descendantsOf, spawnTracker, tmpdir, waitFor, zombiesOf } from './helpers.mjs';

const children = spawnTracker(native);
const run = promisify(execFile);

/** fd flags from /proc/self/fdinfo (octal): {cloexec, nonblock}. */
function fdFlags(fd) {
  const flags = parseInt(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/flags:\s*([0-7]+)/)[1], 8);
  return { cloexec: (flags & 0o2000000) !== 0, nonblock: (flags & 0o4000) !== 0 };
}

function openFds() {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Connects to 127.0.0.1:port; resolves to everything the server sends before closing. */
function fetchGreeting(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** A node:net server on an fd we own; it answers `greeting` and closes. */
function serveOn(fd, greeting) {
  const server = net.createServer((socket) => socket.end(greeting));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => resolve(server));
  });
}

after(async () => {
  await children.cleanup();
  assert.deepEqual(zombiesOf(process.pid), [], 'zombie children of the test process');
  assert.deepEqual(descendantsOf(process.pid), [], 'leftover processes');
});

describe('bindTcpListener', () => {
  test('127.0.0.1:0 binds a CLOEXEC listener that accepts; localPort tells the port', async () => {
    const fd = native.bindTcpListener('127.0.0.1', 0, 4, 16);
    assert.equal(fdFlags(fd).cloexec, true);
    const port = native.localPort(fd);
    assert.ok(port > 0 && port < 65536);
    const server = await serveOn(fd, 'hi');
    try {
      assert.equal(await fetchGreeting(port), 'hi');
    } finally {
      await new Promise((resolve) => server.close(resolve)); // closes fd
    }
  });

  test('the same port twice: EADDRINUSE with syscall, address and port', () => {
    const fd = native.bindTcpListener('127.0.0.1', 0, 4, 16);
    const port = native.localPort(fd);
    try {
      assert.throws(() => native.bindTcpListener('127.0.0.1', port, 4, 16), (err) => {
        assert.equal(err.code, 'EADDRINUSE');
        assert.equal(err.syscall, 'bind');
        assert.equal(err.address, '127.0.0.1');
        assert.equal(err.port, port);
        assert.equal(err.message, `EADDRINUSE: address already in use, bind '127.0.0.1:${port}'`);
        return true;
      });
    } finally {
      native.closeFd(fd);
    }
  });

  test('connections wait in the backlog while nobody accepts', async () => {
    const fd = native.bindTcpListener('127.0.0.1', 0, 4, 16);
    const port = native.localPort(fd);
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve, reject) => { socket.on('connect', resolve); socket.on('error', reject); });
    socket.destroy();
    native.closeFd(fd);
  });

  test('tcp6 is IPv6 only (V6ONLY): [::]:P and 0.0.0.0:P can both be bound', (t) => {
    let v6;
    try {
      v6 = native.bindTcpListener('::', 0, 6, 16);
    } catch (err) {
      if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') { t.skip(`no IPv6 here: ${err.code}`); return; }
      throw err;
    }
    const port = native.localPort(v6);
    try {
      const v4 = native.bindTcpListener('0.0.0.0', port, 4, 16);
      native.closeFd(v4);
    } finally {
      native.closeFd(v6);
    }
  });

  test('bad input: a name, a wrong family, a port out of range → EINVAL naming the address', () => {
    assert.throws(() => native.bindTcpListener('localhost', 80, 4, 16), { code: 'EINVAL', syscall: 'getaddrinfo', address: 'localhost', port: 80 });
    assert.throws(() => native.bindTcpListener('::1', 80, 4, 16), { code: 'EINVAL', address: '::1' });
    assert.throws(() => native.bindTcpListener('127.0.0.1', 70000, 4, 16), { code: 'EINVAL', port: 70000 });
  });

  test('an address not on this host: EADDRNOTAVAIL', () => {
    assert.throws(() => native.bindTcpListener('192.0.2.1', 0, 4, 16), { code: 'EADDRNOTAVAIL', syscall: 'bind', address: '192.0.2.1' });
  });

  test('localAddress tells family, address, port and whether the fd listens', (t) => {
    const fd = native.bindTcpListener('127.0.0.1', 0, 4, 1);
    try {
      assert.deepEqual(native.localAddress(fd), { family: 4, address: '127.0.0.1', port: native.localPort(fd), listening: true });
    } finally {
      native.closeFd(fd);
    }
    const socketPath = path.join(tmpdir(t), 'n.sock');
    const dgram = native.openNotifySocket(socketPath);
    try {
      assert.deepEqual(native.localAddress(dgram), { family: 'unix', address: socketPath, port: 0, listening: false });
    } finally {
      native.closeFd(dgram);
    }
    let v6;
    try {
      v6 = native.bindTcpListener('::1', 0, 6, 1);
    } catch (err) {
      if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') return; // no IPv6 loopback here
      throw err;
    }
    assert.deepEqual(native.localAddress(v6), { family: 6, address: '::1', port: native.localPort(v6), listening: true });
    native.closeFd(v6);
    const file = fs.openSync('/dev/null', 'r');
    try {
      assert.throws(() => native.localAddress(file), { code: 'ENOTSOCK', syscall: 'getsockname' });
    } finally {
      fs.closeSync(file);
    }
  });

  test('closeFd closes; a second close is EBADF', () => {
    const fd = native.bindTcpListener('127.0.0.1', 0, 4, 1);
    native.closeFd(fd);
    assert.throws(() => native.closeFd(fd), { code: 'EBADF', syscall: 'close' });
  });
});

describe('notify socket (sd_notify)', () => {
  const PY_SEND = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for arg in sys.argv[2:]:
    if arg.startswith('big:'):
        s.sendto(b'x' * int(arg[4:]), sys.argv[1])
    elif arg == 'fds':
        r, w = os.pipe()
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [r, w]))]
        s.sendmsg([b'FDSTORE=1'], rights, 0, sys.argv[1])
    else:
        s.sendto(arg.encode(), sys.argv[1])
print(os.getpid())
`;

  async function pythonSend(socketPath, ...messages) {
    const { stdout } = await run('python3', ['-c', PY_SEND, socketPath, ...messages], { timeout: 20000 });
    return Number(stdout.trim());
  }

  test('READY=1 arrives with the sender\'s pid, uid and gid; flags are nonblock + cloexec', async (t) => {
    const socketPath = path.join(tmpdir(t), 'notify.sock');
    const fd = native.openNotifySocket(socketPath);
    assert.deepEqual(fdFlags(fd), { cloexec: true, nonblock: true });
    assert.equal(fs.statSync(socketPath).isSocket(), true);
    const got = [];
    const watch = native.watchNotify(fd, (msg) => got.push(msg), (err) => got.push(err));
    try {
      const pid = await pythonSend(socketPath, 'READY=1', 'STATUS=loading\nMAINPID=42');
      await waitFor(() => got.length >= 2, { timeout: 5000, message: 'two datagrams' });
      assert.deepEqual(got, [
        { pid, uid: process.getuid(), gid: process.getgid(), text: 'READY=1' },
        { pid, uid: process.getuid(), gid: process.getgid(), text: 'STATUS=loading\nMAINPID=42' },
      ]);
    } finally {
      watch.close();
      watch.close(); // idempotent
      native.closeFd(fd);
    }
  });

  test('over-long datagrams are dropped and passed fds closed; later ones still arrive', async (t) => {
    const socketPath = path.join(tmpdir(t), 'notify.sock');
    const fd = native.openNotifySocket(socketPath);
    const got = [];
    const watch = native.watchNotify(fd, (msg) => got.push(msg.text), (err) => got.push(err));
    const before = openFds();
    try {
      await pythonSend(socketPath, 'big:5000', 'fds', 'WATCHDOG=1');
      await waitFor(() => got.includes('WATCHDOG=1'), { timeout: 5000, message: 'WATCHDOG=1' });
      assert.deepEqual(got, ['FDSTORE=1', 'WATCHDOG=1']);
      assert.equal(openFds(), before, 'fds passed along were closed');
    } finally {
      watch.close();
      native.closeFd(fd);
    }
  });

  test('a burst of messages is drained completely, in order', async (t) => {
    const socketPath = path.join(tmpdir(t), 'notify.sock');
    const fd = native.openNotifySocket(socketPath);
    const got = [];
    const watch = native.watchNotify(fd, (msg) => got.push(msg.text), (err) => got.push(err));
    const sent = Array.from({ length: 200 }, (_, i) => `STATUS=${i}`);
    try {
      await pythonSend(socketPath, ...sent);
      await waitFor(() => got.length >= sent.length, { timeout: 5000, message: '200 datagrams' });
      assert.deepEqual(got, sent);
    } finally {
      watch.close();
      native.closeFd(fd);
    }
  });

  test('close() from inside the callback stops delivery at once', async (t) => {
    const socketPath = path.join(tmpdir(t), 'notify.sock');
    const fd = native.openNotifySocket(socketPath);
    const got = [];
    const watch = native.watchNotify(fd, (msg) => { got.push(msg.text); watch.close(); }, (err) => got.push(err));
    try {
      await pythonSend(socketPath, 'A=1', 'B=2', 'C=3');
      await waitFor(() => got.length >= 1, { timeout: 5000, message: 'first datagram' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(got, ['A=1']);
    } finally {
      native.closeFd(fd);
    }
  });

  test('bad paths: an existing file EADDRINUSE, a missing directory ENOENT, too long ENAMETOOLONG', (t) => {
    const dir = tmpdir(t);
    const existing = path.join(dir, 'taken');
    fs.writeFileSync(existing, '');
    assert.throws(() => native.openNotifySocket(existing), { code: 'EADDRINUSE', syscall: 'bind', path: existing });
    assert.throws(() => native.openNotifySocket(path.join(dir, 'no', 'sock')), { code: 'ENOENT', syscall: 'bind' });
    assert.throws(() => native.openNotifySocket(path.join(dir, 'x'.repeat(120))), { code: 'ENAMETOOLONG' });
  });
});

describe('pidfdGetfd', () => {
  test('a listening fd is taken back from a running child and accepts', async (t) => {
    const listener = native.bindTcpListener('127.0.0.1', 0, 4, 16);
    const port = native.localPort(listener);
    let pid;
    try {
      ({ pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '30'], env: [], stdio: [-1, -1, -1, listener] }));
    } finally {
      native.closeFd(listener); // from here only the child holds the socket
    }
    await waitFor(() => fs.readlinkSync(`/proc/${pid}/fd/3`).startsWith('socket:'), { message: 'child holds fd 3' });
    let fd;
    try {
      fd = native.pidfdGetfd(pid, 3);
    } catch (err) {
      if (err.code === 'ENOSYS') { t.skip('kernel without pidfd_getfd (< 5.6)'); native.kill(pid, 'SIGKILL'); return; }
      throw err;
    }
    assert.equal(fs.readlinkSync(`/proc/self/fd/${fd}`), fs.readlinkSync(`/proc/${pid}/fd/3`), 'the same socket');
    assert.deepEqual(native.localAddress(fd), { family: 4, address: '127.0.0.1', port, listening: true });
    assert.equal(fdFlags(fd).cloexec, true);
    native.kill(pid, 'SIGKILL'); // the service goes; the socket stays open with us
    await waitFor(() => native.reap(pid), { message: `exit of ${pid}` });
    const server = await serveOn(fd, 'taken back');
    try {
      assert.equal(await fetchGreeting(port), 'taken back');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('errors: a closed fd EBADF, a gone pid ESRCH, bad arguments EINVAL', async () => {
    const { pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '30'], env: [] });
    try {
      assert.throws(() => native.pidfdGetfd(pid, 99), { code: 'EBADF', syscall: 'pidfd_getfd' });
    } finally {
      native.kill(pid, 'SIGKILL');
      await waitFor(() => native.reap(pid), { message: `exit of ${pid}` });
    }
    assert.throws(() => native.pidfdGetfd(pid, 3), { code: 'ESRCH', syscall: 'pidfd_open' });
    assert.throws(() => native.pidfdGetfd(0, 3), { code: 'EINVAL' });
  });
});
