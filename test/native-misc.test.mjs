// reap and the reaper (exit codes, signal names, onChildExit, orphans as subreaper),
// kill/killpg/alive, signal names, flock, peerCred, pipe, lookupUser and dirSignature.
import test, { after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import native from '../dist/native.js';
import {
  descendantsOf, gone, procStat, procStatus, publicPackageRoot, readAll, spawnTracker, tmpdir, waitFor, zombiesOf,
} from './helpers.mjs';

const require = createRequire(import.meta.url);
const DIST = require.resolve('../dist/native.js');
const REAPER = require.resolve('../dist/process/reaper.js');
const HELPERS = new URL('./helpers.mjs', import.meta.url).href;
const ENV = ['PATH=/usr/bin:/bin'];
const children = spawnTracker(native);

function exitOf(pid, timeout = 2000) {
  return waitFor(() => native.reap(pid), { timeout, message: `exit of ${pid}` });
}

/** Runs an ES module script in a fresh node; resolves to its stdout parsed as JSON. */
async function runModule(source, { timeout = 10000 } = {}) {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', source], { timeout });
  return JSON.parse(stdout);
}


after(async () => {
  await children.cleanup();
  assert.deepEqual(zombiesOf(process.pid), [], 'zombie children of the test process');
  assert.deepEqual(descendantsOf(process.pid), [], 'leftover processes');
});

describe('reap', () => {
  test('exit code; null while running; SIGTERM and SIGKILL by name', async () => {
    const { pid: exiting } = children.spawn({ file: '/bin/sh', argv: ['sh', '-c', 'exit 3'], env: ENV });
    assert.deepEqual(await exitOf(exiting), { pid: exiting, code: 3, signal: null });

    for (const sig of ['SIGTERM', 'SIGKILL']) {
      const { pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '30'], env: [] });
      assert.equal(native.reap(pid), null, 'still running');
      native.kill(pid, sig);
      assert.deepEqual(await exitOf(pid), { pid, code: null, signal: sig });
    }
  });

  test('a pid that is not our child (or already reaped) gives null, not an error', async () => {
    assert.equal(native.reap(1), null);
    const { pid } = children.spawn({ file: '/bin/true', argv: ['true'], env: [] });
    await exitOf(pid);
    assert.equal(native.reap(pid), null);
  });
});

describe('reaper (in a fresh node process: it reaps every child of its process)', () => {
  test('onChildExit delivers statuses; orphans are reaped as subreaper; no zombie remains', async () => {
    const result = await runModule(`
      import { createRequire } from 'node:module';
      import { readAll, waitFor, zombiesOf, procStat } from ${JSON.stringify(HELPERS)};
      const require = createRequire(import.meta.url);
      const native = require(${JSON.stringify(DIST)});
      const reaper = require(${JSON.stringify(REAPER)});
      const ENV = ['PATH=/usr/bin:/bin'];
      const out = { subreaper: native.setSubreaper(), noChildren: native.reap(-1) };

      function start(argv, stdio) {
        const { pid } = native.spawn({ file: argv[0], argv, env: ENV, stdio });
        const status = new Promise((resolve) => reaper.onChildExit(pid, resolve));
        return { pid, status };
      }

      // Exited before the reaper was installed (its SIGCHLD went unheard): picked up on the
      // next turn. Must come first: once installed, the reaper reaps every exit it hears of.
      const early = native.spawn({ file: '/bin/true', argv: ['true'], env: ENV });
      await waitFor(() => procStat(early.pid)?.state === 'Z', { message: 'zombie' });
      out.early = await new Promise((resolve) => reaper.onChildExit(early.pid, resolve));

      const code = start(['/bin/sh', '-c', 'exit 7']);
      const term = start(['/bin/sleep', '30']);
      const kill = start(['/bin/sleep', '30']);
      native.kill(term.pid, 'TERM');
      native.kill(kill.pid, 9);
      out.code = await code.status;
      out.term = await term.status;
      out.kill = await kill.status;
      out.pids = [code.pid, term.pid, kill.pid];

      // Many at once: SIGCHLDs coalesce, every status must still arrive.
      const many = Array.from({ length: 20 }, (_, i) => start(['/bin/sh', '-c', 'exit ' + i]));
      out.many = (await Promise.all(many.map((c) => c.status))).map((s) => s.code);

      // The orphan: sh exits at once, its sleep is re-parented to us (subreaper) and reaped.
      const [r, w] = native.pipe();
      const sh = start(['/bin/sh', '-c', 'sleep 0.2 >/dev/null & echo $!; exit 0'], [-1, w, -1]);
      require('node:fs').closeSync(w);
      const orphan = Number((await readAll(r)).trim());
      out.sh = await sh.status;
      out.orphanParentIsUs = procStat(orphan)?.ppid === process.pid;
      out.orphansBefore = reaper.orphansReaped();
      await waitFor(() => reaper.orphansReaped() === 1, { timeout: 3000, message: 'orphan reaped' });
      out.orphansAfter = reaper.orphansReaped();
      out.orphanGone = procStat(orphan) === null;

      // forgetChild: the status is then dropped like an orphan's.
      const forgotten = native.spawn({ file: '/bin/true', argv: ['true'], env: ENV });
      let delivered = false;
      reaper.onChildExit(forgotten.pid, () => { delivered = true; });
      reaper.forgetChild(forgotten.pid);
      await waitFor(() => reaper.orphansReaped() === 2, { message: 'forgotten child reaped' });
      out.forgottenDelivered = delivered;

      out.zombies = zombiesOf(process.pid);
      out.noChildrenAfter = native.reap(-1);
      process.stdout.write(JSON.stringify(out));
      process.exit(0); // the SIGCHLD listener is unref'd, but be explicit`);

    assert.equal(result.subreaper, true);
    assert.equal(result.noChildren, null);
    const [codePid, termPid, killPid] = result.pids;
    assert.deepEqual(result.code, { pid: codePid, code: 7, signal: null });
    assert.deepEqual(result.term, { pid: termPid, code: null, signal: 'SIGTERM' });
    assert.deepEqual(result.kill, { pid: killPid, code: null, signal: 'SIGKILL' });
    assert.equal(result.early.code, 0);
    assert.deepEqual(result.many, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(result.sh.code, 0);
    assert.equal(result.orphanParentIsUs, true, 'orphan re-parented to the subreaper');
    assert.equal(result.orphansBefore, 0);
    assert.equal(result.orphansAfter, 1);
    assert.equal(result.orphanGone, true);
    assert.equal(result.forgottenDelivered, false);
    assert.deepEqual(result.zombies, []);
    assert.equal(result.noChildrenAfter, null);
  });

  test('the SIGCHLD watch keeps nothing alive: once the last child is reaped, node exits by itself', async () => {
    const result = await runModule(`
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const native = require(${JSON.stringify(DIST)});
      const reaper = require(${JSON.stringify(REAPER)});
      const { pid } = native.spawn({ file: '/bin/sh', argv: ['sh', '-c', 'exit 3'], env: [] });
      reaper.onChildExit(pid, (status) => process.stdout.write(JSON.stringify(status)));
      // No process.exit(): an unref'd watch lets the loop end after the status.`);
    assert.equal(result.code, 3);
  });

  test('a child started and registered by an exit handler is delivered too, never taken for an orphan; the keep-alive timer is set once', async () => {
    const result = await runModule(`
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      // The reaper's keep-alive is a setInterval: a restart's handler must not clear and set it again.
      let intervals = 0;
      const realSetInterval = globalThis.setInterval;
      globalThis.setInterval = (...args) => { intervals++; return realSetInterval(...args); };
      const native = require(${JSON.stringify(DIST)});
      const reaper = require(${JSON.stringify(REAPER)});
      const codes = [];
      // Each exit starts the next child from its handler, as a restart does: 20 in a row.
      const next = (n) => {
        const { pid } = native.spawn({ file: '/bin/sh', argv: ['sh', '-c', 'exit ' + n], env: [] });
        reaper.onChildExit(pid, (status) => { codes.push(status.code); if (n < 19) next(n + 1); else done(); });
      };
      const done = () => process.stdout.write(JSON.stringify({ codes, orphans: reaper.orphansReaped(), intervals }));
      // No process.exit(): after the last exit the keep-alive is cleared and node ends by itself.
      next(0);`);
    assert.deepEqual(result, { codes: Array.from({ length: 20 }, (_, i) => i), orphans: 0, intervals: 1 });
  });
});

describe('kill, killpg, alive', () => {
  test('kill delivers the signal (a sh trap writes a file)', async (t) => {
    const file = path.join(tmpdir(t), 'trapped');
    const { pid } = children.spawn({
      file: '/bin/sh',
      argv: ['sh', '-c', 'trap \'echo got-USR1 > "$0"; exit 0\' USR1; while :; do sleep 0.02; done', file],
      env: ENV,
    });
    // The trap is installed once SIGUSR1 (10, bit 9) shows as caught.
    await waitFor(() => (BigInt(`0x${procStatus(pid)?.SigCgt ?? '0'}`) & (1n << 9n)) !== 0n, { message: 'trap installed' });
    native.kill(pid, 'USR1');
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === 'got-USR1\n', { message: 'trap ran' });
    assert.equal((await exitOf(pid)).code, 0);
  });

  test('killpg reaches a grandchild in the same process group', async () => {
    const [r, w] = native.pipe();
    const { pid } = children.spawn({
      file: '/bin/sh', argv: ['sh', '-c', 'sleep 30 >/dev/null & echo $!; exec >&-; wait'], env: ENV, setsid: true, stdio: [-1, w, -1],
    });
    fs.closeSync(w);
    const grandchild = Number((await readAll(r)).trim());
    assert.equal(procStat(grandchild).pgrp, pid);
    native.killpg(pid, 'SIGTERM');
    assert.equal((await exitOf(pid)).signal, 'SIGTERM');
    await waitFor(() => gone(grandchild), { message: `grandchild ${grandchild} killed` });
  });

  test('alive: true while running, false once reaped and for pids <= 0', async () => {
    const { pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '30'], env: [] });
    assert.equal(native.alive(pid), true);
    assert.equal(native.alive(process.pid), true);
    native.kill(pid, 'SIGKILL');
    await exitOf(pid);
    assert.equal(native.alive(pid), false);
    assert.equal(native.alive(0), false);
    assert.equal(native.alive(-1), false);
  });

  // kill(1, 0) fails with EPERM only for a non-root caller: as root, ask from a child as nobody.
  test('EPERM counts as alive', async () => {
    if (process.getuid() !== 0) {
      assert.equal(native.alive(1), true);
      assert.throws(() => native.kill(1, 0), { code: 'EPERM', syscall: 'kill' });
      return;
    }
    // Our code as nobody can read it, wherever the checkout is (root's home is 0700).
    const dist = path.join(publicPackageRoot(), 'dist', 'native.js');
    const [r, w] = native.pipe();
    const script = `const n = require(${JSON.stringify(dist)});
      let kill; try { n.kill(1, 0); kill = 'ok'; } catch (e) { kill = e.code + ' ' + e.syscall; }
      process.stdout.write(JSON.stringify({ uid: process.getuid(), alive: n.alive(1), kill }));`;
    const { pid } = children.spawn({
      file: process.execPath, argv: ['node', '-e', script], env: ENV, cwd: '/', uid: 65534, gid: 65534, stdio: [-1, w, 2],
    });
    fs.closeSync(w);
    const out = JSON.parse(await readAll(r));
    assert.equal((await exitOf(pid, 5000)).code, 0);
    assert.deepEqual(out, { uid: 65534, alive: true, kill: 'EPERM kill' });
  });

  test('kill(0 or -1) and killpg(0, 1 or -1) are refused with EINVAL; a gone pid is ESRCH', async () => {
    for (const pid of [0, -1]) assert.throws(() => native.kill(pid, 'SIGTERM'), { code: 'EINVAL', errno: -22, syscall: 'kill' });
    for (const pgid of [0, 1, -1]) assert.throws(() => native.killpg(pgid, 'SIGTERM'), { code: 'EINVAL', syscall: 'killpg' });
    const { pid } = children.spawn({ file: '/bin/true', argv: ['true'], env: [] });
    await exitOf(pid);
    assert.throws(() => native.kill(pid, 'SIGTERM'), { code: 'ESRCH', errno: -3, syscall: 'kill' });
    assert.throws(() => native.killpg(pid, 'SIGTERM'), { code: 'ESRCH', syscall: 'killpg' });
  });

  test('signal names and numbers', () => {
    assert.equal(native.signalNumber('TERM'), os.constants.signals.SIGTERM);
    assert.equal(native.signalNumber('sigkill'), 9);
    assert.equal(native.signalNumber('SIGHUP'), 1);
    assert.equal(native.signalNumber(0), 0);
    assert.throws(() => native.signalNumber('SIGNOPE'), /unknown signal: SIGNOPE/);
    assert.throws(() => native.kill(process.pid, 'BOGUS'), /unknown signal: BOGUS/);
    assert.equal(native.signalName(15), 'SIGTERM');
    assert.equal(native.signalName(9), 'SIGKILL');
    assert.equal(native.signalName(200), 'SIG200');
  });
});

describe('flock', () => {
  test('a second open file description cannot take the lock (EAGAIN/EWOULDBLOCK) until the first closes', (t) => {
    const file = path.join(tmpdir(t), 'lock');
    const a = fs.openSync(file, 'w');
    const b = fs.openSync(file, 'r');
    t.after(() => fs.closeSync(b));
    native.flock(a);
    native.flock(a); // the holder may re-lock
    assert.throws(() => native.flock(b), (err) => {
      assert.ok(['EAGAIN', 'EWOULDBLOCK'].includes(err.code), err.code);
      assert.equal(err.errno, -os.constants.errno.EWOULDBLOCK);
      assert.equal(err.syscall, 'flock');
      return true;
    });
    fs.closeSync(a);
    native.flock(b);
  });

  test('a lock held by another process blocks ours until that process dies', async (t) => {
    const dir = tmpdir(t);
    const file = path.join(dir, 'lock');
    const marker = path.join(dir, 'locked');
    fs.writeFileSync(file, '');
    const script = `const fs = require('fs'); const n = require(${JSON.stringify(DIST)});
      n.flock(fs.openSync(${JSON.stringify(file)}, 'r')); fs.writeFileSync(${JSON.stringify(marker)}, '');
      setInterval(() => {}, 1000);`;
    const { pid } = children.spawn({ file: process.execPath, argv: ['node', '-e', script], env: ENV, stdio: [-1, -1, 2] });
    await waitFor(() => fs.existsSync(marker), { timeout: 5000, message: 'child holds the lock' });
    const fd = fs.openSync(file, 'r');
    t.after(() => fs.closeSync(fd));
    assert.throws(() => native.flock(fd), { syscall: 'flock' });
    native.kill(pid, 'SIGKILL');
    assert.equal((await exitOf(pid)).signal, 'SIGKILL');
    native.flock(fd); // released by the kernel when the holder died
  });

  test('a bad fd: EBADF', () => {
    assert.throws(() => native.flock(987654), { code: 'EBADF', syscall: 'flock' });
  });
});

describe('peerCred', () => {
  async function server(t) {
    const sock = path.join(tmpdir(t), 's.sock');
    const peers = [];
    const srv = net.createServer((socket) => {
      peers.push(native.peerCred(socket._handle.fd));
      socket.end();
    });
    await new Promise((resolve) => srv.listen(sock, resolve));
    t.after(() => new Promise((resolve) => srv.close(resolve)));
    return { sock, peers };
  }

  test('a client in this process: our uid, gid and pid (both ends)', async (t) => {
    const { sock, peers } = await server(t);
    const client = net.connect(sock);
    await new Promise((resolve) => client.on('connect', resolve));
    const fromClient = native.peerCred(client._handle.fd);
    await new Promise((resolve) => client.on('close', resolve).resume());
    const self = { uid: process.getuid(), gid: process.getgid(), pid: process.pid };
    assert.deepEqual(peers, [self]);
    assert.deepEqual(fromClient, self);
  });

  test('a client in another process: that process\'s pid', async (t) => {
    const { sock, peers } = await server(t);
    const script = `require('net').connect(${JSON.stringify(sock)}).on('close', () => process.exit(0)).resume();`;
    const { pid } = children.spawn({ file: process.execPath, argv: ['node', '-e', script], env: ENV, stdio: [-1, -1, 2] });
    await waitFor(() => peers.length === 1, { timeout: 5000, message: 'connection' });
    assert.deepEqual(peers[0], { uid: process.getuid(), gid: process.getgid(), pid });
    assert.equal((await exitOf(pid, 5000)).code, 0);
  });

  test('not a socket: ENOTSOCK', () => {
    const [r, w] = native.pipe();
    try {
      assert.throws(() => native.peerCred(r), { code: 'ENOTSOCK', syscall: 'getsockopt' });
    } finally {
      fs.closeSync(r);
      fs.closeSync(w);
    }
  });
});

test('pipe() returns two distinct CLOEXEC fds that carry data', () => {
  const [r, w] = native.pipe();
  try {
    assert.ok(r >= 0 && w >= 0 && r !== w);
    for (const fd of [r, w]) {
      const flags = parseInt(/flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1], 8);
      assert.notEqual(flags & 0o2000000, 0, `fd ${fd} has O_CLOEXEC`);
    }
    assert.match(fs.readlinkSync(`/proc/self/fd/${r}`), /^pipe:/);
    fs.writeSync(w, 'ping');
    const buf = Buffer.alloc(4);
    assert.equal(fs.readSync(r, buf), 4);
    assert.equal(buf.toString(), 'ping');
  } finally {
    fs.closeSync(r);
    fs.closeSync(w);
  }
});

test('trimMalloc gives the C heap\'s free pages back to the kernel', { skip: process.platform !== 'linux' && 'glibc malloc_trim (Linux)' }, async () => {
  // 50 MiB of 64 KiB buffers (C-heap chunks, under malloc's mmap threshold), every eighth
  // kept so the free ones lie between live ones; collected, they stay with malloc until trimmed.
  const source = `
    import fs from 'node:fs';
    import native from ${JSON.stringify(DIST)};
    const anonKb = () => Number(/RssAnon:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
    const kept = [];
    for (let i = 0; i < 800; i++) {
      const chunk = Buffer.allocUnsafeSlow(64 * 1024).fill(1);
      if (i % 8 === 0) kept.push(chunk);
    }
    for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((wake) => setTimeout(wake, 50)); }
    const before = anonKb();
    const trimmed = native.trimMalloc();
    process.stdout.write(JSON.stringify({ before, trimmed, after: anonKb(), kept: kept.length }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--input-type=module', '-e', source], { timeout: 20000 });
  const { before, trimmed, after } = JSON.parse(stdout);
  assert.equal(trimmed, true);
  assert.ok(before - after > 10 * 1024, `anonymous RSS ${before} kB → ${after} kB`);
});

test('unmapFilePages unmaps start-up\'s file pages and keeps private copies; the process runs on', { skip: process.platform !== 'linux' && '/proc/self/pagemap (Linux)' }, async () => {
  // The node binary's read-only mappings: what is mapped of them, and the private copies in
  // them (relocated read-only data: dropping those would bring back unrelocated bytes).
  const source = `
    import fs from 'node:fs';
    import http from 'node:http';
    import native from ${JSON.stringify(DIST)};
    const binary = fs.realpathSync(process.execPath);
    function nodeMappings() {
      const totals = { rssKb: 0, privateCopyKb: 0 };
      let ours = false;
      for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
        const head = /^[0-9a-f]+-[0-9a-f]+ (\\S+) \\S+ \\S+ \\S+\\s*(.*)$/.exec(line);
        if (head) { ours = head[2] === binary && !head[1].includes('w'); continue; }
        const field = /^(Rss|Anonymous):\\s+(\\d+)/.exec(line);
        if (ours && field) totals[field[1] === 'Rss' ? 'rssKb' : 'privateCopyKb'] += Number(field[2]);
      }
      return totals;
    }
    const before = nodeMappings();
    const released = native.unmapFilePages();
    const after = nodeMappings();
    // What start-up mapped and never ran again: the process must work on without it.
    const server = http.createServer((req, res) => res.end(new Intl.NumberFormat('en').format(1234.5)));
    await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
    const body = await new Promise((done, failed) => http.get({ port: server.address().port, host: '127.0.0.1' }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => done(text));
    }).on('error', failed));
    server.close();
    globalThis.gc();
    process.stdout.write(JSON.stringify({ before, released, after, body }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--input-type=module', '-e', source], { timeout: 20000 });
  const { before, released, after, body } = JSON.parse(stdout);
  assert.ok(released > 8 * 1024 * 1024, `unmapped ${released} bytes`);
  assert.ok(before.rssKb - after.rssKb > 8 * 1024, `node's read-only mappings: ${before.rssKb} kB → ${after.rssKb} kB`);
  assert.equal(after.privateCopyKb, before.privateCopyKb, 'private copies in read-only mappings are kept');
  assert.equal(body, '1,234.5');
});

describe('lookupUser', () => {
  test('by name and by uid', () => {
    const root = native.lookupUser('root');
    assert.equal(root.name, 'root');
    assert.equal(root.uid, 0);
    assert.equal(root.gid, 0);
    assert.equal(root.home, '/root');
    assert.ok(root.shell.length > 0);
    assert.ok(root.groups.includes(0));
    assert.deepEqual(native.lookupUser(0), root);
    const me = os.userInfo();
    assert.equal(native.lookupUser(me.username).uid, me.uid);
    assert.equal(native.lookupUser(me.uid).name, me.username);
  });

  test('unknown user: ENOUSER with the name in the message', () => {
    assert.throws(() => native.lookupUser('immortal_no_such_user'), (err) => {
      assert.equal(err.code, 'ENOUSER');
      assert.match(err.message, /immortal_no_such_user/);
      return true;
    });
    assert.throws(() => native.lookupUser(3999999), { code: 'ENOUSER', message: /3999999/ });
  });
});

test('dirSignature: sorted names with their stat, symlinks followed, the newest change; opendir errors named', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-dirsig-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'b.yml'), 'x');
  fs.writeFileSync(path.join(dir, 'a.yml'), 'yy');
  fs.symlinkSync(path.join(dir, 'a.yml'), path.join(dir, 'link.yml'));
  fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling.yml'));
  const { signature, newestChangeMs } = native.dirSignature(dir, '.yml');
  const lines = signature.split('\n').slice(0, -1).map((line) => line.split('\0'));
  assert.deepEqual(lines.map(([name]) => name), ['a.yml', 'b.yml', 'link.yml'], 'a dangling link is left out');
  const a = fs.statSync(path.join(dir, 'a.yml'), { bigint: true });
  assert.equal(lines[0][1], `${lines[0][1].split(':')[0]}:${a.ino}:2:${a.mtimeNs}:${a.ctimeNs}`);
  assert.equal(lines[2][1], lines[0][1], 'the link is signed as its target');
  const newest = Math.max(...['a.yml', 'b.yml'].map((f) => fs.statSync(path.join(dir, f))).flatMap((s) => [s.mtimeMs, s.ctimeMs]));
  assert.ok(Math.abs(newestChangeMs - newest) < 1, `${newestChangeMs} vs ${newest}`);
  assert.throws(() => native.dirSignature(path.join(dir, 'missing'), '.yml'), { code: 'ENOENT', syscall: 'opendir', path: path.join(dir, 'missing') });
  assert.throws(() => native.dirSignature(dir), { name: 'TypeError' });
});
