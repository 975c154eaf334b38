// Faults around a running supervisor: orphaned grandchildren, the binary deleted, its own
// stderr/stdout gone (EPIPE), its supervise directory deleted, an exception in its own code.
// In each the service stays supervised and the supervisor neither crashes nor spins.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  cpuTicks, gone, liveWithArgv, metrics, processArgv, procStat, sandbox, signal, sleep, status, waitFor, waitForStatus, waitGone, zombiesUnder,
} from './reliability-helpers.mjs';

/** A supervisor that spins burns ~100 ticks a second; an idle one well under 10. */
const idleTicksPerSecond = 15;

async function assertIdle(pid, seconds) {
  const before = cpuTicks(pid);
  await sleep(seconds * 1000);
  const used = cpuTicks(pid) - before;
  assert.ok(used < idleTicksPerSecond * seconds, `supervisor used ${used} ticks of CPU in ${seconds} s`);
}

test('orphaned grandchildren are adopted (subreaper) and reaped: no zombie survives', async (t) => {
  const box = sandbox(t, { restartMs: 50 });
  // Each round double-forks: the subshell exits at once, its sleep is orphaned to us.
  const script = box.write('forker.sh', [
    '#!/bin/sh',
    'i=0',
    'while [ $i -lt 10 ]; do ( sleep 0.3 & ) ; ( true & ) ; i=$((i+1)); sleep 0.05; done',
    'exit 3',
    '',
  ].join('\n'), 0o755);
  const file = box.write('forker.yml', `cmd: ${script}\nbackoff: {cap: 0}\n`);
  const sock = box.ctlSocket('forker');
  const run = box.start(['-n', '-c', file, '-ctl', 'forker']);
  await waitForStatus(sock, (s) => s.count >= 1);

  // A zombie may exist for the instant between its exit and our SIGCHLD; one that is still
  // there a second later was never reaped.
  const adopted = new Set();
  const suspects = new Map();
  const deadline = Date.now() + 4000;
  while (Date.now() < deadline) {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = procStat(entry);
      if (stat?.ppid !== run.pid) continue;
      const argv = processArgv(entry);
      if (argv?.[0] === 'sleep' && argv[1] === '0.3') adopted.add(Number(entry));
    }
    for (const pid of zombiesUnder(run.pid)) if (!suspects.has(pid)) suspects.set(pid, Date.now());
    for (const [pid, since] of suspects) {
      if (procStat(pid)?.state !== 'Z') suspects.delete(pid);
      else assert.ok(Date.now() - since < 1000, `pid ${pid} left a zombie under the supervisor`);
    }
    await sleep(20);
  }
  assert.ok(adopted.size >= 5, `orphans re-parented to the supervisor: ${adopted.size}`);
  const { count } = await status(sock);
  assert.ok(count >= 3, `the service itself crash-looped (count ${count})`);

  assert.equal(await signal(sock, 'down'), '');
  for (const pid of adopted) await waitGone(pid);
  await waitFor(() => zombiesUnder(run.pid).length === 0, { message: 'no zombie under the supervisor' });
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('binary deleted while running: restarts fail with ENOENT, back off, do not spin, recover', async (t) => {
  const box = sandbox(t, { restartMs: 100 });
  const binary = box.path('mysleep');
  fs.copyFileSync('/bin/sleep', binary);
  fs.chmodSync(binary, 0o755);
  const file = box.write('vanish.yml', `cmd: ${binary} 3701\nbackoff: {cap: 4}\n`);
  const sock = box.ctlSocket('vanish');
  const run = box.start(['-n', '-c', file, '-ctl', 'vanish']);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);

  fs.unlinkSync(binary);
  process.kill(pid, 'SIGKILL');
  const backoffs = [];
  const failing = await waitForStatus(sock, (s) => {
    const backoff = /ENOENT.*; backoff (\d+)s$/.exec(s.status ?? '')?.[1];
    if (backoff !== undefined && backoffs.at(-1) !== Number(backoff)) backoffs.push(Number(backoff));
    return backoff === '4';
  }, { timeout: 20000 });
  assert.deepEqual(backoffs, [1, 2, 4], 'the delay doubles up to the cap');
  assert.match(failing.status, new RegExp(`^start failed: .*ENOENT.*${binary}.*; backoff 4s$`));
  assert.equal(failing.pid, 0);
  assert.equal(failing.count, 1);
  const failures = (await metrics(sock)).immortal_start_failures_total;
  assert.ok(failures >= 4, `immortal_start_failures_total ${failures}`);
  assert.equal((await metrics(sock)).immortal_backoff_seconds, 4);
  await assertIdle(run.pid, 3);
  const later = (await metrics(sock)).immortal_start_failures_total;
  assert.ok(later - failures <= 1, `start attempts within 3 s at a 4 s backoff: ${later - failures}`);
  assert.match(run.stderr, /start failed: ENOENT/);

  fs.copyFileSync('/bin/sleep', binary);
  const back = await waitForStatus(sock, (s) => s.pid > 0, { timeout: 10000 });
  assert.equal(back.count, 2);
  assert.equal(back.status, undefined);
  assert.deepEqual(liveWithArgv([binary, '3701']), [back.pid]);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  await waitGone(back.pid);
});

test('stdout and stderr closed under a foreground supervisor (EPIPE): it keeps supervising', async (t) => {
  const box = sandbox(t, { restartMs: 100 });
  const sock = box.ctlSocket('epipe');
  const service = box.sleeper(3702);
  const file = box.write('epipe.yml', `cmd: ${service.join(' ')}\nbackoff: {cap: 0}\n`);
  const run = box.start(['-n', '-c', file, '-ctl', 'epipe']);
  await run.waitForLog(new RegExp(`started \\d+: ${service.join(' ')}`));
  // The terminal or the pipe reader went away: every further write fails with EPIPE.
  run.proc.stdout.destroy();
  run.proc.stderr.destroy();
  await sleep(100);

  for (let round = 1; round <= 5; round++) {
    const { pid } = await waitForStatus(sock, (s) => s.pid > 0 && s.count === round);
    process.kill(pid, 'SIGKILL'); // the supervisor logs the exit and the next start
  }
  const last = await waitForStatus(sock, (s) => s.pid > 0 && s.count === 6);
  assert.equal(run.exitStatus, undefined, 'the supervisor is still running');
  await assertIdle(run.pid, 2);
  assert.equal(await signal(sock, 'halt'), '');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  await waitGone(last.pid);
});

test('supervise dir deleted: lock, socket and child.pid come back; re-adoption still works', async (t) => {
  const box = sandbox(t);
  const dir = box.ctlDir('gone');
  const sock = box.ctlSocket('gone');
  const service = box.sleeper(3703);
  const args = ['-n', '-ctl', 'gone', ...service];
  const first = box.start(args);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);

  fs.rmSync(dir, { recursive: true });
  const again = await waitForStatus(sock, () => true, { timeout: 8000 });
  assert.equal(again.pid, pid);
  assert.equal(again.count, 1);
  assert.match(first.stderr, /supervise directory removed; recreating it/);
  assert.equal(fs.readFileSync(path.join(dir, 'child.pid'), 'utf8').trim(), String(pid));

  // The new lock is a real one: a second supervisor is refused.
  const second = box.start(args);
  assert.equal((await second.waitExit()).code, 1);
  assert.match(second.stderr, /already supervised/);

  // Only the socket removed: it comes back at the same path.
  fs.unlinkSync(sock);
  assert.equal((await waitForStatus(sock, () => true, { timeout: 8000 })).pid, pid);

  // The restored child.pid still lets a restarted supervisor re-adopt instead of duplicating.
  first.kill('SIGKILL');
  await first.waitExit();
  const third = box.start(args);
  const adopted = await waitForStatus(sock, (s) => s.pid > 0 && /adopted/.test(third.stderr));
  assert.equal(adopted.pid, pid);
  assert.deepEqual(liveWithArgv(service), [pid]);
  third.kill('SIGTERM');
  assert.deepEqual(await third.waitExit(), { code: 0, signal: null });
  await waitGone(pid);
  assert.equal(fs.existsSync(dir), false, 'a clean exit leaves no supervise dir behind');
});

/** Inodes (decimal) of what the process's inotify descriptors watch (Linux /proc fdinfo). */
function inotifyWatchedInodes(pid) {
  const inodes = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let info;
    try {
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    for (const m of info.matchAll(/^inotify wd:\S+ ino:([0-9a-f]+)/gm)) inodes.push(Number.parseInt(m[1], 16));
  }
  return inodes;
}

test('the supervise dir is watched, not polled: the watch follows a recreated directory', { skip: process.platform !== 'linux' && 'reads inotify watches from /proc (Linux)' }, async (t) => {
  const box = sandbox(t);
  const dir = box.ctlDir('watched');
  const sock = box.ctlSocket('watched');
  const run = box.start(['-n', '-ctl', 'watched', ...box.sleeper(3708)]);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  const supervisor = run.pid;
  const watchedDir = () => inotifyWatchedInodes(supervisor).includes(fs.statSync(dir).ino);
  await waitFor(watchedDir, { message: 'an inotify watch on the supervise dir' });

  fs.rmSync(dir, { recursive: true });
  await waitForStatus(sock, (s) => s.pid === pid, { timeout: 8000 });
  await waitFor(watchedDir, { message: 'an inotify watch on the recreated supervise dir' });
  // And it works: the socket alone removed comes back (the slow look is a minute away).
  fs.unlinkSync(sock);
  assert.equal((await waitForStatus(sock, () => true, { timeout: 8000 })).pid, pid);
  await assertIdle(supervisor, 2);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  await waitGone(pid);
});

test('supervise dir replaced by one another supervisor holds: the first keeps its service, leaves their socket alone', async (t) => {
  const box = sandbox(t, { restartMs: 100 });
  const sock = box.ctlSocket('taken');
  const service = box.sleeper(3704);
  const first = box.start(['-n', '-ctl', 'taken', ...service]);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);

  // Someone else's supervise dir, fully formed (lock held, socket answering), is put in the
  // place of ours by two renames, so no check of ours can fall in between.
  const other = box.ctlDir('other');
  fs.mkdirSync(other);
  const lockHolder = box.sleeper(3705);
  const holder = box.spawnMarked(['flock', '-n', path.join(other, 'lock'), '-c', `echo locked; exec ${lockHolder.join(' ')}`], { stdout: true });
  await waitFor(() => holder.output.includes('locked'), { message: 'flock(1) holding the lock' });
  const theirs = http.createServer((req, res) => res.end('{"pid":4242,"cmd":"theirs","fpid":false,"count":1}\n'));
  await new Promise((resolve) => theirs.listen(path.join(other, 'immortal.sock'), resolve));
  const stopTheirs = async () => {
    theirs.closeAllConnections();
    theirs.close();
    const holders = liveWithArgv(lockHolder);
    for (const pid of holders) process.kill(pid, 'SIGKILL');
    holder.kill('SIGKILL');
    for (const pid of [...holders, holder.pid]) await waitGone(pid);
  };
  box.onCleanup(stopTheirs);
  fs.renameSync(box.ctlDir('taken'), box.ctlDir('taken.old'));
  fs.renameSync(other, box.ctlDir('taken'));

  await first.waitForLog(/already supervised by another immortal .*still supervising the service, but without a control socket/, 8000);
  assert.equal((await status(sock)).pid, 4242);
  process.kill(pid, 'SIGKILL');
  await first.waitForLog(new RegExp(`pid ${pid} exited[\\s\\S]*started \\d+: ${service.join(' ')}`), 8000);
  assert.equal(liveWithArgv(service).length, 1);

  first.kill('SIGTERM');
  assert.deepEqual(await first.waitExit(), { code: 0, signal: null });
  assert.equal(liveWithArgv(service).length, 0);
  assert.equal((await status(sock)).pid, 4242, 'their socket is still in place');
  assert.ok(fs.existsSync(path.join(box.ctlDir('taken'), 'lock')), 'their lock is still in place');
});

test('an uncaught exception or unhandled rejection in the supervisor is logged; supervision goes on', async (t) => {
  const box = sandbox(t, { restartMs: 100 });
  // Injected from outside (node --require): a throw from a timer and a rejected promise
  // nobody handles, in the supervisor process, after supervision has started.
  const inject = box.write('inject.cjs', [
    "setTimeout(() => { throw new Error('injected fault'); }, 500).unref();",
    "setTimeout(() => { Promise.reject(new Error('injected rejection')); }, 600).unref();",
    '',
  ].join('\n'));
  const sock = box.ctlSocket('fault');
  const run = box.start(['-n', '-ctl', 'fault', ...box.sleeper(3706)], { env: { NODE_OPTIONS: `--require ${inject}` } });
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  await run.waitForLog(/internal error, still supervising: Error: injected fault/);
  await run.waitForLog(/internal error, still supervising: Error: injected rejection/);

  process.kill(pid, 'SIGKILL');
  const next = await waitForStatus(sock, (s) => s.pid > 0 && s.count === 2);
  assert.ok(gone(pid));
  assert.equal(run.exitStatus, undefined);
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  await waitGone(next.pid);
});
