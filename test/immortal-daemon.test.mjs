// Detaching (no -n): the launcher returns 0 only once the child has started, or prints the
// start error and exits 1; the supervisor runs in a new session with stdio on /dev/null.
// With -n it stays the process we started. SPEC §1 (-n).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import {
  fdTarget, procStat, request, sandbox, sessionOf, signal, status, waitForStatus, waitGone,
} from './cli-helpers.mjs';

describe('daemon mode', { concurrency: true }, () => {
  test('the launcher exits 0 once the child runs; the supervisor is detached with stdio on /dev/null', async (t) => {
    const box = sandbox(t);
    const childPidfile = box.path('child.pid');
    const parentPidfile = box.path('parent.pid');
    const result = await box.run(['-ctl', 'bg', '-p', childPidfile, '-P', parentPidfile, 'sleep', '60']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, '', 'the launcher says nothing on success');
    // Already started when the launcher returned: no waiting needed.
    const childPid = Number(fs.readFileSync(childPidfile, 'utf8'));
    const supervisorPid = Number(fs.readFileSync(parentPidfile, 'utf8'));
    const sock = box.ctlSocket('bg');
    const st = await status(sock);
    assert.equal(st.count, 1);
    assert.equal(st.pid, childPid);
    assert.notEqual(supervisorPid, result.pid);
    // New session, no controlling terminal ties, stdio on /dev/null, for it and the child.
    assert.equal(sessionOf(supervisorPid), supervisorPid, 'supervisor leads its own session');
    assert.notEqual(sessionOf(supervisorPid), sessionOf(process.pid));
    assert.equal(procStat(childPid).ppid, supervisorPid);
    for (const pid of [supervisorPid, childPid]) {
      for (const fd of [0, 1, 2]) assert.equal(fdTarget(pid, fd), '/dev/null', `pid ${pid} fd ${fd}`);
    }
    assert.equal(await signal(sock, 'halt'), '');
    await waitGone(supervisorPid);
    await waitGone(childPid);
    assert.ok(!fs.existsSync(sock));
    assert.ok(!fs.existsSync(parentPidfile));
  });

  test('a start error reaches the launcher: one line, exit 1, no daemon left', async (t) => {
    const box = sandbox(t);
    const result = await box.run(['-ctl', 'bad', 'no-such-command-immortal-test']);
    assert.equal(result.code, 1);
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /no-such-command-immortal-test/);
    assert.deepEqual(box.processes(), []);
    assert.ok(!fs.existsSync(box.ctlSocket('bad')));
  });

  test('a start error with a slow logger: the launcher returns only once the detached copy is gone', async (t) => {
    const box = sandbox(t);
    // The logger ignores end of input: closing it takes the detached copy over a second
    // (grace, then TERM). The launcher's exit 1 must still mean nothing is left.
    const result = await box.run(['-ctl', 'badlog', '-logger', 'sleep 30', 'no-such-command-immortal-test']);
    assert.equal(result.code, 1);
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /no-such-command-immortal-test/);
    assert.deepEqual(box.processes(), []);
    assert.ok(!fs.existsSync(box.ctlSocket('badlog')));
  });

  test('with -w the launcher waits for the start', async (t) => {
    const box = sandbox(t);
    const launchedAt = Date.now();
    const result = await box.run(['-ctl', 'slow', '-w', '0.7', 'sleep', '60']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - launchedAt >= 700, 'returned only after the delayed start');
    const sock = box.ctlSocket('slow');
    const st = await status(sock);
    assert.equal(st.count, 1);
    assert.equal(await signal(sock, 'halt'), '');
    await waitGone(st.pid);
    await waitForGoneSupervisor(box);
  });

  test('a command that exits at once still counts as started: exit 0, and it is restarted', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const result = await box.run(['-ctl', 'quick', 'true']);
    assert.equal(result.code, 0, result.stderr);
    const sock = box.ctlSocket('quick');
    await waitForStatus(sock, (s) => s.count >= 3);
    assert.equal(await signal(sock, 'halt'), '');
    await waitForGoneSupervisor(box);
  });
});

describe('foreground (-n)', () => {
  test('the process we started is the supervisor and the child is its child', async (t) => {
    const box = sandbox(t);
    const run = box.start(['-n', '-ctl', 'fg', 'sleep', '60']);
    const st = await waitForStatus(box.ctlSocket('fg'), (s) => s.count === 1 && s.pid > 0);
    assert.equal(procStat(st.pid).ppid, run.pid);
    assert.equal(sessionOf(run.pid), sessionOf(process.pid), 'not detached');
    // The child gets its own session and process group (so the whole group can be stopped).
    assert.equal(sessionOf(st.pid), st.pid);
    assert.match(run.stderr, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z fg: started ${st.pid}: sleep 60$`, 'm'));
    // The status document, key order included, as the Go original sends it.
    const { body } = await request(box.ctlSocket('fg'), '/');
    assert.match(body, new RegExp(`^\\{"pid":${st.pid},"up":"\\d+\\.\\ds","cmd":"sleep 60","fpid":false,"count":1\\}\\n$`));
    run.kill('SIGTERM');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });
});

/** Waits until no process from the sandbox is left (the detached supervisor has exited). */
async function waitForGoneSupervisor(box) {
  const deadline = Date.now() + 15000;
  while (box.processes().length > 0) {
    if (Date.now() > deadline) throw new Error(`still running: ${box.processes().join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
