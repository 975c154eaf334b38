// Zero-downtime re-exec under -f, the unicorn way: USR2 over the socket makes the master
// fork+exec a new master that inherits the listening socket and writes the pidfile; the
// old master then exits. immortal must follow each new master without ever starting the
// command again, while a client hammering the port never sees a refused or failed request.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { gone, waitFor } from './helpers.mjs';
import { PYTHON, fixture, followHarness, httpGet, readLines, readPid } from './fixtures/follow-harness.mjs';

const MODES = [
  ['pidfd', undefined],
  ['poll fallback', 'poll'],
];

/** Sequential requests until stopped; records who answered and every failure. */
function hammer(port) {
  const answeredBy = new Map();
  const errors = [];
  let stopped = false;
  let requests = 0;
  const loop = (async () => {
    while (!stopped) {
      requests++;
      try {
        const { status, body } = await httpGet(port, 15000);
        if (status !== 200) errors.push(`status ${status}`);
        const pid = Number(body.trim());
        answeredBy.set(pid, (answeredBy.get(pid) ?? 0) + 1);
      } catch (err) {
        errors.push(err.message);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    answeredBy,
    errors,
    /** Resolves once `pid` has answered at least one request. */
    waitAnswerFrom: (pid) => waitFor(() => answeredBy.has(pid) || errors.length > 0, { timeout: 20000, message: `an answer from ${pid}` }),
    async stop() {
      stopped = true;
      await loop;
      return { requests, errors, answeredBy };
    },
  };
}

/** Every status seen while `during` runs; the chain must never show a second start. */
async function recordStatuses(sv, during) {
  const seen = [];
  let done = false;
  const poller = (async () => {
    while (!done) {
      try {
        seen.push(await sv.status());
      } catch {
        // between requests the supervisor may be busy; the next poll will tell
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await during();
  } finally {
    done = true;
    await poller;
  }
  return seen;
}

function unicornArgv(h, ...extra) {
  const pidfile = path.join(h.dir, 'unicorn.pid');
  const portFile = path.join(h.dir, 'port');
  const marker = path.join(h.dir, 'starts');
  return {
    pidfile, portFile, marker,
    argv: [PYTHON, fixture('unicorn.py'), '--pidfile', pidfile, '--port-file', portFile, '--marker', marker, ...extra],
  };
}

/**
 * USR2 `times` times; each new master must be followed, the old one gone, the port answering.
 * Returns the masters in order (first: our direct child).
 */
async function usr2Chain(sv, pidfile, client, times) {
  let status = await sv.status();
  const masters = [status.pid];
  for (let i = 0; i < times; i++) {
    const old = masters.at(-1);
    assert.deepEqual(await sv.signal('usr2'), { Err: '' });
    status = await sv.waitStatus((s) => s.fpid && s.pid !== old && s.pid === readPid(pidfile), `master #${i + 2} followed`);
    assert.equal(status.count, 1, 'a re-exec is not a restart');
    await waitFor(() => gone(old), { timeout: 15000, message: `old master ${old} gone` });
    masters.push(status.pid);
    await client.waitAnswerFrom(status.pid);
  }
  return masters;
}

for (const [modeName, watch] of MODES) {
  describe(`unicorn-style USR2 re-exec (${modeName})`, () => {
    test('USR2 five times: each new master is followed, the command never starts again, no request fails', async (t) => {
      const h = await followHarness(t, { watch });
      const { pidfile, portFile, marker, argv } = unicornArgv(h);
      const sv = h.start('unicorn', pidfile, argv);

      const first = await sv.waitStatus((s) => s.pid > 0 && s.pid === readPid(pidfile), 'the first master up');
      assert.equal(first.fpid, false, 'the first master is our own child');
      const client = hammer(readPid(portFile));
      await client.waitAnswerFrom(first.pid);

      let masters;
      const seen = await recordStatuses(sv, async () => {
        masters = await usr2Chain(sv, pidfile, client, 5);
      });
      const { requests, errors, answeredBy } = await client.stop();

      assert.deepEqual(errors, [], `every one of ${requests} requests answered`);
      assert.deepEqual([...answeredBy.keys()].sort(), [...masters].sort(), 'each master served, nobody else did');
      assert.deepEqual(sv.followedPids(), masters.slice(1), sv.logText());
      assert.deepEqual(sv.startedPids(), [first.pid], 'the command was started once');
      assert.equal(readLines(marker).length, 1);
      assert.ok(seen.length > 0);
      for (const status of seen) {
        assert.equal(status.count, 1, `status during the chain: ${JSON.stringify(status)}`);
        if (status.fpid) assert.ok(masters.includes(status.pid), `fpid:true only for a master: ${JSON.stringify(status)}`);
      }

      // Handovers are not crashes: when the current master dies, the command starts again
      // under the normal rule (1 s grace for the pidfile), without crash-loop backoff — which
      // six quick "exits" would have made at least 1 s + 4 s.
      const last = masters.at(-1);
      const killedAt = performance.now();
      process.kill(last, 'SIGKILL');
      const restarted = await sv.waitStatus((s) => s.count === 2 && s.pid > 0 && s.pid === readPid(pidfile), 'the command started again');
      const restartMs = sv.log.find((l) => l.line.includes(`started ${restarted.pid}:`)).at - killedAt;
      assert.ok(restartMs < 4500, `restarted ${Math.round(restartMs)} ms after the master died (no backoff)`);
      assert.equal(readLines(marker).length, 2);

      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
      assert.deepEqual(h.fixtureErrors(), []);
    });

    test('a master left running by an earlier supervisor is followed at start-up, and through its USR2 upgrades too', async (t) => {
      const h = await followHarness(t, { watch });
      const { pidfile, portFile, marker, argv } = unicornArgv(h);
      // Started by hand, outside immortal's process tree: so will be every master it re-execs.
      const byHand = spawn(argv[0], argv.slice(1), { detached: true, stdio: 'ignore', env: { ...process.env, FOLLOW_LEDGER: h.ledgerFile } });
      byHand.unref();
      const master = await waitFor(() => readPid(pidfile), { timeout: 15000, message: 'the master started by hand' });

      const sv = h.start('unicorn-resumed', pidfile, argv);
      const status = await sv.waitStatus((s) => s.fpid && s.pid === master, 'the running master followed');
      assert.equal(status.count, 1);
      const client = hammer(readPid(portFile));
      await client.waitAnswerFrom(master);

      const masters = await usr2Chain(sv, pidfile, client, 2);
      const { errors } = await client.stop();
      assert.deepEqual(errors, []);
      assert.deepEqual(sv.followedPids(), masters, sv.logText());
      assert.deepEqual(sv.startedPids(), [], 'the command was never started');
      assert.equal(readLines(marker).length, 1, 'only the start by hand ran the command');

      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
    });

    test('the old master exits before the new one writes the pidfile: the stale pid of the old master is skipped', async (t) => {
      const h = await followHarness(t, { watch });
      const { pidfile, portFile, marker, argv } = unicornArgv(h, '--old-exits-first', '--pidfile-delay', '250');
      const sv = h.start('unicorn-stale', pidfile, argv);
      const first = await sv.waitStatus((s) => s.pid > 0 && s.pid === readPid(pidfile), 'the first master up');
      const client = hammer(readPid(portFile));
      await client.waitAnswerFrom(first.pid);

      const masters = await usr2Chain(sv, pidfile, client, 3);
      const { errors } = await client.stop();
      assert.deepEqual(errors, []);
      assert.deepEqual(sv.followedPids(), masters.slice(1), sv.logText());
      assert.equal((await sv.status()).count, 1);
      assert.equal(readLines(marker).length, 1);

      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
      assert.deepEqual(h.fixtureErrors(), []);
    });

    test('unicorn renames the pidfile to .oldbin on USR2: a pidfile missing for a moment is waited for', async (t) => {
      const h = await followHarness(t, { watch });
      const { pidfile, portFile, marker, argv } = unicornArgv(h, '--oldbin', '--old-exits-first', '--pidfile-delay', '250');
      const sv = h.start('unicorn-oldbin', pidfile, argv);
      const first = await sv.waitStatus((s) => s.pid > 0 && s.pid === readPid(pidfile), 'the first master up');
      const client = hammer(readPid(portFile));
      await client.waitAnswerFrom(first.pid);

      const masters = await usr2Chain(sv, pidfile, client, 2);
      const { errors } = await client.stop();
      assert.deepEqual(errors, []);
      assert.deepEqual(sv.followedPids(), masters.slice(1), sv.logText());
      assert.equal((await sv.status()).count, 1);
      assert.equal(readLines(marker).length, 1);

      assert.equal(await sv.terminate(), 0);
      await h.assertAllGone();
    });
  });
}
