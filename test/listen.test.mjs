// `listen:` through the CLI: the supervisor binds the sockets, holds them for the service's
// whole life and passes them with systemd's protocol (fds from 3, LISTEN_FDS, LISTEN_FDNAMES,
// LISTEN_PID = the child's pid: the fixture refuses to serve otherwise). Connections made
// while the service is down wait in the backlog; a supervisor killed -9 takes the same
// sockets back from the running service.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { gone, isRoot, sandbox, status, waitFor, waitForStatus, waitGone } from './cli-helpers.mjs';
import { createUser, removeUser } from './helpers.mjs';
import { askPid, freePort, freePrivilegedPort, LISTEN_SERVER, PYTHON, requestLoop } from './listen-helpers.mjs';

function webYml(box, listen, extra = '', python = PYTHON, server = LISTEN_SERVER) {
  return box.write('web.yml', `cmd: ${python} ${server}\nlisten:\n${listen.map((a) => `  - "${a}"\n`).join('')}${extra}`);
}

/** The fixture copied into the sandbox: a -u user cannot read a checkout under root's 0700 home. */
function serverReadableBy(box) {
  fs.chmodSync(box.dir, 0o755);
  const copy = box.path('listen_server.py');
  fs.copyFileSync(LISTEN_SERVER, copy);
  fs.chmodSync(copy, 0o644);
  return copy;
}

/**
 * kill -9 loses the one request the killed process had accepted (reset, or closed before the
 * answer); every other connection waits in the held socket's backlog: none is refused.
 */
function assertNoneRefused({ failed, total }) {
  assert.deepEqual(failed.filter((why) => /ECONNREFUSED|ENOENT/.test(why)), [], `refused among ${total} requests`);
  assert.ok(failed.length <= 1, `at most the request in flight at the kill fails: ${JSON.stringify(failed)} of ${total}`);
}

test('serves on the held tcp and unix sockets; a kill -9 under a request loop fails no request', async (t) => {
  const box = sandbox(t);
  const port = await freePort();
  const unixPath = box.path('web.sock');
  const file = webYml(box, [`tcp://127.0.0.1:${port}`, `unix:${unixPath}`]);
  const sock = box.ctlSocket('web');
  const run = box.start(['-n', '-c', file, '-ctl', 'web']);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  await run.waitForStdout(/serving 2 sockets/);
  assert.equal(await askPid(port), pid);
  assert.equal(await askPid(unixPath), pid);
  assert.match(run.stdout, new RegExp(`\\['tcp_//127\\.0\\.0\\.1_${port}', 'unix_${unixPath.replace(/[/.]/g, '\\$&')}'\\]`));
  assert.equal(fs.statSync(unixPath).mode & 0o777, 0o660, 'unix sockets are 0660');

  const loop = requestLoop(port);
  t.after(() => loop.stop()); // a failed assertion must not leave it running
  await waitFor(() => loop.result.pids.size > 0 && loop.result.total > 5, { timeout: 15000 });
  process.kill(pid, 'SIGKILL');
  const restarted = await waitForStatus(sock, (s) => s.pid > 0 && s.pid !== pid);
  await waitFor(() => loop.result.pids.has(restarted.pid), { timeout: 15000, message: 'the new instance answers' });
  assertNoneRefused(await loop.stop());

  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  assert.equal(fs.existsSync(unixPath), false, 'the unix file goes with the service');
  await assert.rejects(askPid(port), /ECONNREFUSED/, 'the port is closed once the service is gone');
});

test('a port already in use: one error naming listen and the address, exit 1, nothing started', async (t) => {
  const box = sandbox(t);
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const { port } = blocker.address();
  const file = webYml(box, [`tcp://127.0.0.1:${port}`]);
  const result = await box.run(['-n', '-c', file, '-ctl', 'web']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`web\\.yml: listen: tcp://127\\.0\\.0\\.1:${port}: address already in use`));
  assert.doesNotMatch(result.stderr, /started \d+/);
  assert.deepEqual(box.processes(), []);
});

test('a unix path that cannot be created: one error naming listen and the address, exit 1', async (t) => {
  const box = sandbox(t);
  const port = await freePort();
  const missing = box.path('no-such-dir', 'web.sock');
  const file = webYml(box, [`tcp://127.0.0.1:${port}`, `unix:${missing}`]);
  const result = await box.run(['-n', '-c', file, '-ctl', 'web']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`web\\.yml: listen: unix:${missing.replace(/[/.]/g, '\\$&')}: no such directory`));
  assert.doesNotMatch(result.stderr, /started \d+/);
  // The tcp socket bound before it was closed again.
  await assert.rejects(askPid(port), /ECONNREFUSED/);
});

test('bad addresses are refused by -cc, naming listen and the address', async (t) => {
  const box = sandbox(t);
  const cases = [
    ['tcp://localhost:8080', /listen\[0\]: tcp:\/\/localhost:8080: not a numeric IPv4 address/],
    ['tcp://127.0.0.1:65536', /listen\[0\]: tcp:\/\/127\.0\.0\.1:65536: port must be 0 to 65535/],
    ['tcp://127.0.0.1:http', /port must be 0 to 65535, got "http"/],
    ['udp://127.0.0.1:53', /listen\[0\]: udp:\/\/127\.0\.0\.1:53: unknown scheme udp/],
    ['tcp6://[::g]:80', /not a numeric IPv6 address/],
    ['unix:', /expected unix:\/path/],
  ];
  for (const [address, expected] of cases) {
    const file = webYml(box, [address]);
    const result = await box.run(['-cc', '-c', file]);
    assert.equal(result.code, 1, address);
    assert.match(result.stderr, expected);
    assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${address}`);
  }
  const good = webYml(box, ['tcp6://[0:0::1]:8080', 'unix:///run/x.sock']);
  const printed = await box.run(['-cc', '-c', good]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /listen:\n\s*- tcp6:\/\/\[0:0::1\]:8080\n\s*- unix:\/run\/x\.sock/);
});

test('kill -9 of the supervisor: the new one takes the same sockets back and adopts the service', async (t) => {
  const box = sandbox(t);
  const port = await freePort();
  const file = webYml(box, [`tcp://127.0.0.1:${port}`]);
  const sock = box.ctlSocket('web');
  const first = box.start(['-n', '-c', file, '-ctl', 'web']);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  await first.waitForStdout(/serving 1 sockets/);
  first.kill('SIGKILL');
  await first.waitExit();

  const loop = requestLoop(port);
  t.after(() => loop.stop()); // a failed assertion must not leave it running
  const second = box.start(['-n', '-c', file, '-ctl', 'web']);
  await second.waitForLog(new RegExp(`listen: tcp://127\\.0\\.0\\.1:${port}: taken back from the running service`));
  await second.waitForLog(new RegExp(`adopted pid ${pid}`));
  assert.equal((await status(sock)).pid, pid);
  // A crash after the re-adoption: the new start gets the socket taken back, not a new one.
  process.kill(pid, 'SIGKILL');
  const restarted = await waitForStatus(sock, (s) => s.pid > 0 && s.pid !== pid);
  await waitFor(() => loop.result.pids.has(restarted.pid), { timeout: 15000, message: 'the new instance answers' });
  assertNoneRefused(await loop.stop());

  second.kill('SIGTERM');
  assert.deepEqual(await second.waitExit(), { code: 0, signal: null });
  await waitGone(restarted.pid);
});

// The system's python: the -u user cannot enter a pyenv under /root.
const SYSTEM_PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((file) => fs.existsSync(file));

test('-u: a port below 1024 is bound as root, the unprivileged service serves on it', {
  skip: (!isRoot && 'needs root') || (!SYSTEM_PYTHON && 'no python3 outside a home directory'),
}, async (t) => {
  const box = sandbox(t);
  const user = 'p20listen';
  createUser(user);
  t.after(() => removeUser(user));
  const port = await freePrivilegedPort();
  const unixPath = box.path('web.sock');
  const file = webYml(box, [`tcp://127.0.0.1:${port}`, `unix:${unixPath}`], `user: ${user}\n`, SYSTEM_PYTHON, serverReadableBy(box));
  const sock = box.ctlSocket('web');
  const run = box.start(['-n', '-c', file, '-ctl', 'web']);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  await run.waitForStdout(/serving 2 sockets/);
  assert.equal(await askPid(port), pid);
  const owner = fs.statSync(unixPath);
  assert.notEqual(owner.uid, 0, 'the unix socket belongs to the -u user');
  assert.equal(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)[1], String(owner.uid));
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  assert.ok(gone(pid));
});

test('immortaldir: held for the service\'s life (a crash refuses nothing), upgraded over its socket, closed when its file goes', async (t) => {
  const { startDir, waitPidGone } = await import('./fixtures/dir-harness.mjs');
  const port = await freePort();
  const dir = await startDir(t, { files: { web: `cmd: ${PYTHON} ${LISTEN_SERVER}\nlisten: ["tcp://127.0.0.1:${port}"]\n` } });
  const first = await dir.waitRunning('web');
  await waitFor(async () => (await askPid(port).catch(() => 0)) === first.pid, { timeout: 15000 });
  const loop = requestLoop(port);
  t.after(() => loop.stop()); // a failed assertion must not leave it running
  process.kill(first.pid, 'SIGKILL');
  const second = await dir.waitRunning('web', (s) => s.pid !== first.pid);
  await waitFor(() => loop.result.pids.has(second.pid), { timeout: 15000, message: 'the restarted service answers' });
  assertNoneRefused(await loop.stop());

  const { request } = await import('./cli-helpers.mjs');
  assert.equal(JSON.parse((await request(dir.socket('web'), '/signal/upgrade')).body).Err, '');
  const third = await dir.status('web');
  assert.notEqual(third.pid, second.pid);
  assert.equal(await askPid(port), third.pid);

  dir.remove('web');
  await waitPidGone(third.pid);
  await waitFor(async () => (await askPid(port).then(() => false, (err) => /ECONNREFUSED/.test(err.message))), { timeout: 15000, message: 'the port closed' });
});
