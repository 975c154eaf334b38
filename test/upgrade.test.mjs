// Overlapped upgrades through the CLI: `immortalctl upgrade NAME` starts a second instance on
// the held `listen:` sockets, hands over once it has run 1 s, then stops the old one
// gracefully. Under a sequential request loop no request fails; after each upgrade one
// instance is left. A new instance that exits at once is stopped and the old one keeps
// serving; a run.yml that no longer loads refuses the upgrade.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gone, request, sandbox, status, waitFor, waitForStatus } from './cli-helpers.mjs';
import { askPid, freePort, LISTEN_SERVER, PYTHON, requestLoop } from './listen-helpers.mjs';

const IMMORTALCTL = fileURLToPath(new URL('../dist/cli/immortalctl.js', import.meta.url));

function ctl(box, args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [IMMORTALCTL, ...args], { env: box.env, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr });
    });
  });
}

function writeWeb(box, port, args = '') {
  return box.write('web.yml', `cmd: ${PYTHON} ${LISTEN_SERVER}${args}\nlisten:\n  - "tcp://127.0.0.1:${port}"\nstop_timeout: 5\n`);
}

/** The fixture server as service `web` under `immortal -n`, once it runs. */
async function startWeb(t) {
  const box = sandbox(t);
  const port = await freePort();
  const sock = box.ctlSocket('web');
  const run = box.start(['-n', '-c', writeWeb(box, port), '-ctl', 'web']);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  return { box, port, sock, run, pid };
}

/** The full record once it shows an upgrade's new pid beside the old one. */
function waitForOverlap(sock) {
  return waitFor(async () => {
    const record = JSON.parse((await request(sock, '/service')).body);
    return record.upgradePid ? record : undefined;
  }, { timeout: 15000, message: 'the record shows the new pid beside the old one' });
}

/** Processes running the fixture server in this sandbox. */
function instances(box) {
  return box.processes().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('listen_server.py');
    } catch {
      return false;
    }
  });
}

test('three upgrades under a request loop: no request fails, one instance after each', async (t) => {
  const { box, port, sock, run, pid: first } = await startWeb(t);
  let pid = first;
  await waitFor(async () => (await askPid(port).catch(() => 0)) === pid, { timeout: 15000 });
  const loop = requestLoop(port);
  t.after(() => loop.stop()); // a failed assertion must not leave it running
  for (let round = 1; round <= 3; round++) {
    const before = (await status(sock)).count;
    const answer = await ctl(box, ['upgrade', 'web']);
    assert.equal(answer.code, 0, answer.stdout + answer.stderr);
    const after = await status(sock);
    assert.notEqual(after.pid, pid, `round ${round}: a new pid serves`);
    assert.equal(after.count, before + 1, 'count rises by one');
    await waitFor(() => gone(pid), { timeout: 15000, message: `round ${round}: the old instance is stopped` });
    assert.deepEqual(instances(box), [after.pid], `round ${round}: one instance left`);
    await waitFor(() => loop.result.pids.has(after.pid), { timeout: 15000, message: 'the new instance answers' });
    pid = after.pid;
  }
  const { failed, total, pids } = await loop.stop();
  assert.deepEqual(failed, [], `${failed.length} of ${total} requests failed`);
  assert.ok(pids.size >= 4, `four instances answered: ${[...pids]}`);
  assert.match(run.stderr, /upgrade: done, \d+ serves/);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('during the overlap the record shows both pids; GET /signal/upgrade answers once it is over', async (t) => {
  const { sock, run, pid } = await startWeb(t);
  const answer = request(sock, '/signal/upgrade');
  const overlap = await waitForOverlap(sock);
  assert.equal(overlap.pid, pid, 'pid is still the old one');
  assert.notEqual(overlap.upgradePid, pid);
  assert.equal((await status(sock)).pid, pid, '/ keeps the Go bytes with the old pid');
  assert.equal(JSON.parse((await answer).body).Err, '');
  assert.equal((await status(sock)).pid, overlap.upgradePid);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('a failed upgrade (the new command exits at once) keeps the old instance; a broken run.yml refuses it', async (t) => {
  const { box, port, sock, run, pid } = await startWeb(t);

  writeWeb(box, port, ' 1');
  const failed = await ctl(box, ['upgrade', 'web']);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout + failed.stderr, /upgrade failed: new instance exited with 1 within 1 s; the old one keeps serving/);
  assert.equal((await status(sock)).pid, pid);
  assert.equal(await askPid(port), pid);
  assert.deepEqual(instances(box), [pid]);

  box.write('web.yml', 'cmd: [oops\n');
  const refused = await ctl(box, ['upgrade', 'web']);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout + refused.stderr, /upgrade refused: .*web\.yml/);
  assert.equal(await askPid(port), pid);

  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('the new env: of an upgrade reaches the new instance and the restarts after it', async (t) => {
  const box = sandbox(t);
  const port = await freePort();
  const withStage = (stage) => box.write('web.yml', `cmd: ${PYTHON} ${LISTEN_SERVER}\nlisten:\n  - "tcp://127.0.0.1:${port}"\n`
    + `env:\n  STAGE: ${stage}\nstop_timeout: 5\n`);
  const stageOf = (pid) => /(?:^|\0)STAGE=([^\0]*)/.exec(fs.readFileSync(`/proc/${pid}/environ`, 'latin1'))?.[1];
  const sock = box.ctlSocket('web');
  const run = box.start(['-n', '-c', withStage('one'), '-ctl', 'web']);
  const { pid: first } = await waitForStatus(sock, (s) => s.pid > 0);
  assert.equal(stageOf(first), 'one');

  withStage('two');
  const answer = await ctl(box, ['upgrade', 'web']);
  assert.equal(answer.code, 0, answer.stdout + answer.stderr);
  const { pid: upgraded } = await status(sock);
  assert.equal(stageOf(upgraded), 'two', 'the new instance runs with the new env:');

  process.kill(upgraded, 'SIGKILL');
  const { pid: restarted } = await waitForStatus(sock, (s) => s.pid > 0 && s.pid !== upgraded);
  assert.equal(stageOf(restarted), 'two', 'a restart after the upgrade keeps the new env:, not the first one');

  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('stop during the overlap stops both instances; the upgrade answers that the service was stopped', async (t) => {
  const { box, sock, run, pid } = await startWeb(t);
  const answer = request(sock, '/signal/upgrade');
  const overlap = await waitForOverlap(sock);
  assert.equal(JSON.parse((await request(sock, '/signal/down')).body).Err, '');
  assert.match(JSON.parse((await answer).body).Err, /^upgrade failed: the service was stopped or restarted during the upgrade$/);
  await waitForStatus(sock, (s) => s.pid === 0);
  await waitFor(() => gone(pid) && gone(overlap.upgradePid), { timeout: 15000, message: 'both instances gone' });
  assert.deepEqual(instances(box), []);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('the new instance is ready by its ready: probe; a probe that never passes fails the upgrade; notify readiness refuses one', async (t) => {
  const box = sandbox(t);
  const port = await freePort();
  const flag = box.path('ready-flag');
  // The probe asks a file the test controls, so it tells the instances apart (the port could not).
  const withProbe = (args) => box.write('web.yml', `cmd: ${PYTHON} ${LISTEN_SERVER}${args}\nlisten:\n  - "tcp://127.0.0.1:${port}"\n`
    + `ready:\n  cmd: test -e ${flag}\n  interval: 0.05\n  timeout: 2\nstop_timeout: 5\n`);
  fs.writeFileSync(flag, '');
  const file = withProbe('');
  const sock = box.ctlSocket('web');
  const run = box.start(['-n', '-c', file, '-ctl', 'web']);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  await waitFor(async () => JSON.parse((await request(sock, '/service')).body).ready === true, { message: 'ready' });

  fs.rmSync(flag);
  const notReady = await ctl(box, ['upgrade', 'web']);
  assert.equal(notReady.code, 1);
  assert.match(notReady.stdout + notReady.stderr, /upgrade failed: new instance not ready in time: 2 s \(last probe: test -e \S+: exit 1\); the old one keeps serving/);
  assert.equal(await askPid(port), pid, 'the old instance keeps serving');
  assert.deepEqual(instances(box), [pid]);

  fs.writeFileSync(flag, '');
  const upgraded = await ctl(box, ['upgrade', 'web']);
  assert.equal(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
  const after = await status(sock);
  assert.notEqual(after.pid, pid);
  assert.deepEqual(instances(box), [after.pid]);

  box.write('web.yml', `cmd: ${PYTHON} ${LISTEN_SERVER}\nlisten:\n  - "tcp://127.0.0.1:${port}"\nready:\n  notify: systemd\n`);
  const refused = await ctl(box, ['upgrade', 'web']);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout + refused.stderr, /upgrade refused: ready\.notify cannot tell two instances apart/);
  assert.equal((await status(sock)).pid, after.pid);

  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});
