// immortaldir with many services in one process: 20 at once all listed by immortalctl, and
// per-service isolation: while one service crash-loops as fast as it is allowed to, floods
// its log, or is stuck on a full output pipe, every other service's status still answers
// within 50 ms (the number) of what the same request costs without the troublemaker.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import test from 'node:test';
import { sleep, waitFor } from './cli-helpers.mjs';
import { IMMORTALCTL, startDir, waitPidGone } from './fixtures/dir-harness.mjs';

/** The issue: status of every service answers within 50 ms while one service crash-loops. */
const STATUS_BOUND_MS = 50;

test('20 services dropped in at once all start, and immortalctl lists all 20', async (t) => {
  const files = {};
  for (let i = 0; i < 20; i++) files[`svc${String(i).padStart(2, '0')}`] = `cmd: sleep ${3700 + i}\n`;
  const dir = await startDir(t, { restartMs: 50, files });
  const statuses = {};
  for (const name of Object.keys(files)) statuses[name] = await dir.waitRunning(name);
  assert.equal(new Set(Object.values(statuses).map((s) => s.pid)).size, 20, 'twenty distinct pids');

  const { code, stdout, stderr } = await runCtl([], dir.box.env);
  assert.equal(code, 0, stderr);
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  assert.match(lines[0], /^\s*PID\s+Up\s+Down\s+Name\s+CMD\s*$/);
  const rows = lines.slice(1).map((line) => line.trim().split(/\s+/));
  assert.equal(rows.length, 20, stdout);
  for (const [name, s] of Object.entries(statuses)) {
    const row = rows.find((r) => r.includes(name));
    assert.ok(row, `${name} listed:\n${stdout}`);
    assert.equal(Number(row[0]), s.pid, `${name}'s pid`);
    assert.equal(row.slice(-2).join(' '), s.cmd, `${name}'s cmd`);
  }

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  for (const s of Object.values(statuses)) await waitPidGone(s.pid, 1000);
});

test('one service crash-loops: status of 10 others answers within 50 ms every time', async (t) => {
  const files = { crash: 'cmd: false\nbackoff: {cap: 0}\n' };
  for (let i = 0; i < 10; i++) files[`calm${i}`] = `cmd: sleep ${3800 + i}\n`;
  // 1 ms instead of the 1 s rule and no backoff: the tightest loop a service can cause.
  const dir = await startDir(t, { restartMs: 1, files });
  const control = await startCalmDir(t, 10, 3860);
  const calm = await runningExcept(dir, files, 'crash');
  const crashBefore = await waitCount(dir, 'crash', 20);

  const latency = await compareStatusLatency(t, { dir, expected: calm }, control);
  const crashAfter = (await dir.status('crash')).count;
  t.diagnostic(`during the crash loop: ${latency.summary}; crash restarted ${crashAfter - crashBefore} times`);
  assert.ok(crashAfter - crashBefore >= 20, `the crash loop kept going (${crashBefore} → ${crashAfter})`);
  latency.assertWithinBound();

  for (const d of [dir, control.dir]) assert.deepEqual(await d.stop(), { code: 0, signal: null });
  for (const s of [...Object.values(calm), ...Object.values(control.expected)]) await waitPidGone(s.pid, 1000);
});

test('a service whose output nobody reads stalls no one: the others answer within 50 ms', async (t) => {
  const files = { chatty: 'cmd: yes\n' };
  for (let i = 0; i < 5; i++) files[`calm${i}`] = `cmd: sleep ${3850 + i}\n`;
  // immortaldir's stdout (which `yes` writes to) is a pipe that nobody reads: it fills up.
  const dir = await startDir(t, { restartMs: 50, files, readStdout: false });
  const control = await startCalmDir(t, 5, 3870);
  const calm = await runningExcept(dir, files, 'chatty');
  await dir.waitForLog(/ chatty: started /);
  await sleep(200); // the pipe is full by now

  const latency = await compareStatusLatency(t, { dir, expected: calm }, control);
  t.diagnostic(`while the stdout pipe is full: ${latency.summary}`);
  latency.assertWithinBound();

  dir.drainStdout();
  for (const d of [dir, control.dir]) assert.deepEqual(await d.stop(), { code: 0, signal: null });
  for (const s of [...Object.values(calm), ...Object.values(control.expected)]) await waitPidGone(s.pid, 1000);
});

test('a service flooding its log file stalls no one: the others answer within 50 ms', async (t) => {
  const dir = await startDir(t, { restartMs: 50 });
  // `yes` writes as fast as the supervisor's log writer takes it, rotating at 1 MB.
  dir.write('chatty', `cmd: yes\nlog:\n  file: ${dir.box.path('chatty.log')}\n  size: 1\n  num: 7\n`);
  const files = {};
  for (let i = 0; i < 5; i++) files[`calm${i}`] = `cmd: sleep ${3880 + i}\n`;
  for (const [name, text] of Object.entries(files)) dir.write(name, text);
  const control = await startCalmDir(t, 5, 3890);
  const chatty = await dir.waitRunning('chatty');
  const calm = await runningExcept(dir, files);
  // The newest write in the rotated set: at 1 MB per file the copier rotates hundreds of times
  // a second, and chatty.log itself is absent between a rotation's rename and its open.
  const logged = () => {
    const stats = ['', '.1', '.2'].map((suffix) => fs.statSync(dir.box.path(`chatty.log${suffix}`), { throwIfNoEntry: false }));
    return stats.filter(Boolean).reduce((newest, st) => (st.mtimeMs > newest.mtimeMs ? st : newest), { size: 0, mtimeMs: 0 });
  };
  await waitFor(() => logged().size > 0, { message: 'chatty.log written' });
  const before = logged();

  const latency = await compareStatusLatency(t, { dir, expected: calm }, control);
  t.diagnostic(`while one service floods its log: ${latency.summary}`);
  latency.assertWithinBound();
  const still = await dir.status('chatty');
  assert.equal(still.pid, chatty.pid, 'the chatty service itself runs on');
  // Written since: the modification time moved. Not the inode: ext4 hands a rotation's new
  // file the inode its oldest file just freed, so every eighth file (num: 7) has the same one.
  const after = logged();
  assert.ok(after.mtimeMs > before.mtimeMs,
    `and it kept logging meanwhile (chatty.log last written ${before.mtimeMs} → ${after.mtimeMs})`);

  for (const d of [dir, control.dir]) assert.deepEqual(await d.stop(), { code: 0, signal: null });
  for (const s of [chatty, ...Object.values(calm), ...Object.values(control.expected)]) await waitPidGone(s.pid, 1000);
});

// Node makes its own stdio non-blocking; services must get a blocking descriptor all the same
// (src/log/inherited-stdio.ts), or `yes` would die of EAGAIN instead of waiting.
test('a service writing into a full pipe is held back by it, not failed', async (t) => {
  const dir = await startDir(t, { restartMs: 50, files: { chatty: 'cmd: yes\n' }, readStdout: false });
  const first = await dir.waitRunning('chatty');
  await sleep(500);
  const later = await dir.status('chatty');
  dir.drainStdout();
  assert.equal(later.pid, first.pid, `yes was restarted (count ${later.count}); log: ${dir.stderr.slice(0, 500)}`);
  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
});

/** A second immortaldir with `count` quiet services: the machine's own noise, measured alike. */
async function startCalmDir(t, count, firstSeconds) {
  const files = {};
  for (let i = 0; i < count; i++) files[`quiet${i}`] = `cmd: sleep ${firstSeconds + i}\n`;
  const dir = await startDir(t, { restartMs: 50, files });
  return { dir, expected: await runningExcept(dir, files) };
}

async function runningExcept(dir, files, skip) {
  const statuses = {};
  for (const name of Object.keys(files)) if (name !== skip) statuses[name] = await dir.waitRunning(name);
  return statuses;
}

/**
 * Status of every service of `subject` and of `control` ({dir, expected: {name: status}}),
 * interleaved request by request over one keep-alive connection per service, for at least
 * 50 rounds and at least a second. Every answer must still show the expected pid.
 *
 * The bound is the 50 ms on top of what the machine itself costs right now: the
 * control is another immortaldir with the same quiet services and no troublemaker, so on an
 * idle machine the bound is ~50 ms, and a CI host loaded ten times over its cores (where any
 * process waits tens of ms for a CPU) does not fail the test for that alone. What the bound
 * catches is latency that the troublemaking service adds: an event loop held by the crash
 * loop or blocked on a full pipe.
 */
async function compareStatusLatency(t, subject, control) {
  const measure = makeTimer(t, subject);
  const measureControl = makeTimer(t, control);
  const samples = [];
  const controlSamples = [];
  // An answer over 50 ms is asked again at once; it counts only if the second answer is slow
  // too (over the bound computed below): a scheduler hiccup rarely hits twice in a row, a
  // held event loop does.
  const twiceSlow = [];
  const measureUntil = performance.now() + 1000;
  for (let round = 0; round < 50 || performance.now() < measureUntil; round++) {
    for (let index = 0; index < measure.count; index++) {
      const ms = await measure(index);
      samples.push(ms);
      if (ms >= STATUS_BOUND_MS) twiceSlow.push(Math.min(ms, await measure(index)));
      controlSamples.push(await measureControl(index % measureControl.count));
    }
  }
  const ordered = [...samples].sort((x, y) => x - y);
  const orderedControl = [...controlSamples].sort((x, y) => x - y);
  const at = (list, q) => list[Math.min(list.length - 1, Math.floor(q * list.length))];
  const bound = STATUS_BOUND_MS + at(orderedControl, 0.99);
  const confirmed = twiceSlow.filter((ms) => ms >= bound);
  const stats = (list) => `median ${at(list, 0.5).toFixed(2)} ms, p99 ${at(list, 0.99).toFixed(2)} ms, max ${list.at(-1).toFixed(2)} ms`;
  return {
    summary: `${samples.length} status requests: ${stats(ordered)} (control without it: ${stats(orderedControl)}; ` +
      `bound ${bound.toFixed(1)} ms; ${ordered.filter((ms) => ms >= bound).length} over it, ${confirmed.length} of them twice in a row)`,
    assertWithinBound() {
      assert.ok(at(ordered, 0.99) < bound, `p99 status latency ${at(ordered, 0.99).toFixed(1)} ms (bound ${bound.toFixed(1)} ms)`);
      const worst = Math.max(0, ...confirmed);
      assert.ok(worst < bound, `a status request took ${worst.toFixed(1)} ms twice in a row (bound ${bound.toFixed(1)} ms)`);
      assert.ok(ordered.at(-1) < 1000, `a status request took ${ordered.at(-1).toFixed(0)} ms: the event loop was blocked`);
    },
  };
}

/** (index) → ms for one status request to the index-th service, checking its pid. */
function makeTimer(t, { dir, expected }) {
  const names = Object.keys(expected);
  const agents = names.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  t.after(() => agents.forEach((agent) => agent.destroy()));
  const timed = async (index) => {
    const started = performance.now();
    const doc = await getStatus(dir.socket(names[index]), agents[index]);
    assert.equal(doc.pid, expected[names[index]].pid, `${names[index]} undisturbed`);
    return performance.now() - started;
  };
  timed.count = names.length;
  return timed;
}

async function waitCount(dir, name, atLeast, timeout = 10000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      const { count } = await dir.status(name);
      if (count >= atLeast) return count;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${name} never reached ${atLeast} starts (log: ${dir.stderr.slice(-2000)})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function getStatus(socketPath, agent) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/', agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(JSON.parse(body)));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`status on ${socketPath} timed out`)));
    req.on('error', reject);
  });
}

function runCtl(args, env) {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [IMMORTALCTL, ...args], { env: { ...env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    proc.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
