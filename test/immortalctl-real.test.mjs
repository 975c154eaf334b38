// immortalctl against real supervisors: the Go original's (a host in the middle of a
// migration lists both kinds), and ours stopping a service that takes a second to exit on
// TERM (the row printed is the state after the action, not before it).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gone, sandbox, status, waitForStatus, waitGone } from './cli-helpers.mjs';
import { runImmortalctl } from './fixtures/control-harness.mjs';

// The Go original's binary: $IMMORTAL_GO_ORACLE, else beside the project (../shared/oracle/…,
// from the checkout or from a worktree under it), else where this machine keeps it.
const GO_CANDIDATES = [
  process.env.IMMORTAL_GO_ORACLE,
  fileURLToPath(new URL('../../shared/oracle/go-immortal/immortal', import.meta.url)),
  fileURLToPath(new URL('../../../shared/oracle/go-immortal/immortal', import.meta.url)),
  '/work/shared/oracle/go-immortal/immortal',
].filter(Boolean);
const GO_IMMORTAL = GO_CANDIDATES.find((file) => fs.existsSync(file));
const goMissing = GO_IMMORTAL === undefined && `the Go original's immortal binary is not at ${GO_CANDIDATES.join(' or ')}`;

const ctl = (box, args) => runImmortalctl(args, { ...box.env, NO_COLOR: '1' });

/** A service that, on TERM, takes about a second to exit (and exits 0). */
function slowToStop(box) {
  const script = box.write('slow-stop.sh', [
    '#!/bin/sh',
    'trap \'sleep 1; exit 0\' TERM',
    // sleep in the background and wait: the trap runs as soon as TERM arrives.
    'while :; do sleep 1000 & wait $!; done',
    '',
  ].join('\n'), 0o755);
  return [script];
}

test('lists a service of the Go original beside one of ours', { skip: goMissing }, async (t) => {
  const box = sandbox(t);
  // The Go original, as an operator would start it; SIGTERM would leave its service running,
  // so both are killed by pid at the end.
  const goSupervisor = spawn(GO_IMMORTAL, ['-n', '-ctl', 'legacy', 'sleep', '3710'], { env: box.env, stdio: 'ignore' });
  let goService;
  box.onCleanup(async () => {
    goSupervisor.kill('SIGKILL');
    if (goService) process.kill(goService, 'SIGKILL');
    await waitGone(goSupervisor.pid);
    if (goService) await waitGone(goService);
  });
  const ours = box.start(['-n', '-ctl', 'modern', 'sleep', '3711']);
  const legacy = await waitForStatus(box.ctlSocket('legacy'), (s) => s.pid > 0);
  goService = legacy.pid;
  const modern = await waitForStatus(box.ctlSocket('modern'), (s) => s.pid > 0);

  const table = await ctl(box, []);
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stderr, '');
  const lines = table.stdout.split('\n');
  assert.match(lines[0], /^\s*PID\s+Up\s+Down\s+Name\s+CMD$/);
  assert.match(lines[1], new RegExp(`^\\s*${legacy.pid}\\s+\\S+s\\s+legacy\\s+sleep 3710$`));
  assert.match(lines[2], new RegExp(`^\\s*${modern.pid}\\s+\\S+s\\s+modern\\s+sleep 3711$`));

  const json = JSON.parse((await ctl(box, ['--json', 'status', 'legacy'])).stdout);
  assert.deepEqual({ ...json[0], up: undefined }, {
    name: 'legacy', dir: `${box.sdir}/legacy`, pid: legacy.pid, up: undefined, cmd: 'sleep 3710', fpid: false, count: 1,
  });

  ours.kill('SIGTERM');
  assert.deepEqual(await ours.waitExit(), { code: 0, signal: null });
});

test('stop prints the row once the service is down, not while it handles TERM', async (t) => {
  const box = sandbox(t);
  const run = box.start(['-n', '-ctl', 'slow', ...slowToStop(box)]);
  const sock = box.ctlSocket('slow');
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);

  const result = await ctl(box, ['stop', 'slow']);
  assert.equal(result.code, 0, result.stderr);
  // No pid, no Up: a Down time, and no "stopping".
  assert.match(result.stdout, /^\s+\d+\.\ds\s+slow\s+\S+slow-stop\.sh$/m, result.stdout);
  assert.ok(gone(pid), 'the service had exited when the row was printed');
  assert.equal((await status(sock)).pid, 0);

  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

test('halt prints the row once the supervisor has stopped the service and exited', async (t) => {
  const box = sandbox(t);
  const run = box.start(['-n', '-ctl', 'slowhalt', ...slowToStop(box)]);
  const { pid } = await waitForStatus(box.ctlSocket('slowhalt'), (s) => s.pid > 0);

  const result = await ctl(box, ['halt', 'slowhalt']);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(gone(pid), 'the service had exited when the row was printed');
  // Either the supervisor still answered "down" at that instant, or it was gone already.
  assert.match(result.stdout, /^(\s+\d+\.\ds\s+slowhalt\s+\S+slow-stop\.sh|\s+slowhalt\s+\S+slow-stop\.sh - halted)$/m, result.stdout);
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
});

