// Crash loops: the 1 s rule as shipped, and the exponential backoff on top of it — visible in
// status and /metrics, capped, and forgotten once the service stays up for `backoff.reset`.

import test from 'node:test';
import assert from 'node:assert/strict';
import { metrics, sandbox, status, waitFor, waitForStatus } from './reliability-helpers.mjs';

/** Wall-clock ms of each `started` line in the supervisor's log, in order. */
function startTimes(run) {
  return [...run.stderr.matchAll(/^(\S+) \S+: started \d+: /gm)].map((m) => Date.parse(m[1]));
}

function gaps(times) {
  return times.slice(1).map((t, i) => t - times[i]);
}

test('without the test knob, a crash loop restarts once a second, then backs off', async (t) => {
  const box = sandbox(t);
  const run = box.start(['-n', '-ctl', 'rule', 'false']);
  // Starts at 0, 1, 2, 3 s (the 1 s rule alone), then 1 s rule + 1 s of backoff.
  await waitFor(() => startTimes(run).length >= 5, { timeout: 20000, message: '5 starts' });
  const starts = gaps(startTimes(run));
  // Log lines are stamped a little after each fork (the pidfile is written first): 10 ms slack.
  for (const gap of starts.slice(0, 3)) {
    assert.ok(gap >= 990 && gap < 2000, `1 s rule: gaps ${starts} ms`);
  }
  assert.ok(starts[3] >= 1995, `backoff after 3 free quick restarts: gaps ${starts} ms`);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('the shipped backoff defaults are a 30 s cap and a 60 s reset', async (t) => {
  const box = sandbox(t);
  const file = box.write('svc.yml', 'cmd: false\n');
  const run = box.start(['-cc', '-c', file]);
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  assert.match(run.stdout, /^backoff:\n {2}cap: 30\n {2}reset: 60$/m);
});

test('a crash loop backs off 1 s, 2 s… up to the cap; status and /metrics show it', async (t) => {
  const box = sandbox(t, { restartMs: 50 });
  const file = box.write('crash.yml', 'cmd: false\nbackoff: {cap: 2, reset: 60}\n');
  const sock = box.ctlSocket('crash');
  const run = box.start(['-n', '-c', file, '-ctl', 'crash']);

  const seen = new Set();
  await waitFor(async () => {
    const [doc, values] = await Promise.all([status(sock).catch(() => ({})), metrics(sock).catch(() => ({}))]);
    if (doc.status) seen.add(doc.status);
    if (values.immortal_backoff_seconds !== undefined) seen.add(`metric ${values.immortal_backoff_seconds}`);
    return doc.count >= 7;
  }, { timeout: 20000, interval: 50, message: '7 starts' });

  assert.ok(seen.has('backoff 1s') && seen.has('backoff 2s'), `status texts seen: ${[...seen]}`);
  assert.ok(seen.has('metric 2'), `immortal_backoff_seconds values seen: ${[...seen]}`);
  assert.ok(![...seen].some((s) => /backoff [3-9]|metric [3-9]/.test(s)), `cap exceeded: ${[...seen]}`);

  // Starts 4 quick ones 50 ms apart, then 1 s + 50 ms, then 2 s + 50 ms at the cap, twice.
  const starts = gaps(startTimes(run));
  assert.ok(starts.slice(0, 3).every((gap) => gap < 900), `free quick restarts: ${starts}`);
  assert.ok(starts[3] >= 1000 && starts[3] < 1900, `first backoff 1 s: ${starts}`);
  for (const gap of starts.slice(4, 6)) assert.ok(gap >= 2000 && gap < 2900, `capped at 2 s: ${starts}`);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('the backoff resets once the service stayed up for backoff.reset', async (t) => {
  const box = sandbox(t, { restartMs: 50 });
  const stay = box.path('stay');
  const script = box.write('flaky.sh', `#!/bin/sh\nif [ -e ${stay} ]; then sleep 1.5; fi\nexit 1\n`, 0o755);
  const file = box.write('flaky.yml', `cmd: ${script}\nbackoff: {cap: 1, reset: 1}\n`);
  const sock = box.ctlSocket('flaky');
  const run = box.start(['-n', '-c', file, '-ctl', 'flaky']);

  await waitForStatus(sock, (s) => s.status === 'backoff 1s', { timeout: 20000 });
  assert.equal((await metrics(sock)).immortal_backoff_seconds, 1);

  // From now on each run lasts 1.5 s ≥ reset: once one has ended, no delay is added.
  const { count } = await status(sock);
  box.write('stay', '');
  const after = await waitForStatus(sock, (s) => s.count >= count + 2 && s.up !== undefined, { timeout: 20000 });
  assert.equal((await metrics(sock)).immortal_backoff_seconds, 0);
  assert.equal(after.status, undefined);

  // The long run's exit and the next start: only the (shortened) 1 s rule between them.
  const lines = run.stderr.split('\n');
  const lastExit = lines.findLastIndex((l) => / exited with 1$/.test(l));
  const nextStart = lines.findIndex((l, i) => i > lastExit && / started \d+: /.test(l));
  const gap = Date.parse(lines[nextStart].split(' ')[0]) - Date.parse(lines[lastExit].split(' ')[0]);
  assert.ok(gap < 900, `restart after a long run took ${gap} ms:\n${run.stderr}`);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});
