// Stopping: SIGTERM/SIGINT to the supervisor stop the service gracefully (TERM to its whole
// process group, KILL after stop_timeout) and exit 0 with nothing left; SIGHUP is ignored.
// SPEC §1 "Supervisor signals", §7 "Graceful stop".

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  gone, procStat, sandbox, signal, status, waitForFile, waitForStatus, waitGone,
} from './cli-helpers.mjs';

/** A service that ignores TERM, with a grandchild in its process group that ignores it too. */
function stubbornService(box) {
  return box.write('stubborn.sh', `#!/bin/sh
trap '' TERM
sh -c 'trap "" TERM; echo $$ > ${box.path('grandchild.pid')}; while :; do sleep 0.05; done' &
echo $$ > ${box.path('service.pid')}
while :; do sleep 0.05; done
`, 0o755);
}

/** A service that exits on TERM but whose grandchild (same process group) ignores it. */
function leaderQuitsGrandchildStays(box) {
  return box.write('leader.sh', `#!/bin/sh
sh -c 'trap "" TERM; echo $$ > ${box.path('grandchild.pid')}; while :; do sleep 0.05; done' &
echo $$ > ${box.path('service.pid')}
wait
`, 0o755);
}

async function startedService(box, run, sock) {
  const st = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
  const servicePid = Number(await waitForFile(box.path('service.pid'), (text) => text.endsWith('\n')));
  const grandchildPid = Number(await waitForFile(box.path('grandchild.pid'), (text) => text.endsWith('\n')));
  assert.equal(servicePid, st.pid);
  // The grandchild shares the service's process group (the service is its group leader).
  assert.equal(procStat(grandchildPid).pgrp, st.pid);
  assert.equal(procStat(st.pid).pgrp, st.pid);
  return { servicePid, grandchildPid };
}

describe('graceful stop', { concurrency: true }, () => {
  test('SIGTERM: a service that ignores TERM is KILLed after stop_timeout, with its whole group; exit 0', async (t) => {
    const box = sandbox(t);
    const yml = box.write('stubborn.yml', `cmd: ${stubbornService(box)}\nstop_timeout: 1\n`);
    const run = box.start(['-n', '-ctl', 'stubborn', '-c', yml]);
    const { servicePid, grandchildPid } = await startedService(box, run, box.ctlSocket('stubborn'));
    const termAt = Date.now();
    run.kill('SIGTERM');
    // Still there shortly after TERM: it ignores it, and immortal waits for stop_timeout.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!gone(servicePid), 'service still running before stop_timeout');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    const took = Date.now() - termAt;
    assert.ok(took >= 1000, `exited ${took} ms after TERM, before stop_timeout`);
    assert.ok(took < 8000, `exited ${took} ms after TERM: the KILL came late (default 10 s used?)`);
    assert.ok(gone(servicePid), 'service killed');
    assert.ok(gone(grandchildPid), 'grandchild in the same group killed');
    assert.match(run.stderr, new RegExp(`pid ${servicePid} exited on SIGKILL`));
    assert.deepEqual(box.processes(), []);
  });

  test('SIGTERM: the leader exits on TERM, a grandchild ignoring it is KILLed at stop_timeout; nothing is orphaned', async (t) => {
    const box = sandbox(t);
    const yml = box.write('leader.yml', `cmd: ${leaderQuitsGrandchildStays(box)}\nstop_timeout: 1\n`);
    const run = box.start(['-n', '-ctl', 'leader', '-c', yml]);
    const { servicePid, grandchildPid } = await startedService(box, run, box.ctlSocket('leader'));
    run.kill('SIGTERM');
    await waitGone(servicePid);
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(gone(grandchildPid), 'grandchild killed with the group');
    assert.deepEqual(box.processes(), []);
  });

  test('SIGINT stops the service and the supervisor like SIGTERM', async (t) => {
    const box = sandbox(t);
    const yml = box.write('stubborn.yml', `cmd: ${stubbornService(box)}\nstop_timeout: 1\n`);
    const run = box.start(['-n', '-ctl', 'int', '-c', yml]);
    const { servicePid, grandchildPid } = await startedService(box, run, box.ctlSocket('int'));
    run.kill('SIGINT');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(gone(servicePid) && gone(grandchildPid));
    assert.deepEqual(box.processes(), []);
  });

  test('SIGTERM with a well-behaved service: it gets TERM (not KILL), and the supervisor exits at once', async (t) => {
    const box = sandbox(t);
    const run = box.start(['-n', '-ctl', 'polite', 'sleep', '60']);
    const st = await waitForStatus(box.ctlSocket('polite'), (s) => s.count === 1);
    const termAt = Date.now();
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(Date.now() - termAt < 5000, 'no stop_timeout wait for a service that obeys TERM');
    assert.match(run.stderr, new RegExp(`pid ${st.pid} exited on SIGTERM`));
    assert.ok(gone(st.pid));
  });

  test('halt over the socket stops the service and exits 0', async (t) => {
    const box = sandbox(t);
    const yml = box.write('stubborn.yml', `cmd: ${stubbornService(box)}\nstop_timeout: 1\n`);
    const run = box.start(['-n', '-ctl', 'halt', '-c', yml]);
    const { servicePid, grandchildPid } = await startedService(box, run, box.ctlSocket('halt'));
    assert.equal(await signal(box.ctlSocket('halt'), 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.ok(gone(servicePid) && gone(grandchildPid));
    assert.deepEqual(box.processes(), []);
  });
});

describe('stopping before anything runs', { concurrency: true }, () => {
  test('SIGTERM during -w: exits 0 at once, nothing is ever started', async (t) => {
    const box = sandbox(t);
    const run = box.start(['-n', '-ctl', 'early', '-w', '30', 'sleep', '60']);
    const st = await waitForStatus(box.ctlSocket('early'));
    assert.equal(st.count, 0);
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(5000), { code: 0, signal: null });
    assert.doesNotMatch(run.stderr, / started /);
  });

  test('SIGINT while require_cmd holds the start back: exits 0, nothing started', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const yml = box.write('held.yml', 'cmd: sleep 60\nrequire_cmd: "false"\n');
    const run = box.start(['-n', '-ctl', 'held', '-c', yml]);
    await waitForStatus(box.ctlSocket('held'), (s) => /require_cmd/.test(s.status ?? ''));
    run.kill('SIGINT');
    assert.deepEqual(await run.waitExit(5000), { code: 0, signal: null });
    assert.doesNotMatch(run.stderr, / started /);
  });
});

describe('SIGHUP', () => {
  test('is ignored: supervisor and service keep running, no restart', async (t) => {
    const box = sandbox(t);
    const run = box.start(['-n', '-ctl', 'hup', 'sleep', '60']);
    const sock = box.ctlSocket('hup');
    const before = await waitForStatus(sock, (s) => s.count === 1);
    run.kill('SIGHUP');
    run.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(run.exitStatus, undefined, 'supervisor survived SIGHUP');
    const after = await status(sock);
    assert.equal(after.pid, before.pid);
    assert.equal(after.count, 1);
    assert.ok(!gone(before.pid));
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });
});
