// immortaldir and `require:`: a service starts only once what it requires runs; unknown names
// and cycles are refused with a line naming them; SIGTERM stops dependents before what they
// require, and immortaldir exits 0 with nothing left behind.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';
import { signal, sleep } from './cli-helpers.mjs';
import { startDir, startTicks, waitPidGone } from './fixtures/dir-harness.mjs';

test('b requires a (which waits 1 s): b is held back and starts only after a', async (t) => {
  const dir = await startDir(t, { restartMs: 50 });
  dir.write('a', `cmd: ${dir.stampCmd('a')}\nwait: 1\n`);
  dir.write('b', `cmd: ${dir.stampCmd('b')}\nrequire: [a]\n`);
  dir.write('c', `cmd: ${dir.stampCmd('c')}\nrequire: [b]\n`);

  // Without require, b and c would start at once, a second before a.
  const held = await waitForSocketStatus(dir, 'b', (s) => /waiting for require: a/.test(s.status ?? ''));
  assert.equal(held.pid, 0);
  assert.equal(dir.stamps().length, 0, `nothing started while a waits: ${JSON.stringify(dir.stamps())}`);

  const a = await dir.waitRunning('a');
  const b = await dir.waitRunning('b');
  const c = await dir.waitRunning('c');
  const starts = await waitForStamps(dir, (list) => list.filter((s) => s.event === 'start').length === 3);
  const pidOf = (name) => starts.find((s) => s.event === 'start' && s.name === name).pid;
  assert.deepEqual([pidOf('a'), pidOf('b'), pidOf('c')], [a.pid, b.pid, c.pid], 'the stamps come from the supervised pids');
  // Fork order, from the kernel's start times of the processes themselves.
  assert.ok(startTicks(b.pid) >= startTicks(a.pid), 'b started after a');
  assert.ok(startTicks(c.pid) >= startTicks(b.pid), 'c started after b');
  for (const s of [a, b, c]) assert.equal(s.count, 1);

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
});

test('SIGTERM: dependents stop before what they require; exit 0; nothing left', async (t) => {
  const dir = await startDir(t, { restartMs: 50 });
  dir.write('db', `cmd: ${dir.stampCmd('db')}\n`);
  dir.write('app', `cmd: ${dir.stampCmd('app')}\nrequire: [db]\n`);
  dir.write('web', `cmd: ${dir.stampCmd('web')}\nrequire: [app, db]\n`);
  dir.write('lone', 'cmd: sleep 3620\n');
  const pids = [];
  for (const name of ['db', 'app', 'web', 'lone']) pids.push((await dir.waitRunning(name)).pid);
  await waitForStamps(dir, (list) => list.length === 3);

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  const stops = dir.stamps().filter((s) => s.event === 'stop');
  assert.deepEqual(stops.map((s) => s.name), ['web', 'app', 'db'], `stop order: ${JSON.stringify(dir.stamps())}`);
  for (const pid of pids) await waitPidGone(pid, 1000);
  assert.deepEqual(dir.box.processes(), [], 'no process of the sandbox survives immortaldir');
  assert.match(dir.stderr, /immortaldir: stopping all services/);
  for (const name of ['db', 'app', 'web', 'lone']) assert.ok(!fs.existsSync(dir.socket(name)), `${name}'s socket removed`);
});

test('a require cycle and an unknown name: none of them starts, each is named; fixed, they start', async (t) => {
  const dir = await startDir(t, {
    restartMs: 50,
    files: {
      ping: 'cmd: sleep 3621\nrequire: [pong]\n',
      pong: 'cmd: sleep 3622\nrequire: [ping]\n',
      orphan: 'cmd: sleep 3623\nrequire: [nothere]\n',
      fine: 'cmd: sleep 3624\n',
    },
  });
  await dir.waitRunning('fine');
  const ping = await dir.waitForLog(/ ping: not started: require: .*$/m);
  assert.match(ping[0], /cycle/);
  assert.match(ping[0], /pong/);
  const pong = await dir.waitForLog(/ pong: not started: require: .*$/m);
  assert.match(pong[0], /cycle/);
  assert.match(pong[0], /ping/);
  const orphan = await dir.waitForLog(/ orphan: not started: require: .*$/m);
  assert.match(orphan[0], /unknown/);
  assert.match(orphan[0], /nothere/);
  await sleep(200);
  for (const name of ['ping', 'pong', 'orphan']) assert.ok(!fs.existsSync(dir.socket(name)), `${name} has no supervisor`);
  assert.doesNotMatch(dir.stderr, /(ping|pong|orphan): started/);

  // The missing service appears: orphan may start now. Breaking the cycle lets both start.
  dir.write('nothere', 'cmd: sleep 3625\n');
  dir.write('pong', 'cmd: sleep 3622\n');
  const started = {};
  for (const name of ['nothere', 'orphan', 'ping', 'pong']) started[name] = await dir.waitRunning(name);
  assert.ok(startTicks(started.orphan.pid) >= startTicks(started.nothere.pid));
  assert.ok(startTicks(started.ping.pid) >= startTicks(started.pong.pid));

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  for (const s of Object.values(started)) await waitPidGone(s.pid, 1000);
});

test('a required service whose file breaks keeps running, and still counts for its dependents', async (t) => {
  const dir = await startDir(t, { restartMs: 50, files: { db: 'cmd: sleep 3630\n', web: 'cmd: sleep 3631\nrequire: [db]\n' } });
  const db = await dir.waitRunning('db');
  const web = await dir.waitRunning('web');

  dir.write('db', 'cmd: sleep 3632\nwait: soon\n');
  await dir.waitForLog(/ db: not started: .*db\.yml.*wait/);
  // db's old config keeps serving, so web's requirement still holds: a halt brings web back.
  assert.equal(await signal(dir.socket('web'), 'halt'), '');
  const webAgain = await dir.waitRunning('web', (s) => s.pid !== web.pid);
  assert.equal((await dir.status('db')).pid, db.pid);
  assert.doesNotMatch(dir.stderr, / web: not started/);

  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  await waitPidGone(db.pid, 1000);
  await waitPidGone(webAgain.pid, 1000);
});

/** Polls a service's socket until pred(status) holds (status may show pid 0: not started). */
async function waitForSocketStatus(dir, name, pred, timeout = 5000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await dir.status(name);
      if (pred(last)) return last;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`${name}: status never matched (last: ${JSON.stringify(last)}; log: ${dir.stderr})`);
    await sleep(10);
  }
}

async function waitForStamps(dir, pred, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const list = dir.stamps();
    if (pred(list)) return list;
    if (Date.now() > deadline) throw new Error(`stamps never matched: ${JSON.stringify(list)}`);
    await sleep(10);
  }
}
