// run.yml `restart_if: {memory: SIZE}`: a leaking service (test/fixtures/leak.py, whose worker
// allocates and touches memory step by step) is restarted gracefully once the memory of all its
// processes stays above the size for 3 samples; the reason is in the record (GET /service), the
// log and /metrics. The sampler's own rules (3 in a row, anew each run) are unit-tested below.

import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { FIXTURE_DIR, request, sandbox, signal, waitFor, waitForStatus } from './cli-helpers.mjs';

const require = createRequire(import.meta.url);
const { MemoryWatch, memorySamplesOver } = require('../dist/supervise/memory-watch.js');

async function record(sock) {
  const { body } = await request(sock, '/service');
  return JSON.parse(body);
}

describe('restart_if.memory through the CLI', () => {
  test('a leaking worker: graceful restart, reason in the record, the log and /metrics', async (t) => {
    const box = sandbox(t);
    const file = box.write('leak.yml', `cmd: python3 ${path.join(FIXTURE_DIR, 'leak.py')} 8 0.25 256 2\nrestart_if:\n  memory: 60M\n`);
    const run = box.start(['-n', '-ctl', 'leak', '-c', file]);
    const sock = box.ctlSocket('leak');
    const first = await waitForStatus(sock, (s) => s.pid > 0);
    // The master takes 2 s to stop: meanwhile the status says why it restarts.
    const stopping = await waitForStatus(sock, (s) => s.status !== undefined, { timeout: 30000 });
    assert.match(stopping.status, /^restarted: memory \d+(\.\d)?M > 60M$/);
    const rec = await waitFor(async () => {
      const r = await record(sock);
      return r.lastRestart ? r : false;
    }, { timeout: 30000, message: 'a memory restart in GET /service' });
    t.diagnostic(`record: restarts ${JSON.stringify(rec.restarts)}, lastRestart ${JSON.stringify(rec.lastRestart)}`);
    assert.equal(rec.lastRestart.cause, 'memory');
    assert.match(rec.lastRestart.reason, /^memory \d+(\.\d)?M > 60M$/);
    assert.ok(rec.restarts.memory >= 1);
    const next = await waitForStatus(sock, (s) => s.count >= 2 && s.pid > 0 && s.pid !== first.pid);
    assert.notEqual(next.pid, first.pid, 'a new run');
    const { body } = await request(sock, '/metrics');
    const counted = Number(/^immortal_restarts_total\{service="leak",cause="memory"\} (\d+)$/m.exec(body)?.[1]);
    assert.ok(counted >= 1, `immortal_restarts_total for memory in:\n${body}`);
    assert.equal(await signal(sock, 'halt'), '');
    await run.closed;
    assert.match(run.stdout + run.stderr, /restarting: memory \d+(\.\d)?M > 60M/);
    // The stop was graceful: the master got TERM and exited by itself (its handler exits 0).
    assert.match(run.stdout + run.stderr, new RegExp(`pid ${first.pid} exited with 0`));
  });
});

describe('MemoryWatch: 3 samples in a row above, counted anew each run', () => {
  function fake(samples) {
    const target = { pid: 10, restarts: [], memoryBytes: () => samples.shift(), runningPid: () => target.pid, restart: (r) => target.restarts.push(r) };
    return target;
  }

  test(`${memorySamplesOver} samples above in a row → one restart with the reason`, () => {
    const target = fake([500, 500, 500, 500]);
    const watch = new MemoryWatch(400, target);
    for (let i = 0; i < 3; i++) watch.sample();
    assert.deepEqual(target.restarts, ['memory 500 > 400']);
    watch.sample();
    assert.equal(target.restarts.length, 1, 'the count starts anew after a restart');
  });

  test('a sample below resets the count; sizes are shown in K/M/G', () => {
    const target = fake([500 * 2 ** 20, 500 * 2 ** 20, 100, 500 * 2 ** 20, 412 * 2 ** 20, 413 * 2 ** 20]);
    const watch = new MemoryWatch(400 * 2 ** 20, target);
    for (let i = 0; i < 6; i++) watch.sample();
    assert.deepEqual(target.restarts, ['memory 413M > 400M']);
  });

  test('not running: no sample taken; a new run starts the count anew', () => {
    const target = fake([500, 500, 500, 500]);
    const watch = new MemoryWatch(400, target);
    watch.sample();
    watch.sample();
    target.pid = undefined;
    watch.sample();
    assert.equal(target.restarts.length, 0);
    target.pid = 11;
    watch.sample();
    watch.sample();
    assert.equal(target.restarts.length, 0, 'two samples of the new run only');
  });
});
