// The restart the addon starts by itself as the service's main process exits (its thread, or reap())
// (native/prepared_restart.cc, src/supervise/prepared-restart.ts): taken only when nothing
// between the exit and the next start needs JavaScript, and seen by logs, child.pid, status
// and the log file exactly as any restart.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gone, sandbox, signal, waitFor, waitForStatus, DEADLINE_MS } from './cli-helpers.mjs';

const require = createRequire(import.meta.url);
const { serviceCgroupTree } = require('../dist/process/cgroup.js');
const { restartNeedsNoJavaScript } = require('../dist/supervise/prepared-restart.js');

const noCgroup = serviceCgroupTree() === undefined ? 'needs root and a writable cgroup2 hierarchy (the addon asks cgroup.events)' : false;

const RESTART_MS = 100;
const LATE_CANCEL_PRELOAD = fileURLToPath(new URL('./fixtures/late-cancel-preload.cjs', import.meta.url));

/**
 * Until the first run's restart is prepared and due: prepared right after the start, due once
 * the (shortened) 1 s rule has passed, which the addon checks itself at the exit.
 */
async function restartDue(box, argv0) {
  await waitFor(() => box.restartsPrepared(argv0) === 1, { timeout: DEADLINE_MS, message: 'the restart prepared' });
  await new Promise((resolve) => setTimeout(resolve, RESTART_MS + 50));
}

/** The pid of the next `started` line after the ones already seen. */
function nextStart(run, seen) {
  return waitFor(() => run.startedPids[seen], { timeout: DEADLINE_MS, message: `start ${seen + 1} (stderr: ${run.stderr})` });
}

describe('a prepared restart (started by the addon)', { skip: noCgroup }, () => {
  test('after kill -9: started again by the addon, logged in order, child.pid and status name it, each run\'s unfinished line ended', async (t) => {
    const box = sandbox(t, { restartMs: RESTART_MS, spawnClock: true });
    const log = box.path('app.log');
    // Each run writes a line without its newline, then waits: only the supervisor can end it.
    const script = box.write('run.sh', '#!/bin/sh\nprintf "run $$"\nexec sleep 100000\n', 0o755);
    const run = box.start(['-n', '-ctl', 'prep', '-l', log, script]);
    const first = await nextStart(run, 0);
    await restartDue(box, script);
    process.kill(first, 'SIGKILL');
    const second = await nextStart(run, 1);
    const spawns = box.spawnClock(script);
    assert.deepEqual(spawns.map((s) => s.via), ['spawn', 'reap'], JSON.stringify(spawns));
    const lines = run.logLines.map((line) => line.replace(/^\S+ prep: /, ''));
    assert.deepEqual(lines.slice(0, 3), [`started ${first}: ${script}`, `pid ${first} exited on SIGKILL`, `started ${second}: ${script}`]);
    assert.equal(fs.readFileSync(path.join(box.env.IMMORTAL_SDIR, 'prep', 'child.pid'), 'utf8'), `${second}\n`);
    await waitForStatus(box.ctlSocket('prep'), (status) => status.pid === second && /^up /.test(status.status ?? 'up '));
    assert.equal(await signal(box.ctlSocket('prep'), 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.deepEqual(fs.readFileSync(log, 'utf8').split('\n'), [`run ${first}`, `run ${second}`, '']);
    assert.ok(gone(second));
  });

  test('a run that leaves a process in the cgroup is not restarted by the addon: what was left is stopped first', async (t) => {
    const box = sandbox(t, { restartMs: RESTART_MS, spawnClock: true });
    const script = box.write('left.sh', '#!/bin/sh\nsleep 100001 &\nexec sleep 100002\n', 0o755);
    const run = box.start(['-n', '-ctl', 'left', script]);
    const first = await nextStart(run, 0);
    await restartDue(box, script);
    process.kill(first, 'SIGKILL');
    await nextStart(run, 1);
    assert.deepEqual(box.spawnClock(script).map((s) => s.via), ['spawn', 'spawn']);
    assert.match(run.stderr, /stopping 1 process left of the last run\n.*started /s);
    assert.equal(await signal(box.ctlSocket('left'), 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });

  test('down while running: the exit that follows is not restarted', async (t) => {
    const box = sandbox(t, { restartMs: RESTART_MS, spawnClock: true });
    const run = box.start(['-n', '-ctl', 'dn', 'sleep', '100003']);
    await nextStart(run, 0);
    await restartDue(box, 'sleep');
    assert.equal(await signal(box.ctlSocket('dn'), 'down'), '');
    await waitForStatus(box.ctlSocket('dn'), (status) => status.down !== undefined);
    assert.equal(run.startedPids.length, 1);
    assert.equal(await signal(box.ctlSocket('dn'), 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });
});

describe('the restart thread (the addon restarts as the process exits, before the reap)', { skip: noCgroup }, () => {
  test('down just after the thread restarted the service: the unwanted new run is killed, the service is down', async (t) => {
    const box = sandbox(t, { restartMs: RESTART_MS, spawnClock: true });
    box.nodeArgs.push('--require', LATE_CANCEL_PRELOAD);
    const run = box.start(['-n', '-ctl', 'late', 'sleep', '100004']);
    const first = await nextStart(run, 0);
    await restartDue(box, 'sleep');
    // The preload kills `first` inside the cancel that `down` makes, and lets the thread restart it.
    assert.equal(await signal(box.ctlSocket('late'), 'down'), '');
    await waitForStatus(box.ctlSocket('late'), (status) => status.down !== undefined);
    const spawns = box.spawnClock('sleep');
    assert.deepEqual(spawns.map((s) => s.via), ['spawn', 'reap'], JSON.stringify(spawns));
    const killed = await waitFor(() => /not wanted any more: killing (\d+)/.exec(run.stderr)?.[1], { timeout: DEADLINE_MS, message: `the kill (stderr: ${run.stderr})` });
    await waitFor(() => gone(Number(killed)), { timeout: DEADLINE_MS, message: `${killed} gone` });
    assert.deepEqual(run.startedPids, [first], 'no start of the unwanted run is logged');
    assert.equal(await signal(box.ctlSocket('late'), 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });
});

describe('which services the addon may restart', () => {
  const plain = {
    pid: {}, postExit: undefined, require: [], requireCmd: undefined, ready: undefined, retries: -1, listen: [], envDir: undefined,
  };
  test('a plain service: yes', () => {
    assert.equal(restartNeedsNoJavaScript(plain, {}), true);
  });
  for (const [key, change] of [
    ['pid.follow', { pid: { follow: '/run/x.pid' } }],
    ['post_exit', { postExit: 'true' }],
    ['require_cmd', { requireCmd: 'true' }],
    ['ready', { ready: { timeout: 5 } }],
    ['retries', { retries: 3 }],
    ['listen', { listen: [{ kind: 'tcp', host: '127.0.0.1', port: 1 }] }],
    ['envdir', { envDir: '/etc/app/env' }],
  ]) {
    test(`with ${key}: no (JavaScript decides between the exit and the start)`, () => {
      assert.equal(restartNeedsNoJavaScript({ ...plain, ...change }, {}), false);
    });
  }
  test('require: counts only where it is asked (immortaldir)', () => {
    assert.equal(restartNeedsNoJavaScript({ ...plain, require: ['db'] }, {}), true);
    assert.equal(restartNeedsNoJavaScript({ ...plain, require: ['db'] }, { requireCheck: async () => undefined }), false);
  });
});
