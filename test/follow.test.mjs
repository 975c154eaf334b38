// Following a pid (-f), the operator's stories with self-daemonizing programs: a double-fork
// daemon, an nginx-like master that reloads on HUP, a supervisor restarted while its daemon
// kept running, and pidfiles that are written late or slowly. Everything runs through the
// real CLI, once with pidfd exit detection and once with the forced polling fallback.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gone, waitFor } from './helpers.mjs';
import { PYTHON, fixture, followHarness, httpGet, readLines, readPid, untouched } from './fixtures/follow-harness.mjs';

const MODES = [
  ['pidfd', undefined],
  ['poll fallback', 'poll'],
];

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function daemonArgv(pidfile, ...extra) {
  return [PYTHON, fixture('daemon.py'), '--pidfile', pidfile, ...extra];
}

for (const [modeName, watch] of MODES) {
  describe(`follow a self-daemonizing program (${modeName})`, () => {
    test('the daemon is followed; killing it starts the command again and the new daemon is followed', async (t) => {
      const h = await followHarness(t, { watch });
      const pidfile = path.join(h.dir, 'daemon.pid');
      const portFile = path.join(h.dir, 'port');
      const marker = path.join(h.dir, 'starts');
      const sv = h.start('daemon', pidfile, daemonArgv(pidfile, '--port', '0', '--port-file', portFile, '--marker', marker));

      const first = await sv.waitStatus((s) => s.fpid && s.pid === readPid(pidfile), 'the daemon followed');
      assert.equal(first.count, 1);
      assert.ok(!sv.startedPids().includes(first.pid), 'the followed pid is the daemon, not the foreground process');
      assert.equal((await httpGet(readPid(portFile))).body, `${first.pid}\n`, 'the followed daemon is the one serving');

      // kill -9 leaves the pidfile naming the dead daemon: the command is started again.
      process.kill(first.pid, 'SIGKILL');
      const second = await sv.waitStatus((s) => s.fpid && s.pid !== first.pid && s.pid === readPid(pidfile), 'the second daemon followed');
      assert.equal(second.count, 2);
      assert.equal(readLines(marker).length, 2, 'the command ran twice');
      assert.equal((await httpGet(readPid(portFile))).body, `${second.pid}\n`);

      // TERM: the daemon removes its pidfile on the way out; started again just the same.
      process.kill(second.pid, 'SIGTERM');
      const third = await sv.waitStatus((s) => s.fpid && s.pid !== second.pid && s.pid === readPid(pidfile), 'the third daemon followed');
      assert.equal(third.count, 3);
      assert.deepEqual(sv.followedPids(), [first.pid, second.pid, third.pid]);
      assert.ok(gone(first.pid) && gone(second.pid));

      assert.equal(await sv.terminate(), 0);
      assert.ok(gone(third.pid), 'the followed daemon is stopped with the supervisor');
      await h.assertAllGone();
      assert.deepEqual(h.fixtureErrors(), []);
    });

    test('signals from the socket reach the followed master: HUP reloads the nginx-like config; SIGTERM to immortal stops master and workers', async (t) => {
      const h = await followHarness(t, { watch });
      const pidfile = path.join(h.dir, 'nginx.pid');
      const config = path.join(h.dir, 'nginx.conf');
      const stateFile = path.join(h.dir, 'nginx.state');
      const readState = () => JSON.parse(fs.readFileSync(stateFile, 'utf8'));
      fs.writeFileSync(config, 'greeting=hello\n');
      const sv = h.start('nginx', pidfile, [PYTHON, fixture('nginx-like.py'), '--pidfile', pidfile,
        '--config', config, '--state', stateFile, '--workers', '2']);

      const status = await sv.waitStatus((s) => s.fpid && s.pid === readPid(pidfile), 'the nginx-like master followed');
      const state = readState();
      assert.equal(state.pid, status.pid);
      assert.equal(state.reloads, 0);
      assert.equal(state.workers.length, 2);

      fs.writeFileSync(config, 'greeting=bonjour\n');
      assert.deepEqual(await sv.signal('hup'), { Err: '' });
      await waitFor(() => readState().reloads === 1, { timeout: 15000, message: 'the reload after HUP' });
      assert.equal(readState().config, 'greeting=bonjour');
      assert.deepEqual(await sv.signal('h'), { Err: '' });
      await waitFor(() => readState().reloads === 2, { timeout: 15000, message: 'the reload after h' });

      const after = await sv.status();
      assert.equal(after.pid, status.pid, 'a reload is not a restart');
      assert.equal(after.count, 1);
      assert.equal(after.fpid, true);

      // SIGTERM to immortal while following: TERM reaches the master (it removes its
      // pidfile only on TERM) and its workers, all are gone, and immortal exits 0.
      assert.equal(await sv.terminate(), 0);
      assert.ok(gone(status.pid), 'the followed master is gone');
      for (const worker of state.workers) assert.ok(gone(worker), `worker ${worker} is gone`);
      assert.equal(fs.existsSync(pidfile), false, 'the master saw TERM and removed its pidfile');
      await h.assertAllGone();
      assert.deepEqual(h.fixtureErrors(), []);
    });

    test('start-up with a pidfile naming a live daemon: it is followed and the command is not started a second time', async (t) => {
      const h = await followHarness(t, { watch });
      const pidfile = path.join(h.dir, 'daemon.pid');
      const marker = path.join(h.dir, 'starts');
      const argv = daemonArgv(pidfile, '--marker', marker);
      const launched = spawnSync(argv[0], argv.slice(1), {
        env: { ...process.env, FOLLOW_LEDGER: h.ledgerFile },
        stdio: 'ignore',
        timeout: 30000,
      });
      assert.equal(launched.status, 0, 'the daemon started by hand');
      const daemon = await waitFor(() => readPid(pidfile), { timeout: 15000, message: 'the daemon started by hand' });

      const sv = h.start('resume', pidfile, argv);
      const status = await sv.waitStatus((s) => s.fpid, 'the running daemon followed');
      assert.equal(status.pid, daemon);
      assert.equal(status.count, 1);
      await pause(300);
      assert.deepEqual(sv.startedPids(), [], 'the command was not started');
      assert.equal(readLines(marker).length, 1, 'only the start by hand ran the command');

      // The daemon it found behaves like one it started: killed → the command runs again.
      process.kill(daemon, 'SIGKILL');
      const next = await sv.waitStatus((s) => s.fpid && s.pid !== daemon && s.pid === readPid(pidfile), 'the new daemon followed');
      assert.equal(next.count, 2);
      assert.equal(readLines(marker).length, 2);

      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
    });

    test('a daemon that writes its pidfile late (after the foreground exited) is followed within the grace period', async (t) => {
      const h = await followHarness(t, { watch });
      const pidfile = path.join(h.dir, 'late.pid');
      const sv = h.start('late', pidfile, daemonArgv(pidfile, '--pidfile-delay', '400'));
      const looking = await sv.waitStatus((s) => s.status !== undefined && s.count === 1, 'status while the pidfile is awaited');
      assert.equal(looking.pid, 0);
      assert.equal(looking.fpid, false);
      assert.equal(looking.status, `looking for a pid in ${pidfile}`);
      const status = await sv.waitStatus((s) => s.fpid && s.pid === readPid(pidfile), 'the late daemon followed');
      assert.equal(status.count, 1, 'no restart while the pidfile was still coming');
      assert.deepEqual(sv.followedPids(), [status.pid]);
      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
    });

    test('SIGTERM while the pidfile is awaited: the daemon that then appears is stopped too, nothing is left', async (t) => {
      const h = await followHarness(t, { watch });
      const pidfile = path.join(h.dir, 'late.pid');
      const sv = h.start('late', pidfile, daemonArgv(pidfile, '--pidfile-delay', '400'));
      await sv.waitStatus((s) => s.status === `looking for a pid in ${pidfile}`, 'status while the pidfile is awaited');
      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
    });

    test('down while the pidfile is awaited: the daemon that then appears is stopped, the service stays down', async (t) => {
      const h = await followHarness(t, { watch });
      const pidfile = path.join(h.dir, 'late.pid');
      const sv = h.start('late', pidfile, daemonArgv(pidfile, '--pidfile-delay', '400'));
      await sv.waitStatus((s) => s.status === `looking for a pid in ${pidfile}`, 'status while the pidfile is awaited');
      assert.equal((await sv.signal('d')).Err, '');
      const down = await sv.waitStatus((s) => s.pid === 0 && s.down !== undefined && s.status === undefined, 'down');
      assert.equal(down.count, 1);
      await h.assertAllGone();
      assert.equal(await sv.terminate(), 0);
    });

    test('a pidfile written one character at a time: no prefix of the pid is ever followed', async (t) => {
      const h = await followHarness(t, { watch });
      const pidfile = path.join(h.dir, 'slow.pid');
      const sv = h.start('slow', pidfile, daemonArgv(pidfile, '--slow', '40'));
      const status = await sv.waitStatus((s) => s.fpid && s.pid === readPid(pidfile), 'the slowly written daemon followed');
      assert.equal(status.count, 1);
      assert.deepEqual(sv.followedPids(), [status.pid], sv.logText());
      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
    });

    test('a pidfile that names another live, older process for a moment (a torn or stale write) is not followed', async (t) => {
      const h = await followHarness(t, { watch });
      const decoy = h.unrelatedSleeper();
      await pause(50); // the decoy is clearly older than the pidfile it will appear in
      const pidfile = path.join(h.dir, 'decoy.pid');
      const sv = h.start('decoy', pidfile, daemonArgv(pidfile, '--decoy', String(decoy), '--decoy-ms', '250'));
      const status = await sv.waitStatus((s) => s.fpid && s.pid === readPid(pidfile), 'the real daemon followed');
      assert.notEqual(status.pid, decoy);
      assert.deepEqual(sv.followedPids(), [status.pid], sv.logText());
      assert.equal(status.count, 1);
      assert.equal(await sv.terminate(), 0);
      assert.ok(untouched(decoy), 'the decoy was never signalled');
      await h.assertAllGone();
    });
  });
}

test('example/nginx.yml runs nginx by its absolute path (nginx re-executes argv[0] on USR2)', () => {
  const cli = fileURLToPath(new URL('../dist/cli/immortal.js', import.meta.url));
  const yml = fileURLToPath(new URL('../example/nginx.yml', import.meta.url));
  const checked = spawnSync(process.execPath, [cli, '-cc', '-c', yml], { encoding: 'utf8' });
  assert.equal(checked.status, 0, checked.stderr);
  const cmd = /^cmd: (\S+)/m.exec(checked.stdout)?.[1];
  assert.ok(cmd?.startsWith('/'), `cmd ${cmd}: a bare name cannot be re-executed by nginx on USR2`);
});
