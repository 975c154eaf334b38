// Bad pidfiles under -f. Whatever the command leaves in the pidfile — nothing, blanks,
// garbage, a negative number, pid 1, our own pid, a dead pid, a kernel thread, an unrelated
// live process, a pid recycled after the file was written — immortal must not follow it,
// must not exit, must not spin, and must start the command again under the normal rule.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { procStat, waitFor } from './helpers.mjs';
import { PYTHON, fixture, followHarness, readLines, readPid, untouched } from './fixtures/follow-harness.mjs';

// [what the operator would call it, pidfile content (daemon.py --write-content placeholders), extra args]
const CASES = [
  ['missing', null],
  ['empty', ''],
  ['whitespace only', ' \n\t \n'],
  ['garbage', 'unicorn master\n'],
  ['digits then garbage', '12abc\n'],
  ['hexadecimal', '0x1f\n'],
  ['a decimal point', '12.0\n'],
  ['two pids', '{ppid}\n{ppid}\n'],
  ['negative one (kill(-1) would hit everything)', '-1\n'],
  ['a negative pid', '-{ppid}\n'],
  ['zero', '0\n'],
  ['pid 1', '1\n'],
  ['the supervisor itself', '{ppid}\n'],
  ['the direct child that just exited', '{self}\n'],
  ['a dead pid', '{dead}\n'],
  ['beyond any pid_max', '99999999\n'],
  ['a kernel thread (kthreadd)', '{kthread}\n'],
  ['an unrelated live process older than the pidfile', '{unrelated}\n'],
  ['a pid recycled after the pidfile was written (our own descendant, younger than the file)', '{young}\n', ['--mtime-back', '60']],
];

describe('bad pidfiles: never followed, the command is started again, no exit, no spin', { concurrency: 5 }, () => {
  for (const [name, content, extra = []] of CASES) {
    test(name, async (t) => {
      const h = await followHarness(t);
      const pidfile = path.join(h.dir, 'service.pid');
      const unrelated = content?.includes('{unrelated}') ? h.unrelatedSleeper() : undefined;
      const argv = content === null
        ? ['/bin/sh', '-c', 'exit 0']
        : [PYTHON, fixture('daemon.py'), '--pidfile', pidfile,
          '--write-content', content.replace('{unrelated}', String(unrelated)), ...extra];
      const sv = h.start('bad', pidfile, argv, {});

      const seen = [];
      // Polled gently: the supervisor's CPU time below must be its own doing, not ours.
      const record = async (predicate, what) => sv.waitStatus((s) => {
        seen.push(s);
        return predicate(s);
      }, what, 30000, 100);
      await record((s) => s.count >= 1, 'the first start');
      const cpuBefore = sv.cpuMs();
      const runnableBefore = sv.runnableMs();
      const wallBefore = performance.now();
      // Two more starts: each one only after the grace period for the pidfile ran out.
      await record((s) => s.count >= 3, 'two restarts');
      const wallMs = performance.now() - wallBefore;
      const cpuMs = sv.cpuMs() - cpuBefore;
      const runnableMs = sv.runnableMs() - runnableBefore;

      assert.equal(sv.exitCode, undefined, 'immortal is still running');
      assert.deepEqual(sv.followedPids(), [], `nothing followed:\n${sv.logText()}`);
      for (const status of seen) assert.equal(status.fpid, false, `status: ${JSON.stringify(status)}`);
      // The 1 s rule plus the grace period bound the starts; a spin would show here first.
      assert.ok(sv.startedPids().length <= 2 + Math.ceil(wallMs / 1000), `${sv.startedPids().length} starts in ${Math.round(wallMs)} ms`);
      if (process.env.FOLLOW_TEST_LOGS) t.diagnostic(`cpu ${cpuMs} ms, runnable ${Math.round(runnableMs)} ms in ${Math.round(wallMs)} ms`);
      // No spin. CPU time alone cannot tell on two busy cores (a spinner shares them with
      // everyone else), but a spinner is runnable all the time — running or queued for a CPU
      // — while a supervisor that reacts to timers and events is mostly asleep: measured
      // ~30% runnable at load 13 on two cores (looking for a pid reads /proc every 10 ms for
      // a second after each exit), a spinner 80-95%.
      assert.ok(runnableMs <= 0.65 * wallMs, `immortal runnable ${Math.round(runnableMs)} ms of ${Math.round(wallMs)} ms (cpu ${cpuMs} ms)`);
      assert.ok(cpuMs <= 0.4 * wallMs, `immortal used ${cpuMs} ms CPU in ${Math.round(wallMs)} ms`);
      if (unrelated !== undefined) assert.ok(untouched(unrelated), 'the unrelated process was never signalled');
      if (content === '{kthread}\n') assert.ok(untouched(2) || procStat(2)?.state === 'I', 'kthreadd untouched');

      assert.equal(await sv.terminate(), 0);
      // Only {young} leaves processes behind on purpose: sleepers that were never followed.
      if (!content?.includes('{young}')) await h.assertAllGone();
    });
  }
});

describe('recycled pids at start-up', () => {
  test('a pidfile naming a process that started after the file was written is not followed: the command starts', async (t) => {
    const h = await followHarness(t);
    const pidfile = path.join(h.dir, 'daemon.pid');
    const marker = path.join(h.dir, 'starts');
    // The daemon that wrote this pidfile a minute ago is long gone; its pid now belongs to
    // a process that started after the file was written.
    const recycled = h.unrelatedSleeper();
    fs.writeFileSync(pidfile, `${recycled}\n`);
    const aMinuteAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(pidfile, aMinuteAgo, aMinuteAgo);

    const sv = h.start('recycled', pidfile, [PYTHON, fixture('daemon.py'), '--pidfile', pidfile, '--marker', marker]);
    const status = await sv.waitStatus((s) => s.fpid && s.pid === readPid(pidfile), 'the daemon the command started followed');
    assert.notEqual(status.pid, recycled);
    assert.deepEqual(sv.followedPids(), [status.pid]);
    assert.equal(status.count, 1);
    assert.equal(readLines(marker).length, 1, 'the command was started');
    assert.equal(await sv.terminate(), 0);
    assert.ok(untouched(recycled), 'the process owning the recycled pid was never signalled');
    await h.assertAllGone();
  });

  test('garbage in the pidfile at start-up: the command starts and its daemon is followed', async (t) => {
    const h = await followHarness(t);
    const pidfile = path.join(h.dir, 'daemon.pid');
    fs.writeFileSync(pidfile, 'not a pid\n');
    const sv = h.start('garbage-at-start', pidfile, [PYTHON, fixture('daemon.py'), '--pidfile', pidfile]);
    const status = await sv.waitStatus((s) => s.fpid && s.pid === readPid(pidfile), 'the daemon followed');
    assert.equal(status.count, 1);
    assert.equal(await sv.terminate(), 0);
    await h.assertAllGone();
    await waitFor(() => !fs.existsSync(pidfile), { message: 'the daemon removed its pidfile on TERM' });
  });
});
