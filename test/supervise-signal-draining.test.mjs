// A signal that arrives while a stop waits for the rest of the service's process group
// (the leader exited on TERM, a member ignores it) reaches that group: the operator can
// hurry a slow stop with `kill`/`usr1` instead of getting an internal error (issue 16 #2).
// docs/reliability.md "Signals during a stop".

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { gone, sandbox, signal, waitForFile, waitForStatus, waitGone } from './cli-helpers.mjs';

/** The leader exits on TERM; a member of its group ignores TERM and sleeps on. */
function leaderWithStubbornMember(box) {
  return box.write('service.sh', `#!/bin/sh
sh -c 'trap "" TERM; echo $$ > ${box.path('member.pid')}; exec sleep 1000' &
exec sleep 1001
`, 0o755);
}

/** The run's leader and its TERM-ignoring member, once both are up. */
async function currentRun(box, sock, count) {
  const { pid } = await waitForStatus(sock, (s) => s.count === count && s.pid > 0);
  const member = Number(await waitForFile(box.path('member.pid'), (text) => text.endsWith('\n')));
  fs.rmSync(box.path('member.pid')); // the next run writes its own
  return { leader: pid, member };
}

/** `down`; once the leader is gone and the member holds the stop open, send `sig`: it must reach the member. */
async function signalWhileDraining(sock, { leader, member }, sig) {
  assert.equal(await signal(sock, 'down'), '');
  // The leader is gone (status shows no pid); the member ignores TERM and keeps the stop going.
  await waitGone(leader);
  await waitForStatus(sock, (s) => s.pid === 0);
  assert.ok(!gone(member), 'the member ignores TERM and is still there');
  assert.equal(await signal(sock, sig), '');
  await waitGone(member);
}

test('down, then usr1 or kill while the group drains: the signal reaches the group, the stop ends, nothing is left', async (t) => {
  const box = sandbox(t, { restartMs: 50 });
  // A long stop_timeout: without the signal the drain would outlast the test's deadlines.
  const yml = box.write('drain.yml', `cmd: ${leaderWithStubbornMember(box)}\nstop_timeout: 300\n`);
  const run = box.start(['-n', '-ctl', 'drain', '-c', yml]);
  const sock = box.ctlSocket('drain');

  // USR1's default action ends the sleep: the group is empty and the stop completes long
  // before stop_timeout — seen by `up`, which starts the command again only once it has.
  const first = await currentRun(box, sock, 1);
  await signalWhileDraining(sock, first, 'usr1');
  assert.equal(await signal(sock, 'up'), '');
  const second = await currentRun(box, sock, 2);
  assert.notEqual(second.leader, first.leader);

  // KILL, as an operator hurrying a stop sends it; the supervisor then exits at once on SIGTERM.
  await signalWhileDraining(sock, second, 'kill');
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  assert.deepEqual(box.processes(), []);
});

test('a signal to a service that is down answers "no running process"', async (t) => {
  const box = sandbox(t);
  const run = box.start(['-n', '-ctl', 'idle', 'sleep', '60']);
  const sock = box.ctlSocket('idle');
  const st = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
  assert.equal(await signal(sock, 'down'), '');
  await waitGone(st.pid);
  await waitForStatus(sock, (s) => s.pid === 0);
  // sleep leaves no group behind: the stop was over with its exit, nothing is signalled.
  assert.equal(await signal(sock, 'usr1'), 'no running process');
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});
