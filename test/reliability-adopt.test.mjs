// kill -9 of the supervisor, then a new one on the same supervise dir: the still-running
// service is re-adopted through child.pid — never duplicated — and only when child.pid
// really names it (same argv, started within seconds before the file was written).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gone, liveWithArgv, sandbox, signal, sleep, status, waitFor, waitForStatus, waitGone } from './reliability-helpers.mjs';

test('foreground: kill -9 the supervisor, start it again → the same pid is supervised, no duplicate', async (t) => {
  const box = sandbox(t);
  const sock = box.ctlSocket('adopt');
  const service = box.sleeper(3801);
  const args = ['-n', '-ctl', 'adopt', ...service];
  const first = box.start(args);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  first.kill('SIGKILL');
  await first.waitExit();
  assert.ok(!gone(pid), 'the service outlives a killed supervisor');

  const second = box.start(args);
  await second.waitForLog(new RegExp(`adopted pid ${pid}`));
  const adopted = await status(sock);
  assert.equal(adopted.pid, pid);
  assert.equal(adopted.count, 1);
  assert.equal(adopted.fpid, false);
  assert.ok(adopted.up, 'shown as up');
  assert.doesNotMatch(second.stderr, /started \d+/);
  assert.deepEqual(liveWithArgv(service), [pid]);

  // Stopping over the socket TERMs the adopted process (not our child: its exit comes by pidfd).
  assert.equal(await signal(sock, 'stop'), '');
  await waitGone(pid);
  const down = await waitForStatus(sock, (s) => s.pid === 0 && s.down !== undefined);
  assert.equal(down.count, 1);
  assert.equal(fs.existsSync(path.join(box.ctlDir('adopt'), 'child.pid')), false, 'child.pid goes with the service');
  second.kill('SIGTERM');
  assert.deepEqual(await second.waitExit(), { code: 0, signal: null });
  assert.deepEqual(liveWithArgv(service), []);
});

test('daemon mode: kill -9 the detached supervisor, start it again → re-adopted, then halted', async (t) => {
  const box = sandbox(t);
  const sock = box.ctlSocket('adoptd');
  const parentPidfile = box.path('supervisor.pid');
  const service = box.sleeper(3802);
  const args = ['-ctl', 'adoptd', '-P', parentPidfile, ...service];
  assert.deepEqual(await box.start(args).waitExit(), { code: 0, signal: null });
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  const firstSupervisor = Number(fs.readFileSync(parentPidfile, 'utf8'));
  process.kill(firstSupervisor, 'SIGKILL');
  await waitGone(firstSupervisor);

  assert.deepEqual(await box.start(args).waitExit(), { code: 0, signal: null });
  const secondSupervisor = Number(await waitFor(() => {
    const text = fs.readFileSync(parentPidfile, 'utf8').trim();
    return text !== String(firstSupervisor) && text;
  }, { message: 'the new supervisor pidfile' }));
  const adopted = await waitForStatus(sock, (s) => s.pid > 0);
  assert.equal(adopted.pid, pid);
  assert.equal(adopted.count, 1);
  assert.deepEqual(liveWithArgv(service), [pid]);

  assert.equal(await signal(sock, 'halt'), '');
  await waitGone(pid);
  await waitGone(secondSupervisor);
  assert.equal(fs.existsSync(sock), false);
});

test('child.pid naming a different program is not adopted: a fresh child starts, the other is untouched', async (t) => {
  const box = sandbox(t);
  const unrelated = box.spawnMarked(box.sleeper(3803));
  fs.mkdirSync(box.ctlDir('other'));
  fs.writeFileSync(path.join(box.ctlDir('other'), 'child.pid'), `${unrelated.pid}\n`);

  const service = box.sleeper(3804);
  const run = box.start(['-n', '-ctl', 'other', ...service]);
  const started = await waitForStatus(box.ctlSocket('other'), (s) => s.pid > 0);
  assert.notEqual(started.pid, unrelated.pid);
  assert.match(run.stderr, new RegExp(`started ${started.pid}: ${service.join(' ')}`));
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  await waitGone(started.pid);
  assert.ok(!gone(unrelated.pid), 'the unrelated process was left alone');
  unrelated.kill('SIGKILL');
  await waitGone(unrelated.pid);
});

for (const [story, shiftMs] of [
  ['started long before child.pid was written (a stale file, rewritten later)', 60_000],
  ['started after child.pid was written (a recycled pid)', -60_000],
]) {
  test(`same argv but ${story}: not adopted`, async (t) => {
    const box = sandbox(t);
    const service = box.sleeper(3805);
    const lookalike = box.spawnMarked(service);
    await waitFor(() => fs.readFileSync(`/proc/${lookalike.pid}/cmdline`, 'utf8').startsWith('sleep\0'), { message: 'exec of the lookalike' });
    const pidfile = path.join(box.ctlDir('lookalike'), 'child.pid');
    fs.mkdirSync(path.dirname(pidfile));
    fs.writeFileSync(pidfile, `${lookalike.pid}\n`);
    const written = new Date(Date.now() + shiftMs);
    fs.utimesSync(pidfile, written, written);

    const run = box.start(['-n', '-ctl', 'lookalike', ...service]);
    const started = await waitForStatus(box.ctlSocket('lookalike'), (s) => s.pid > 0);
    assert.notEqual(started.pid, lookalike.pid);
    assert.doesNotMatch(run.stderr, /adopted/);
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    await waitGone(started.pid);
    assert.ok(!gone(lookalike.pid), 'the lookalike was left alone');
    lookalike.kill('SIGKILL');
    await waitGone(lookalike.pid);
  });
}

test('10 × (kill -9 the supervisor, start it again) → exactly one instance every time', async (t) => {
  const box = sandbox(t);
  const sock = box.ctlSocket('loop');
  const service = box.sleeper(3806);
  const args = ['-n', '-ctl', 'loop', ...service];
  let pid;
  for (let cycle = 0; cycle < 10; cycle++) {
    const run = box.start(args);
    const now = await waitForStatus(sock, (s) => s.pid > 0 && (cycle === 0 || /adopted/.test(run.stderr)));
    pid ??= now.pid;
    assert.equal(now.pid, pid, `cycle ${cycle}: the same process`);
    assert.equal(now.count, 1, `cycle ${cycle}: never restarted`);
    assert.deepEqual(liveWithArgv(service), [pid], `cycle ${cycle}: exactly one instance`);
    run.kill('SIGKILL');
    await run.waitExit();
  }
  const last = box.start(args);
  await waitForStatus(sock, (s) => s.pid === pid && /adopted/.test(last.stderr));
  last.kill('SIGTERM');
  assert.deepEqual(await last.waitExit(), { code: 0, signal: null });
  await waitGone(pid);
  await sleep(50);
  assert.deepEqual(liveWithArgv(service), []);
});
