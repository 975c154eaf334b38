// immortal restarts its command: the 1 s rule, retries (-r and run.yml), wait, require_cmd,
// post_exit, and no zombies along the way. SPEC §1 (restart rule, -r, -w) and §2.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import path from 'node:path';
import fs from 'node:fs';
import {
  assertNoZombies, EXAMPLE_DIR, fileLines, sandbox, signal, status, waitFor, waitForStatus,
} from './cli-helpers.mjs';

/** Seconds.nanoseconds timestamps (from `date +%s.%N`) as milliseconds. */
function stampsMs(text) {
  return text.split('\n').filter((line) => /^\d+\.\d+$/.test(line)).map((line) => {
    const [s, ns] = line.split('.');
    return Number(s) * 1000 + Number(ns.padEnd(9, '0')) / 1e6;
  });
}

/**
 * The 1 s rule on the supervisor's own clock (box.spawnClock): each spawn is entered 1000 ms or
 * more after the previous one returned, the moment its process existed. Exact, unlike a stamp
 * the child takes, which lags its own start by a start-up a busy VM stretches (seen: 999.5 ms
 * between two `date` stamps, the first `date` 0.5 ms slower to read the clock). Not much more
 * either: the rule delays restarts, it must not turn into a longer pause.
 */
function assertStartsApart(spawns, expected) {
  assert.ok(spawns.length >= 3 && spawns.length === expected, `${spawns.length} spawns recorded, ${expected} starts logged`);
  for (let i = 1; i < spawns.length; i++) {
    const gap = spawns[i].calledMs - spawns[i - 1].returnedMs;
    assert.ok(gap >= 1000, `start ${i + 1} came ${gap.toFixed(3)} ms after start ${i} existed`);
    assert.ok(gap < 3000, `start ${i + 1} came ${gap.toFixed(3)} ms after start ${i} existed`);
  }
}

/** A status `down` duration ("0.6s", "1m2.0s"…) in seconds. */
function downSeconds(text) {
  let seconds = 0;
  for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)([dhms])/g)) {
    seconds += Number(value) * { d: 86400, h: 3600, m: 60, s: 1 }[unit];
  }
  return seconds;
}

describe('the 1 s rule (real timing, no test override)', () => {
  test('a command that exits at once is started again, each start at least 1000 ms after the previous one', async (t) => {
    const box = sandbox(t, { spawnClock: true });
    // Its stdout is the supervisor's (foreground, no -l): one line per start.
    const run = box.start(['-n', '-ctl', 'tick', 'date', '+%s.%N']);
    await run.waitForStdout(/(\d+\.\d+\n){3}/);
    assert.equal(await signal(box.ctlSocket('tick'), 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.equal(run.startedPids.length, stampsMs(run.stdout).length, run.stderr);
    assertStartsApart(box.spawnClock('date'), run.startedPids.length);
  });

  test('IMMORTAL_TEST_RESTART_MS=10 has no effect on the real CLI: starts stay 1000 ms or more apart', async (t) => {
    const box = sandbox(t, { spawnClock: true });
    const run = box.start(['-n', '-ctl', 'env', 'date', '+%s.%N'], { env: { IMMORTAL_TEST_RESTART_MS: '10' } });
    await run.waitForStdout(/(\d+\.\d+\n){3}/);
    assert.equal(await signal(box.ctlSocket('env'), 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assertStartsApart(box.spawnClock('date'), run.startedPids.length);
  });

  test('only the test preload shortens the rule (the check above would see it)', async (t) => {
    const box = sandbox(t, { restartMs: 10 });
    assert.ok(box.nodeArgs.length > 0, 'the sandbox runs the CLI with the preload');
    const run = box.start(['-n', '-r', '1', '-ctl', 'pre', 'date', '+%s.%N']);
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    const starts = stampsMs(run.stdout);
    assert.equal(starts.length, 2, run.stdout);
    assert.ok(starts[1] - starts[0] < 1000, `second start ${(starts[1] - starts[0]).toFixed(1)} ms after the first`);
  });

  test("`immortal -n sh -c 'echo hi; sleep 1'` restarts it forever, starts 1 s or more apart", async (t) => {
    const box = sandbox(t);
    const stamps = box.path('stamps');
    const run = box.start(['-n', '-ctl', 'hi', 'sh', '-c', `echo hi; date +%s.%N >> ${stamps}; sleep 1`]);
    await run.waitForStdout(/(hi\n){3}/);
    const sock = box.ctlSocket('hi');
    const seen = await status(sock);
    assert.ok(seen.count >= 3, JSON.stringify(seen));
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    const starts = stampsMs(fs.readFileSync(stamps, 'utf8'));
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i] - starts[i - 1] >= 1000, `gap ${starts[i] - starts[i - 1]} ms`);
    assert.ok(run.stderr.match(/ started \d+: sh -c echo hi;/g).length >= 3, run.stderr);
  });
});

describe('retries', { concurrency: true }, () => {
  // `runs` gets one line per start; the command fails every time.
  const failing = (box) => ['sh', '-c', `echo run >> ${box.path('runs')}; exit 3`];

  test('-r 0 runs the command once, then the supervisor exits', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const run = box.start(['-n', '-r', '0', '-ctl', 'once', ...failing(box)]);
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.deepEqual(fileLines(box.path('runs')), ['run']);
    assert.equal(run.startedPids.length, 1);
    assert.match(run.stderr, /retries used up/);
    assert.ok(!fs.existsSync(path.join(box.sdir, 'once', 'lock')), 'lock removed on exit');
  });

  test('-r 2 runs the command at most 3 times, then the supervisor exits', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const run = box.start(['-n', '-r', '2', '-ctl', 'three', ...failing(box)]);
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.deepEqual(fileLines(box.path('runs')), ['run', 'run', 'run']);
    assert.equal(run.startedPids.length, 3);
  });

  test('-r -1 (and the default) restarts forever', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const forever = box.start(['-n', '-r', '-1', '-ctl', 'forever', ...failing(box)]);
    const byDefault = box.start(['-n', '-ctl', 'default', 'sh', '-c', `echo run >> ${box.path('runs2')}; exit 1`]);
    // Five runs: more than any finite -r here allows. (Past the third quick exit the crash-loop
    // backoff adds 1 s, 2 s…, so waiting for many more would only make the test slow.)
    await waitFor(() => fileLines(box.path('runs')).length >= 5 && fileLines(box.path('runs2')).length >= 5,
      { timeout: 15000, message: 'five runs each' });
    for (const [run, name] of [[forever, 'forever'], [byDefault, 'default']]) {
      assert.equal(run.exitStatus, undefined, `${name} supervisor still running`);
      const st = await status(box.ctlSocket(name));
      assert.ok(st.count >= 5, JSON.stringify(st));
      await assertNoZombies(run.pid);
      assert.equal(await signal(box.ctlSocket(name), 'halt'), '');
      assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    }
  });

  test('retries in a run.yml: the service goes down after n+1 runs, the supervisor keeps running and can start it again', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    // example/retries.yml: `cmd: false`, `retries: 2`.
    const run = box.start(['-n', '-ctl', 'svc', '-c', path.join(EXAMPLE_DIR, 'retries.yml')]);
    const sock = box.ctlSocket('svc');
    const down = await waitForStatus(sock, (s) => s.count === 3 && s.down !== undefined && s.pid === 0);
    assert.equal(down.cmd, 'false');
    assert.match(down.down, /^\d+\.\ds$|^(\d+[dhm])+\d+\.\ds$/);
    // Retries used up: it stays down and the supervisor stays up. Ten restart periods (50 ms)
    // by the supervisor's own clock pass with no fourth start.
    const stillDown = await waitForStatus(sock, (s) => s.down !== undefined && downSeconds(s.down) >= 0.5);
    assert.equal(stillDown.count, 3, JSON.stringify(stillDown));
    assert.equal(run.startedPids.length, 3, run.stderr);
    assert.equal(run.exitStatus, undefined, 'supervisor keeps running');
    // `up` gives it a fresh set of retries.
    assert.equal(await signal(sock, 'up'), '');
    await waitForStatus(sock, (s) => s.count === 6 && s.down !== undefined);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });

  test('retries in a run.yml with IMMORTAL_EXIT set: the supervisor exits once they are used up', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const run = box.start(['-n', '-ctl', 'svc', '-c', path.join(EXAMPLE_DIR, 'retries.yml')], { env: { IMMORTAL_EXIT: '1' } });
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.equal(run.startedPids.length, 3, run.stderr);
    assert.ok(!fs.existsSync(box.ctlSocket('svc')), 'socket removed');
  });
});

describe('wait, require_cmd, post_exit', { concurrency: true }, () => {
  test('-w 1 waits a second before the first start; status says so meanwhile', async (t) => {
    const box = sandbox(t);
    const launchedAt = Date.now();
    const run = box.start(['-n', '-w', '1', '-ctl', 'late', 'sleep', '60']);
    const sock = box.ctlSocket('late');
    const before = await waitForStatus(sock);
    if (Date.now() - launchedAt < 900) {
      assert.equal(before.count, 0, JSON.stringify(before));
      assert.equal(before.pid, 0);
      assert.match(before.status, /^Starting in \d+\.\d seconds$/);
    }
    const after = await waitForStatus(sock, (s) => s.count === 1);
    assert.ok(Date.now() - launchedAt >= 1000);
    const startedAtMs = Date.parse(run.logLines.find((line) => / started /.test(line)).split(' ')[0]);
    assert.ok(startedAtMs - launchedAt >= 1000, `started ${startedAtMs - launchedAt} ms after launch`);
    assert.match(after.up, /s$/);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });

  test('run.yml wait: also delays the first start', async (t) => {
    const box = sandbox(t);
    const yml = box.write('late.yml', 'cmd: sleep 60\nwait: 1.5\n');
    const launchedAt = Date.now();
    const run = box.start(['-n', '-c', yml]);
    const sock = path.join(box.home, '.immortal', 'late', 'immortal.sock');
    await waitForStatus(sock, (s) => s.count === 1);
    const startedAtMs = Date.parse(run.logLines.find((line) => / started /.test(line)).split(' ')[0]);
    assert.ok(startedAtMs - launchedAt >= 1500, `started ${startedAtMs - launchedAt} ms after launch`);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });

  test('require_cmd is checked before each start: nothing starts until it exits 0', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const ready = box.path('ready');
    const checks = box.path('checks');
    // Each check leaves a line: the test counts failed checks instead of watching the clock.
    const check = box.write('check.sh', `#!/bin/sh\necho check >> ${checks}\ntest -f ${ready}\n`, 0o755);
    const yml = box.write('gated.yml', `cmd: sleep 60\nrequire_cmd: ${check}\n`);
    const run = box.start(['-n', '-ctl', 'gated', '-c', yml]);
    const sock = box.ctlSocket('gated');
    const held = await waitForStatus(sock, (s) => /require_cmd/.test(s.status ?? ''));
    assert.equal(held.count, 0);
    await waitFor(() => fileLines(checks).length >= 3, { timeout: 15000, message: 'three failed checks' });
    assert.equal((await status(sock)).count, 0, 'still held back after three failed checks');
    fs.writeFileSync(ready, '');
    const first = await waitForStatus(sock, (s) => s.count === 1 && s.up !== undefined);
    // Second start: checked again. Remove the file, kill the service: no restart until it is back.
    fs.unlinkSync(ready);
    const checksBefore = fileLines(checks).length;
    assert.equal(await signal(sock, 'k'), '');
    await waitForStatus(sock, (s) => s.pid !== first.pid && /require_cmd/.test(s.status ?? ''));
    await waitFor(() => fileLines(checks).length >= checksBefore + 3, { timeout: 15000, message: 'three more failed checks' });
    assert.equal((await status(sock)).count, 1, 'not restarted while require_cmd fails');
    fs.writeFileSync(ready, '');
    await waitForStatus(sock, (s) => s.count === 2 && s.up !== undefined);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });

  test('post_exit runs after each exit with the exit code as its argument', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    const notes = box.path('notes');
    const notify = box.write('notify.sh', `#!/bin/sh\necho "code=$1" >> ${notes}\n`, 0o755);
    // cmd is split on whitespace with no shell, so the failing command is a script.
    const failer = box.write('fail.sh', '#!/bin/sh\nexit 7\n', 0o755);
    const yml = box.write('post.yml', `cmd: ${failer}\nretries: 1\npost_exit: ${notify}\n`);
    const run = box.start(['-n', '-ctl', 'post', '-c', yml], { env: { IMMORTAL_EXIT: '1' } });
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    assert.deepEqual(fileLines(notes), ['code=7', 'code=7']);
  });
});

describe('no zombies', () => {
  test('a service that double-forks leaves no zombie under the supervisor', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    // Each run leaves a short-lived grandchild behind; the supervisor is its subreaper.
    const script = box.write('fork.sh', '#!/bin/sh\n( sleep 0.2 & )\nexit 0\n', 0o755);
    const run = box.start(['-n', '-ctl', 'forky', script]);
    const sock = box.ctlSocket('forky');
    await waitForStatus(sock, (s) => s.count >= 4);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the last grandchildren exit meanwhile
    await assertNoZombies(run.pid);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  });
});
