// Readiness, health and the watchdog through the real CLIs (docs/readiness.md, SPEC §8,
// issue 14): `ready:` notify systemd / fd:N / probes, daemon mode waiting for ready, a start
// not ready in time failing cleanly, health and watchdog restarts, MAINPID= followed, and
// `require:` waiting for ready. The services are fixtures: sd_notify_service.py,
// notify_fd.sh, health_server.py; each is made ready by a file the test creates.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEADLINE_MS, FIXTURE_DIR, gone, isRoot, request, sandbox, waitFor } from './cli-helpers.mjs';
import { createUser, removeUser } from './helpers.mjs';
import { startDir } from './fixtures/dir-harness.mjs';

const NOTIFY_SERVICE = path.join(FIXTURE_DIR, 'sd_notify_service.py');
const NOTIFY_FD = path.join(FIXTURE_DIR, 'notify_fd.sh');
const HEALTH_SERVER = path.join(FIXTURE_DIR, 'health_server.py');

async function record(socketPath) {
  const { statusCode, body } = await request(socketPath, '/service');
  assert.equal(statusCode, 200, body);
  return JSON.parse(body);
}

/** Polls /service until pred holds; socket errors count as "not yet". */
async function waitForRecord(socketPath, pred, message) {
  let last;
  try {
    return await waitFor(async () => {
      try {
        last = await record(socketPath);
      } catch {
        return false;
      }
      return pred(last) ? last : false;
    }, { timeout: DEADLINE_MS, interval: 20, message });
  } catch (err) {
    err.message += ` (last record: ${JSON.stringify(last)})`;
    throw err;
  }
}

async function halt(socketPath, run) {
  await request(socketPath, '/signal/halt');
  await run.closed;
}

/** A TCP port nobody listens on right now. */
function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

describe('ready: {notify: systemd}', { concurrency: 2 }, () => {
  test('not ready before READY=1, ready after; STATUS= shown; a stranger\'s READY=1 is ignored', async (t) => {
    const box = sandbox(t);
    const go = box.path('go');
    const yml = box.write('svc.yml', `cmd: ${NOTIFY_SERVICE} --ready-when ${go} --status serving\nready: {notify: systemd}\n`);
    const run = box.start(['-n', '-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    const before = await waitForRecord(sock, (r) => r.pid > 0, 'service started');
    assert.equal(before.ready, false, 'started is not ready');
    assert.match((await request(sock, '/metrics')).body, /^immortal_ready\{service="svc"\} 0$/m);
    // A process outside the service that can reach the socket (root) says READY=1: ignored.
    const notifySocket = path.join(box.sdir, 'svc', 'notify.sock');
    const stranger = spawnSync('python3', ['-c',
      'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(sys.argv[1]); s.send(b"READY=1")', notifySocket]);
    assert.equal(stranger.status, 0, String(stranger.stderr));
    await waitFor(() => /ignored a message from pid \d+, not a process of the service/.test(run.stderr), { timeout: DEADLINE_MS, message: 'the stranger ignored' });
    assert.equal((await record(sock)).ready, false, 'still not ready after the stranger\'s READY=1');
    fs.writeFileSync(go, '');
    const after = await waitForRecord(sock, (r) => r.ready === true, 'ready after READY=1');
    assert.equal(after.statusText, 'serving');
    assert.equal(after.pid, before.pid);
    assert.match((await request(sock, '/metrics')).body, /^immortal_ready\{service="svc"\} 1$/m);
    const mode = fs.statSync(notifySocket).mode & 0o777;
    assert.equal(mode, 0o600, 'the notify socket is private');
    await halt(sock, run);
    assert.equal(fs.existsSync(notifySocket), false, 'the notify socket is removed at exit');
  });

  test('MAINPID= of a forked child is followed like -f', async (t) => {
    const box = sandbox(t);
    const go = box.path('go');
    const yml = box.write('svc.yml', `cmd: ${NOTIFY_SERVICE} --mainpid --ready-when ${go}\nready: {notify: systemd}\n`);
    const run = box.start(['-n', '-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    const first = await waitForRecord(sock, (r) => r.pid > 0, 'service started');
    fs.writeFileSync(go, '');
    const ready = await waitForRecord(sock, (r) => r.ready === true && r.pid !== first.pid, 'ready with the new main pid');
    assert.equal(ready.following, true);
    await waitFor(() => gone(first.pid), { timeout: DEADLINE_MS, message: 'the first process exits' });
    const still = await record(sock);
    assert.equal(still.pid, ready.pid, 'the handover is no exit: the followed pid is the service');
    assert.equal(still.count, 1);
    await halt(sock, run);
    assert.ok(gone(ready.pid));
  });

  test('watchdog: no WATCHDOG=1 for N seconds → restarted, counted, reason shown', async (t) => {
    const box = sandbox(t, { restartMs: 100 });
    const yml = box.write('svc.yml', `cmd: ${NOTIFY_SERVICE} --ready-after 0 --pings 3\nready: {notify: systemd}\nwatchdog: 1\nstop_timeout: 2\n`);
    const run = box.start(['-n', '-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    const first = await waitForRecord(sock, (r) => r.ready === true, 'ready');
    const restarted = await waitForRecord(sock, (r) => r.restarts.watchdog >= 1 && r.ready === true && r.pid !== first.pid, 'restarted by the watchdog');
    assert.match(restarted.lastRestart.reason, /^watchdog: no WATCHDOG=1 for 1 s$/);
    assert.equal(restarted.lastRestart.cause, 'watchdog');
    await halt(sock, run);
  });
});

describe('ready: {notify: "fd:3"} and daemon mode', { concurrency: 2 }, () => {
  test('s6 style: ready at the newline on fd 3', async (t) => {
    const box = sandbox(t);
    const go = box.path('go');
    const yml = box.write('svc.yml', `cmd: ${NOTIFY_FD} ${go} 3\nready: {notify: "fd:3"}\n`);
    const run = box.start(['-n', '-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    const before = await waitForRecord(sock, (r) => r.pid > 0, 'service started');
    assert.equal(before.ready, false);
    fs.writeFileSync(go, '');
    await waitForRecord(sock, (r) => r.ready === true, 'ready after the newline');
    await halt(sock, run);
  });

  test('immortal without -n exits 0 only once the service is ready', async (t) => {
    const box = sandbox(t);
    const go = box.path('go');
    const yml = box.write('svc.yml', `cmd: ${NOTIFY_SERVICE} --ready-when ${go}\nready: {notify: systemd}\n`);
    const launcher = box.start(['-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    await waitForRecord(sock, (r) => r.pid > 0 && r.ready === false, 'started, not ready');
    assert.equal(launcher.exitStatus, undefined, 'the launcher still waits');
    fs.writeFileSync(go, '');
    const { code } = await launcher.closed;
    assert.equal(code, 0, launcher.stderr);
    assert.equal((await record(sock)).ready, true, 'ready when the launcher returns');
    await request(sock, '/signal/halt');
    await waitFor(() => box.processes().length === 0, { timeout: DEADLINE_MS, message: 'supervisor and service gone' });
  });

  test('not ready within ready.timeout: exit 1, one line, nothing left running', async (t) => {
    const box = sandbox(t);
    const yml = box.write('svc.yml', 'cmd: sleep 1000\nready: {cmd: "exit 3", interval: 0.1, timeout: 1}\n');
    for (const args of [['-c', yml, '-ctl', 'svc'], ['-n', '-c', yml, '-ctl', 'svc2']]) {
      const result = await box.run(args);
      const lines = result.stderr.split('\n').filter((line) => line !== '' && !/^\d{4}-/.test(line));
      assert.equal(result.code, 1, result.stderr);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], /^immortal: not ready within 1 s \(last probe: exit 3: exit 3\)$/);
      assert.deepEqual(box.processes(), [], 'nothing left running');
      assert.equal(fs.existsSync(box.ctlSocket(args.at(-1))), false, 'no socket left');
    }
  });
});

describe('probes and health', { concurrency: 2 }, () => {
  test('http ready probe, then health: failing probes restart the service, counted, reason shown', async (t) => {
    const box = sandbox(t, { restartMs: 100 });
    const port = await freePort();
    const sick = box.path('sick');
    const url = `http://127.0.0.1:${port}/health`;
    const yml = box.write('svc.yml', [
      `cmd: ${HEALTH_SERVER} ${port} ${sick} 0.3`,
      `ready: {http: "${url}", interval: 0.1, timeout: 20}`,
      `health: {http: "${url}", interval: 0.2, timeout: 1, failures: 2}`,
      '',
    ].join('\n'));
    const run = box.start(['-n', '-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    const first = await waitForRecord(sock, (r) => r.ready === true && r.health === 'ok', 'ready and healthy');
    fs.writeFileSync(sick, '');
    const restarted = await waitForRecord(sock, (r) => r.restarts.health >= 1, 'restarted for health');
    assert.equal(restarted.lastRestart.reason, 'health: 2 failed probes (HTTP 503)');
    assert.equal(restarted.probeError, 'HTTP 503');
    fs.rmSync(sick);
    const second = await waitForRecord(sock, (r) => r.ready === true && r.pid !== first.pid && r.health === 'ok', 'healthy again');
    assert.ok(gone(first.pid));
    assert.match((await request(sock, '/metrics')).body, /^immortal_health_failures_total\{service="svc"\} [2-9]\d*$/m);
    assert.equal(second.restarts.health, 1);
    await halt(sock, run);
  });

  test('tcp ready probe: ready once the port accepts', async (t) => {
    const box = sandbox(t);
    const port = await freePort();
    const yml = box.write('svc.yml', `cmd: ${HEALTH_SERVER} ${port} ${box.path('sick')} 0.5\nready: {tcp: "127.0.0.1:${port}", interval: 0.05}\n`);
    const run = box.start(['-n', '-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    const ready = await waitForRecord(sock, (r) => r.ready === true, 'ready');
    const probe = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); }).on('error', () => resolve(false));
    });
    assert.equal(probe, true, 'the port accepts once ready says so');
    assert.ok(ready.pid > 0);
    await halt(sock, run);
  });
});

describe('require: waits for ready', { concurrency: 2 }, () => {
  test('standalone: the dependent starts only once the required service is ready', async (t) => {
    const box = sandbox(t, { restartMs: 100 });
    const go = box.path('go');
    const db = box.start(['-n', '-c', box.write('db.yml', `cmd: ${NOTIFY_FD} ${go}\nready: {notify: "fd:3"}\n`), '-ctl', 'db']);
    await waitForRecord(box.ctlSocket('db'), (r) => r.pid > 0, 'db started');
    const app = box.start(['-n', '-c', box.write('app.yml', 'cmd: sleep 1000\nrequire: [db]\n'), '-ctl', 'app']);
    const held = await waitForRecord(box.ctlSocket('app'), (r) => r.note === 'waiting for require: db', 'app held back');
    assert.equal(held.pid, 0);
    fs.writeFileSync(go, '');
    await waitForRecord(box.ctlSocket('app'), (r) => r.pid > 0, 'app started after db is ready');
    await halt(box.ctlSocket('app'), app);
    await halt(box.ctlSocket('db'), db);
  });

  test('immortaldir: the dependent starts only once the required service is ready', async (t) => {
    const run = await startDir(t, { restartMs: 100, files: {} });
    const goFile = run.box.path('go-ready');
    run.write('db', `cmd: ${NOTIFY_FD} ${goFile}\nready: {notify: "fd:3"}\n`);
    run.write('app', 'cmd: sleep 1000\nrequire: [db]\n');
    await waitForRecord(run.socket('db'), (r) => r.pid > 0 && r.ready === false, 'db started, not ready');
    const held = await waitForRecord(run.socket('app'), (r) => r.note === 'waiting for require: db', 'app held back');
    assert.equal(held.pid, 0);
    fs.writeFileSync(goFile, '');
    await waitForRecord(run.socket('app'), (r) => r.pid > 0, 'app started once db is ready');
    await run.stop();
  });
});

const haveUseradd = spawnSync('sh', ['-c', 'command -v useradd'], { encoding: 'utf8' }).status === 0;
const NOTIFY_USER = 'imm_ready_user';

describe('notify: systemd for a -u service', { skip: !isRoot ? 'needs root' : !haveUseradd ? 'needs useradd' : false }, () => {
  before(() => createUser(NOTIFY_USER));
  after(() => removeUser(NOTIFY_USER));

  test('the socket belongs to the user (0600) and the service, as that user, becomes ready', async (t) => {
    const box = sandbox(t);
    fs.chmodSync(box.dir, 0o755); // the user must reach the supervise dir, as in /var/run/immortal
    // A copy the user can read: a checkout under root's 0700 home is not (issue 16 item 5).
    const service = box.path('sd_notify_service.py');
    fs.copyFileSync(NOTIFY_SERVICE, service);
    fs.chmodSync(service, 0o755);
    const go = box.path('go');
    const yml = box.write('svc.yml', `cmd: ${service} --ready-when ${go}\nuser: ${NOTIFY_USER}\nready: {notify: systemd}\n`);
    const run = box.start(['-n', '-c', yml, '-ctl', 'svc']);
    const sock = box.ctlSocket('svc');
    await waitForRecord(sock, (r) => r.pid > 0 && r.ready === false, 'started, not ready');
    const st = fs.statSync(path.join(box.sdir, 'svc', 'notify.sock'));
    const uid = Number(spawnSync('id', ['-u', NOTIFY_USER], { encoding: 'utf8' }).stdout.trim());
    assert.equal(st.uid, uid, 'owned by the -u user');
    assert.equal(st.mode & 0o777, 0o600, 'nobody else may send');
    fs.writeFileSync(go, '');
    await waitForRecord(sock, (r) => r.ready === true, 'ready');
    await halt(sock, run);
  });
});
