// `immortalctl logs NAME [-f] [-n N]`: the last lines of the file the service's run.yml names,
// learned from immortaldir over immortaldir.sock; with -f it follows like tail -F, reading
// the old file to its end when it is renamed away and then the new file from its start.
// The dashboard shows the same lines, to token holders only.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import test from 'node:test';
import { DEADLINE_MS, waitFor, waitForStatus } from './cli-helpers.mjs';
import { IMMORTALCTL, httpRequest, startDashboard } from './fixtures/dashboard-harness.mjs';

const TOKEN = 'logs-token-0123456789abcdef';

function ctl(run, args) {
  return spawnSync(process.execPath, [IMMORTALCTL, ...args], { env: run.box.env, encoding: 'utf8', timeout: DEADLINE_MS });
}

test('logs prints the last N lines of the run.yml log file; unknown or log-less services fail with one line', async (t) => {
  const run = await startDashboard(t, { token: TOKEN, args: [] });
  const logFile = run.box.path('web.log');
  run.write('web', `cmd: sleep 3720\nlog:\n  file: ${logFile}\n`);
  run.write('plain', 'cmd: sleep 3721\n');
  await waitForStatus(run.serviceSocket('web'), (s) => s.pid > 0);
  await waitForStatus(run.serviceSocket('plain'), (s) => s.pid > 0);
  fs.appendFileSync(logFile, Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join(''));

  const ten = ctl(run, ['logs', 'web']);
  assert.equal(ten.status, 0, ten.stderr);
  assert.equal(ten.stdout, Array.from({ length: 10 }, (_, i) => `line ${i + 21}\n`).join(''));
  const three = ctl(run, ['logs', 'web', '-n', '3']);
  assert.equal(three.stdout, 'line 28\nline 29\nline 30\n');
  assert.equal(ctl(run, ['logs', '-n', '0', 'web']).stdout, '');

  for (const [args, expected] of [
    [['logs', 'nothere'], /^immortalctl logs: nothere: no such service in the immortaldir on .*immortaldir\.sock$/],
    [['logs', 'plain'], /^immortalctl logs: plain: its run.yml names no log file/],
    [['logs', 'web', '-n', 'many'], /^immortalctl logs: -n needs a number of lines, got "many"/],
    [['logs'], /^immortalctl logs: logs needs a service name/],
  ]) {
    const result = ctl(run, args);
    assert.equal(result.status, 1, args.join(' '));
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr.trim(), expected);
  }
  await run.stop();
  const noDir = ctl(run, ['logs', 'web']);
  assert.equal(noDir.status, 1);
  assert.match(noDir.stderr, /web: no immortaldir answers on .*immortaldir\.sock \(ENOENT\)/);
});

test('logs -f follows across a rotation (rename + new file) without losing a line', async (t) => {
  const run = await startDashboard(t, { args: [] });
  const logFile = run.box.path('app.log');
  run.write('app', `cmd: sleep 3722\nlog:\n  file: ${logFile}\n`);
  await waitForStatus(run.serviceSocket('app'), (s) => s.pid > 0);
  fs.appendFileSync(logFile, 'before 1\nbefore 2\n');

  const follower = spawn(process.execPath, [IMMORTALCTL, 'logs', 'app', '-f', '-n', '1'], { env: run.box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  follower.stdout.setEncoding('utf8').on('data', (c) => (out += c));
  follower.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  const ended = new Promise((resolve) => follower.on('exit', resolve));
  t.after(async () => {
    follower.kill('SIGKILL');
    await ended;
  });
  const until = (text) => waitFor(() => out.includes(text), { timeout: DEADLINE_MS, message: `${JSON.stringify(text)} in ${JSON.stringify(out)} (stderr ${err})` });

  await until('before 2\n');
  fs.appendFileSync(logFile, 'live 1\n');
  await until('live 1\n');
  // Rotation: the last lines land in the old file just before it is renamed away.
  fs.appendFileSync(logFile, 'last of old\n');
  fs.renameSync(logFile, `${logFile}.1`);
  fs.appendFileSync(`${logFile}.1`, 'written after rename\n');
  fs.writeFileSync(logFile, 'first of new\n');
  fs.appendFileSync(logFile, 'second of new\n');
  await until('second of new\n');
  assert.equal(out, 'before 2\nlive 1\nlast of old\nwritten after rename\nfirst of new\nsecond of new\n');
  assert.match(err, /rotated; following the new file/);
  // copytruncate: the same file emptied in place is read again from its start.
  fs.truncateSync(logFile, 0);
  await waitFor(() => err.includes('truncated'), { timeout: DEADLINE_MS, message: 'truncation noticed' });
  fs.appendFileSync(logFile, 'after truncate\n');
  await until('after truncate\n');
  follower.kill('SIGTERM');
  await ended;
});

test('the dashboard shows the last log lines to token holders only', async (t) => {
  const run = await startDashboard(t, { token: TOKEN });
  const logFile = run.box.path('api.log');
  run.write('api', `cmd: sleep 3723\nlog:\n  file: ${logFile}\n`);
  await waitForStatus(run.serviceSocket('api'), (s) => s.pid > 0);
  fs.appendFileSync(logFile, 'one\ntwo\nthree\n');
  assert.equal((await httpRequest({ url: run.url, path: '/api/services/api/log' })).status, 401);
  const reply = await httpRequest({ url: run.url, path: '/api/services/api/log?lines=2', headers: { 'X-Immortal-Token': TOKEN } });
  assert.equal(reply.status, 200, reply.body);
  assert.deepEqual(JSON.parse(reply.body), { file: logFile, text: 'two\nthree\n' });
});
