// immortaldir, the operator's story with files: drop a run.yml in → it runs; edit it → it
// restarts with the new config; break it → the old one keeps running and the error names the
// file and key; remove it → it stops and its supervise dir goes away; halt → it comes back;
// a daemon it follows is reaped by it (subreaper) and left alone when its file goes; killed
// with -9 and started again, it re-adopts what runs instead of starting duplicates.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { assertNoZombies, gone, procStat, signal, sleep, waitFor } from './cli-helpers.mjs';
import { DAEMON, startAgain, startDir, waitPidGone } from './fixtures/dir-harness.mjs';

/** SPEC §6: within 5 s; with fs.watch it is usually ~100 ms. */
const PICKUP_MS = 5000;

test('a new file starts, a changed file restarts with the new cmd, a removed file stops', async (t) => {
  const dir = await startDir(t, { restartMs: 50, files: { keep: 'cmd: sleep 3601\n' } });
  await dir.waitRunning('keep');

  const written = Date.now();
  dir.write('web', 'cmd: sleep 3602\n');
  const first = await dir.waitRunning('web', () => true, PICKUP_MS);
  t.diagnostic(`new file running after ${Date.now() - written} ms`);
  assert.equal(first.cmd, 'sleep 3602');
  assert.equal(first.count, 1);

  dir.write('web', 'cmd: sleep 3603\n');
  const second = await dir.waitRunning('web', (s) => s.cmd === 'sleep 3603', PICKUP_MS);
  assert.notEqual(second.pid, first.pid);
  await waitPidGone(first.pid);
  assert.equal(fs.readFileSync(`/proc/${second.pid}/cmdline`, 'utf8'), 'sleep\x003603\x00');

  const keep = await dir.status('keep');
  dir.remove('web');
  await waitPidGone(second.pid, PICKUP_MS);
  const sdir = path.dirname(dir.socket('web'));
  await waitFor(() => !fs.existsSync(dir.socket('web')), { timeout: PICKUP_MS, message: 'socket of the removed service to go' });
  await waitFor(() => !fs.existsSync(path.join(sdir, 'lock')), { timeout: PICKUP_MS, message: 'lock of the removed service to go' });

  // The neighbour never noticed.
  const keepAfter = await dir.status('keep');
  assert.equal(keepAfter.pid, keep.pid);
  assert.equal(keepAfter.count, 1);

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  await waitPidGone(keep.pid);
});

test('an unchanged file is left alone by rescans (SIGHUP, touch); SIGINT stops all', async (t) => {
  const dir = await startDir(t, { restartMs: 50, files: { a: 'cmd: sleep 3604\n' } });
  const before = await dir.waitRunning('a');
  const file = path.join(dir.servicesDir, 'a.yml');
  fs.utimesSync(file, new Date(), new Date());
  dir.proc.kill('SIGHUP');
  await sleep(300);
  const after = await dir.status('a');
  assert.equal(after.pid, before.pid);
  assert.equal(after.count, 1);
  assert.equal(dir.exitStatus, undefined, 'SIGHUP does not end immortaldir');
  // SIGINT (Ctrl-C in a terminal) is the same as SIGTERM.
  dir.proc.kill('SIGINT');
  assert.deepEqual(await dir.exited, { code: 0, signal: null });
  await waitPidGone(before.pid, 1000);
});

test('invalid YAML is logged once with file and key; the others run; fixed, it starts', async (t) => {
  const dir = await startDir(t, {
    restartMs: 50,
    files: {
      good: 'cmd: sleep 3605\n',
      bad: 'cmd: sleep 3606\nwait: soon\n',
      broken: 'cmd: [unclosed\n',
    },
  });
  const good = await dir.waitRunning('good');
  const badLine = await dir.waitForLog(/^.* bad: not started: .*$/m);
  assert.match(badLine[0], /bad\.yml/, 'the error names the file');
  assert.match(badLine[0], /\bwait\b/, 'the error names the key');
  const brokenLine = await dir.waitForLog(/^.* broken: not started: .*$/m);
  assert.match(brokenLine[0], /broken\.yml/);
  assert.ok(!fs.existsSync(dir.socket('bad')), 'no supervisor for the bad file');
  assert.ok(!fs.existsSync(dir.socket('broken')), 'no supervisor for the broken file');

  // Rescans do not repeat the error for unchanged content.
  dir.proc.kill('SIGHUP');
  await sleep(300);
  assert.equal(dir.stderr.match(/ bad: not started:/g).length, 1, `logged once:\n${dir.stderr}`);

  dir.write('bad', 'cmd: sleep 3606\nwait: 0\n');
  const fixed = await dir.waitRunning('bad', () => true, PICKUP_MS);
  assert.equal(fixed.cmd, 'sleep 3606');
  assert.equal((await dir.status('good')).pid, good.pid, 'good was never restarted');

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  await waitPidGone(fixed.pid);
  await waitPidGone(good.pid);
});

test('a changed file that no longer loads keeps the old service running', async (t) => {
  const dir = await startDir(t, { restartMs: 50, files: { app: 'cmd: sleep 3607\n' } });
  const old = await dir.waitRunning('app');

  dir.write('app', 'cmd: sleep 3608\nretries: many\n');
  const line = await dir.waitForLog(/ app: not started: .*$/m, PICKUP_MS);
  assert.match(line[0], /app\.yml/);
  assert.match(line[0], /\bretries\b/);
  const still = await dir.status('app');
  assert.equal(still.pid, old.pid, 'the old service keeps serving');
  assert.equal(still.cmd, 'sleep 3607');
  assert.ok(!gone(old.pid));

  dir.write('app', 'cmd: sleep 3609\n');
  const fresh = await dir.waitRunning('app', (s) => s.cmd === 'sleep 3609', PICKUP_MS);
  assert.notEqual(fresh.pid, old.pid);
  await waitPidGone(old.pid);

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  await waitPidGone(fresh.pid);
});

test('halt over the socket → the service stops and immortaldir starts it again', async (t) => {
  const dir = await startDir(t, { restartMs: 50, files: { h: 'cmd: sleep 3610\n', other: 'cmd: sleep 3611\n' } });
  const before = await dir.waitRunning('h');
  const other = await dir.waitRunning('other');
  assert.equal(await signal(dir.socket('h'), 'halt'), '');
  await waitPidGone(before.pid);
  const after = await dir.waitRunning('h', (s) => s.pid !== before.pid);
  assert.equal(after.cmd, 'sleep 3610');
  assert.match(dir.stderr, / h: supervisor finished \(halt\)/);
  assert.equal((await dir.status('other')).pid, other.pid, 'the neighbour was not touched');

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  await waitPidGone(after.pid);
  await waitPidGone(other.pid);
});

test('a daemonizing service is followed and reaped (subreaper); removed, it is left running', async (t) => {
  const dir = await startDir(t, { restartMs: 50 });
  const pidfileOf = (name) => dir.box.path(`${name}.pid`);
  const daemonYaml = (name) => `cmd: /bin/sh ${DAEMON} ${pidfileOf(name)}\npid:\n  follow: ${pidfileOf(name)}\n`;
  dir.write('left', daemonYaml('left'));
  dir.write('stopped', daemonYaml('stopped'));
  const left = await dir.waitRunning('left', (s) => s.fpid);
  const stopped = await dir.waitRunning('stopped', (s) => s.fpid);
  for (const s of [left, stopped]) {
    assert.equal(Number(fs.readFileSync(pidfileOf(s === left ? 'left' : 'stopped'), 'utf8')), s.pid);
    assert.equal(procStat(s.pid).ppid, dir.pid, 'the orphaned daemon was re-parented to immortaldir');
  }

  dir.remove('left');
  await waitFor(() => !fs.existsSync(dir.socket('left')), { timeout: PICKUP_MS, message: 'socket of the removed service to go' });
  await sleep(200);
  assert.ok(!gone(left.pid), 'a followed pid is not ours to stop: it keeps running');
  // Its end is still reaped by immortaldir, the subreaper: no zombie is left.
  process.kill(left.pid, 'SIGTERM');
  await waitPidGone(left.pid);
  await assertNoZombies(dir.pid);

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  await waitPidGone(stopped.pid, 1000);
});

test('immortaldir killed with -9 and started again re-adopts the running services, no duplicates', async (t) => {
  const dir = await startDir(t, { restartMs: 50, files: { a: 'cmd: sleep 3640\n', b: 'cmd: sleep 3641\n' } });
  const a = await dir.waitRunning('a');
  const b = await dir.waitRunning('b');
  dir.proc.kill('SIGKILL');
  await dir.exited;
  assert.ok(!gone(a.pid) && !gone(b.pid), 'the services outlive their supervisor');

  const again = startAgain(dir);
  const a2 = await again.waitRunning('a');
  const b2 = await again.waitRunning('b');
  assert.equal(a2.pid, a.pid, 'a re-adopted');
  assert.equal(b2.pid, b.pid, 'b re-adopted');
  await again.waitForLog(/ b: adopted pid \d+/);
  assert.doesNotMatch(again.stderr, / started \d+: sleep/, 'nothing started twice');

  assert.deepEqual(await again.stop(), { code: 0, signal: null });
  await waitPidGone(a.pid);
  await waitPidGone(b.pid);
});
