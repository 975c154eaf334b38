// The per-service record (src/control/record.ts): the one word of state an operator reads,
// from each kind of snapshot a supervisor gives, and the plain-JSON shape every view uses.

import assert from 'node:assert/strict';
import test from 'node:test';
import { serviceRecord } from '../dist/control/record.js';

const NOW = 1_800_000_000_000;
const base = { pid: 0, running: false, since: 0, cmd: 'sleep 1', fpid: false, count: 0, want: 'up', startFailures: 0, backoffMs: 0, logDroppedLines: 0 };

test('state: one word for each situation', () => {
  const cases = [
    [{ ...base, pid: 42, running: true, since: NOW - 61_500, count: 1 }, 'up'],
    [{ ...base, want: 'down', count: 1, since: NOW - 5000, lastExit: { code: null, signal: 'SIGTERM', at: NOW - 5000 } }, 'down'],
    [{ ...base, want: 'once', count: 1, since: NOW - 5000, lastExit: { code: 0, signal: null, at: NOW - 5000 } }, 'exited'],
    [{ ...base, note: 'Starting in 1.5 seconds' }, 'starting'],
    [{ ...base, note: 'waiting for require: db' }, 'waiting'],
    [{ ...base, count: 3, since: NOW - 200, lastExit: { code: 1, signal: null, at: NOW - 200 } }, 'restarting'],
    [{ ...base, count: 9, backoffMs: 8000, since: NOW - 200, lastExit: { code: 1, signal: null, at: NOW - 200 } }, 'backoff'],
    [{ ...base, startFailures: 2, lastStartError: 'ENOENT' }, 'restarting'],
  ];
  for (const [snapshot, state] of cases) assert.equal(serviceRecord('web', snapshot, NOW).state, state, JSON.stringify(snapshot));
  assert.equal(serviceRecord('web', undefined, NOW).state, 'starting');
  assert.equal(serviceRecord('web', undefined, NOW, { error: 'web.yml: wait: expected a number' }).state, 'error');
  assert.equal(serviceRecord('web', undefined, NOW, { stopping: true }).state, 'stopping');
});

test('the record is plain JSON with every field, in a stable order', () => {
  const record = serviceRecord('web', {
    ...base, pid: 42, running: true, since: NOW - 61_540, count: 3, backoffMs: 2000, fpid: true,
    lastExit: { code: null, signal: 'SIGKILL', at: NOW - 70_000 }, logError: 'ENOSPC',
  }, NOW, { logFile: '/var/log/web.log' });
  assert.deepEqual(JSON.parse(JSON.stringify(record)), record);
  assert.deepEqual(Object.keys(record), ['name', 'state', 'want', 'pid', 'following', 'uptime', 'since', 'count', 'backoff', 'lastExit', 'note', 'startError', 'restarts', 'lastRestart', 'logError', 'error', 'logFile', 'processes', 'memory', 'cpu']);
  assert.equal(record.uptime, 61.5);
  assert.equal(record.backoff, 2);
  assert.equal(record.following, true);
  assert.deepEqual(record.lastExit, { code: null, signal: 'SIGKILL', at: NOW - 70_000, text: 'SIGKILL (9)' });
  assert.equal(record.logError, 'ENOSPC');
  assert.equal(record.logFile, '/var/log/web.log');
  const down = serviceRecord('web', { ...base, want: 'down', count: 1, since: NOW - 1000, lastExit: { code: 3, signal: null, at: NOW - 1000 } }, NOW);
  assert.equal(down.uptime, null);
  assert.equal(down.lastExit.text, 'exit 3');
  assert.equal(down.logFile, null);
});
