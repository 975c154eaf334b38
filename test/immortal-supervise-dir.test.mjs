// Pidfiles (-p on every start, -P for the supervisor, removed on clean exit), the supervise
// directory (where it goes, lock + immortal.sock while running, removed on exit), the lock
// refusing a second supervisor, and a stale socket replaced. SPEC §1.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  gone, sandbox, signal, status, waitForFile, waitForStatus, waitGone,
} from './cli-helpers.mjs';

const readPid = (file) => Number(fs.readFileSync(file, 'utf8').trim());

describe('pidfiles', { concurrency: true }, () => {
  test('-p is rewritten with the child pid on every start; -P holds the supervisor pid and is removed on exit', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const childPid = box.path('child.pid');
    const parentPid = box.path('parent.pid');
    const run = box.start(['-n', '-ctl', 'pids', '-p', childPid, '-P', parentPid, 'sleep', '60']);
    const sock = box.ctlSocket('pids');
    const first = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
    assert.equal(readPid(childPid), first.pid);
    assert.equal(fs.readFileSync(childPid, 'utf8'), `${first.pid}\n`);
    assert.equal(readPid(parentPid), run.pid);
    assert.equal(await signal(sock, 'k'), '');
    const second = await waitForStatus(sock, (s) => s.count === 2 && s.pid > 0);
    assert.notEqual(second.pid, first.pid);
    await waitForFile(childPid, (text) => Number(text.trim()) === second.pid);
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(!fs.existsSync(parentPid), 'supervisor pidfile removed on clean exit');
  });

  test('run.yml pid.child and pid.parent (relative to the file)', async (t) => {
    const box = sandbox(t);
    fs.mkdirSync(box.path('run'));
    const yml = box.write('svc.yml', 'cmd: sleep 60\npid:\n  child: run/child.pid\n  parent: run/parent.pid\n');
    const run = box.start(['-n', '-ctl', 'ymlpids', '-c', yml]);
    const sock = box.ctlSocket('ymlpids');
    const st = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
    assert.equal(readPid(box.path('run', 'child.pid')), st.pid);
    assert.equal(readPid(box.path('run', 'parent.pid')), run.pid);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(!fs.existsSync(box.path('run', 'parent.pid')));
  });
});

describe('supervise directory', { concurrency: true }, () => {
  /** Starts a supervisor, checks lock + socket in dir while it runs, stops it, checks they are gone. */
  async function lifecycle(box, args, dir) {
    const run = box.start(['-n', ...args]);
    const sock = path.join(dir, 'immortal.sock');
    const st = await waitForStatus(sock, (s) => s.count === 1);
    assert.ok(fs.statSync(path.join(dir, 'lock')).isFile(), `${dir}/lock while running`);
    assert.ok(fs.statSync(sock).isSocket(), `${sock} while running`);
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(!fs.existsSync(path.join(dir, 'lock')), 'lock removed on clean exit');
    assert.ok(!fs.existsSync(sock), 'socket removed on clean exit');
    return { run, st };
  }

  test('-ctl name goes under $IMMORTAL_SDIR', async (t) => {
    const box = sandbox(t);
    await lifecycle(box, ['-ctl', 'web', 'sleep', '60'], path.join(box.sdir, 'web'));
  });

  test('-ctl /absolute/dir is used as is', async (t) => {
    const box = sandbox(t);
    const dir = box.path('elsewhere', 'svc');
    await lifecycle(box, ['-ctl', dir, 'sleep', '60'], dir);
  });

  test('-name n uses ~/.immortal/n', async (t) => {
    const box = sandbox(t);
    await lifecycle(box, ['-name', 'api', 'sleep', '60'], path.join(box.home, '.immortal', 'api'));
  });

  test('-c web.yml uses ~/.immortal/web', async (t) => {
    const box = sandbox(t);
    const yml = box.write('conf/web.yml', 'cmd: sleep 60\n');
    await lifecycle(box, ['-c', yml], path.join(box.home, '.immortal', 'web'));
  });

  test('-ctl name without $IMMORTAL_SDIR goes under /var/run/immortal (as -cc reports)', async (t) => {
    const box = sandbox(t);
    const yml = box.write('web.yml', 'cmd: sleep 60\n');
    const result = await box.run(['-cc', '-ctl', 'web', '-c', yml], { env: { IMMORTAL_SDIR: undefined } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /supervise dir \/var\/run\/immortal\/web\b/);
  });

  test('a plain command-line run uses ~/.immortal/<supervisor pid>', async (t) => {
    const box = sandbox(t);
    const run = box.start(['-n', 'sleep', '60']);
    const dir = path.join(box.home, '.immortal', String(run.pid));
    await waitForStatus(path.join(dir, 'immortal.sock'), (s) => s.count === 1);
    assert.ok(fs.existsSync(path.join(dir, 'lock')));
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(!fs.existsSync(path.join(dir, 'lock')) && !fs.existsSync(path.join(dir, 'immortal.sock')));
  });
});

describe('lock', { concurrency: true }, () => {
  test('a second supervisor on the same -ctl dir refuses with a clear error, exit 1; the first is unaffected', async (t) => {
    const box = sandbox(t);
    const marks = box.path('starts');
    const args = ['-n', '-ctl', 'dup', 'sh', '-c', `echo x >> ${marks}; exec sleep 60`];
    const first = box.start(args);
    const sock = box.ctlSocket('dup');
    const before = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
    for (const detached of [false, true]) {
      const second = await box.run(detached ? args.slice(1) : args);
      const lines = second.stderr.split('\n').filter(Boolean);
      assert.equal(second.code, 1, second.stderr);
      assert.equal(lines.length, 1, second.stderr);
      assert.match(lines[0], /already supervised|lock/);
      assert.ok(lines[0].includes(path.join(box.sdir, 'dup')), `names the dir: ${lines[0]}`);
    }
    // Nothing else started; the first supervisor still owns its lock, socket and child.
    assert.deepEqual(fs.readFileSync(marks, 'utf8'), 'x\n');
    const after = await status(sock);
    assert.equal(after.pid, before.pid);
    assert.equal(after.count, 1);
    assert.ok(fs.existsSync(path.join(box.sdir, 'dup', 'lock')));
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await first.waitExit(), { code: 0, signal: null });
  });

  test('the lock is free again once the supervisor exited', async (t) => {
    const box = sandbox(t);
    for (let i = 0; i < 2; i++) {
      const run = box.start(['-n', '-ctl', 'again', 'sleep', '60']);
      await waitForStatus(box.ctlSocket('again'), (s) => s.count === 1);
      run.kill('SIGTERM');
      assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    }
  });

  test('a stale socket left by a killed supervisor is replaced', async (t) => {
    const box = sandbox(t);
    const run = box.start(['-n', '-ctl', 'stale', 'sleep', '60']);
    const sock = box.ctlSocket('stale');
    const st = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
    run.kill('SIGKILL');
    await run.waitExit();
    // The service outlives a SIGKILLed supervisor (own session); stop it ourselves.
    process.kill(st.pid, 'SIGKILL');
    await waitGone(st.pid);
    assert.ok(fs.statSync(sock).isSocket(), 'stale socket still on disk');
    const next = box.start(['-n', '-ctl', 'stale', 'sleep', '60']);
    const fresh = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0 && s.pid !== st.pid);
    assert.ok(!gone(fresh.pid));
    next.kill('SIGTERM');
    assert.deepEqual(await next.waitExit(), { code: 0, signal: null });
    assert.ok(!fs.existsSync(sock));
  });
});
