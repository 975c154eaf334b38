// native.watchExit in both modes ('pidfd' and the forced kill(pid,0) 'poll' fallback):
// children, non-children (re-parented grandchildren), already-dead pids, close() and the
// event loop, and the IMMORTAL_WATCH override.
import test, { after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn as cpSpawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import { createRequire } from 'node:module';

import native from '../dist/native.js';
import { descendantsOf, gone, procStat, readAll, spawnTracker, waitFor, zombiesOf } from './helpers.mjs';

const DIST = createRequire(import.meta.url).resolve('../dist/native.js');
const MODES = ['pidfd', 'poll'];
const OPTS = { pidfd: { mode: 'pidfd' }, poll: { mode: 'poll', pollIntervalMs: 10 } };
const children = spawnTracker(native);

function sleeper(seconds = 30) {
  return children.spawn({ file: '/bin/sleep', argv: ['sleep', String(seconds)], env: [] }).pid;
}

function exitOf(pid) {
  return waitFor(() => native.reap(pid), { message: `exit of ${pid}` });
}

/** Arms a watch and returns {watch, fired: Promise, count()}. */
function watch(pid, mode) {
  let count = 0;
  let resolve;
  const fired = new Promise((r) => { resolve = r; });
  const w = native.watchExit(pid, () => { count++; resolve(Date.now()); }, OPTS[mode]);
  return { watch: w, fired, count: () => count };
}

function deadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no callback within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

after(async () => {
  await children.cleanup();
  assert.deepEqual(zombiesOf(process.pid), [], 'zombie children of the test process');
  assert.deepEqual(descendantsOf(process.pid), [], 'leftover processes');
});

test('watchModes lists pidfd then poll on Linux; pidfd is preferred by default', { skip: process.platform !== 'linux' && 'linux' }, () => {
  assert.deepEqual(native.watchModes(), ['pidfd', 'poll']);
  if (process.env.IMMORTAL_WATCH === undefined) assert.equal(native.preferredWatchMode(), 'pidfd');
});

for (const mode of MODES) {
  describe(`watchExit (${mode})`, () => {
    test('a child killed by a signal is detected, once', async () => {
      const pid = sleeper();
      const w = watch(pid, mode);
      const t0 = Date.now();
      native.kill(pid, 'SIGTERM');
      const at = await deadline(w.fired, 2000, `exit of child ${pid}`);
      assert.ok(at - t0 < 1000, `took ${at - t0} ms`);
      assert.equal((await exitOf(pid)).signal, 'SIGTERM');
      await pause(50);
      assert.equal(w.count(), 1);
      w.watch.close(); // after firing: a no-op
    });

    test('a child exiting by itself is detected, and two watches on one pid both fire', async () => {
      const { pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '0.1'], env: [] });
      const [a, b] = [watch(pid, mode), watch(pid, mode)];
      await deadline(Promise.all([a.fired, b.fired]), 2000, `exit of child ${pid}`);
      assert.equal((await exitOf(pid)).code, 0);
    });

    test('a non-child (grandchild re-parented away from us) is detected', async () => {
      const [r, w] = native.pipe();
      const { pid: shPid } = children.spawn({
        file: '/bin/sh', argv: ['sh', '-c', 'sleep 0.3 >/dev/null 2>&1 & echo $!'], env: ['PATH=/usr/bin:/bin'], stdio: [-1, w, -1],
      });
      fs.closeSync(w);
      const grandchild = Number((await readAll(r)).trim());
      assert.equal((await exitOf(shPid)).code, 0);
      const stat = procStat(grandchild);
      assert.ok(stat && stat.state !== 'Z', 'grandchild still running when armed');
      assert.notEqual(stat.ppid, process.pid, 'grandchild is not our child');
      const watched = watch(grandchild, mode);
      await deadline(watched.fired, 3000, `exit of non-child ${grandchild}`);
      assert.ok(gone(grandchild), 'called back only once the pid has exited');
    });

    test('an already-dead pid calls back asynchronously, and close() before then cancels it', async () => {
      const { pid } = children.spawn({ file: '/bin/true', argv: ['true'], env: [] });
      await exitOf(pid);
      const w = watch(pid, mode);
      assert.equal(w.count(), 0, 'not called synchronously');
      await deadline(w.fired, 1000, `dead pid ${pid}`);
      const cancelled = watch(pid, mode);
      cancelled.watch.close();
      await pause(50);
      assert.equal(cancelled.count(), 0);
    });

    test('an exited but unreaped child (zombie) counts as exited', async () => {
      const { pid } = children.spawn({ file: '/bin/true', argv: ['true'], env: [] });
      await waitFor(() => procStat(pid)?.state === 'Z', { message: `zombie ${pid}` });
      const w = watch(pid, mode);
      await deadline(w.fired, 1000, `zombie ${pid}`);
      assert.equal((await exitOf(pid)).code, 0);
    });

    test('close() before exit: never calls back (idempotent)', async () => {
      const pid = sleeper();
      const w = watch(pid, mode);
      w.watch.close();
      w.watch.close();
      native.kill(pid, 'SIGKILL');
      await exitOf(pid);
      await pause(100); // ten poll intervals
      assert.equal(w.count(), 0);
    });
  });
}

describe('watchExit and the event loop', { concurrency: true }, () => {
  // The child arms a watch on our long-running sleep; with `close` it closes it at once and
  // must exit by itself. Without, the armed watch (not referenced from JS, after a full GC)
  // must keep it alive until the sleep dies, then call back and let it exit.
  const script = `
    const native = require(${JSON.stringify(DIST)});
    const [pid, mode, action] = process.argv.slice(1);
    const w = native.watchExit(Number(pid), () => console.log('fired'), { mode, pollIntervalMs: 10 });
    if (action === 'close') w.close();
    global.gc();
    console.log('armed');`;

  function runNode(pid, mode, action) {
    const child = cpSpawn(process.execPath, ['--expose-gc', '-e', script, String(pid), mode, action], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    return { child, exited, out: () => out };
  }

  for (const mode of MODES) {
    test(`${mode}: a closed watch does not keep the process alive; an armed one does until the pid exits`, async (t) => {
      const pid = sleeper();
      const closed = runNode(pid, mode, 'close');
      const armed = runNode(pid, mode, 'keep');
      t.after(() => { closed.child.kill('SIGKILL'); armed.child.kill('SIGKILL'); });

      assert.deepEqual(await deadline(closed.exited, 5000, 'closed-watch process exit'), { code: 0, signal: null });
      assert.equal(closed.out(), 'armed\n');

      await waitFor(() => armed.out() === 'armed\n', { timeout: 5000, message: 'armed' });
      await pause(200);
      assert.equal(armed.child.exitCode, null, 'an armed watch keeps the loop alive');
      native.kill(pid, 'SIGKILL');
      assert.equal((await exitOf(pid)).signal, 'SIGKILL');
      assert.deepEqual(await deadline(armed.exited, 5000, 'armed-watch process exit'), { code: 0, signal: null });
      assert.equal(armed.out(), 'armed\nfired\n');
    });
  }
});

describe('preferred mode', () => {
  // In a fresh process (the choice is cached): which mode, and whether the default watch
  // holds a pidfd (anon_inode:[pidfd]) or only a timer.
  const script = `
    const fs = require('fs');
    const native = require(${JSON.stringify(DIST)});
    const w = native.watchExit(process.pid, () => {});
    const pidfds = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try { return fs.readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[pidfd]'; } catch { return false; }
    }).length;
    w.close();
    console.log(native.preferredWatchMode(), pidfds);`;

  async function preferred(value) {
    const env = { ...process.env };
    delete env.IMMORTAL_WATCH;
    if (value !== undefined) env.IMMORTAL_WATCH = value;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env, timeout: 5000 });
    return stdout.trim();
  }

  test('IMMORTAL_WATCH=poll forces the fallback; unset or unknown keeps pidfd', async () => {
    const [poll, unset, bogus] = await Promise.all([preferred('poll'), preferred(undefined), preferred('bogus')]);
    assert.equal(poll, 'poll 0');
    assert.equal(unset, 'pidfd 1');
    assert.equal(bogus, 'pidfd 1');
  });
});

test('watchExit errors: pid <= 0 is EINVAL, a mode this platform lacks is ENOSYS', () => {
  assert.throws(() => native.watchExit(0, () => {}), { code: 'EINVAL', syscall: 'watchExit' });
  assert.throws(() => native.watchExit(-5, () => {}, { mode: 'poll' }), { code: 'EINVAL' });
  assert.throws(() => native.watchExit(process.pid, () => {}, { mode: 'kqueue' }), { code: 'ENOSYS', syscall: 'watchExit kqueue' });
});
