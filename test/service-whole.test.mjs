// A service is every process it started (SPEC §8): through the real CLI, in both ways of
// knowing the members — the service's cgroup (root, cgroup2 writable) and the tracked
// fallback (IMMORTAL_CGROUP=off) — a crash leaves no orphan holding the port, a restart
// never runs two generations side by side, and a stop leaves nothing.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { askPrefork, PREFORK } from './fixtures/prefork-client.mjs';
import { freePort } from './listen-helpers.mjs';
import { FIXTURE_DIR, gone, request, sandbox, signal, waitFor, waitForFile, waitForStatus, DEADLINE_MS } from './cli-helpers.mjs';

const IMMORTALCTL = new URL('../dist/cli/immortalctl.js', import.meta.url).pathname;

const require = createRequire(import.meta.url);
const { serviceCgroupTree } = require('../dist/process/cgroup.js');

const modes = [
  { name: 'cgroup', env: {}, skip: serviceCgroupTree() === undefined ? 'needs root and a writable cgroup2 hierarchy' : false },
  { name: 'tracked', env: { IMMORTAL_CGROUP: 'off' }, skip: false },
];

/** The prefork fixture's processes on port, whatever python3 resolves to. */
function preforkOn(port) {
  return new RegExp(`/prefork\\.py --port ${port} `);
}

/** Waits until the port is served by a master other than `notMaster`. */
function servedBy(port, notMaster) {
  return waitFor(async () => {
    const answer = await askPrefork(port);
    return answer && answer.master !== notMaster ? answer : undefined;
  }, { timeout: DEADLINE_MS, message: `port ${port} served by a master other than ${notMaster}` });
}

/** A sleep duration no other test uses: it names a process in /proc. */
function uniqueSeconds() {
  return String(900000 + Math.floor(Math.random() * 99999));
}

/**
 * Live pids whose command line starts with text, or contains it when text is a RegExp (python3
 * may be a wrapper that execs the real interpreter under a longer path).
 */
function processesRunning(text) {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ');
      const matches = text instanceof RegExp ? text.test(cmdline) : cmdline.startsWith(text);
      if (matches && !gone(Number(entry))) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

for (const mode of modes) {
  describe(`a service is every process it started (${mode.name})`, { skip: mode.skip }, () => {
    test('prefork master killed -9: its workers are stopped, a new master serves the port; SIGTERM leaves nothing', async (t) => {
      const box = sandbox(t);
      const port = await freePort();
      const pidfile = box.path('master.pid');
      const yml = box.write('prefork.yml', [
        `cmd: python3 ${PREFORK} --port ${port} --workers 2 --daemonize --pidfile ${pidfile}`,
        'pid:',
        `  follow: ${pidfile}`,
        // Long enough for the first handover on a loaded machine (the master writes its
        // pidfile after forking its workers); the kill below then waits it out once.
        '  grace: 5',
        'stop_timeout: 5',
        '',
      ].join('\n'));
      const run = box.start(['-n', '-ctl', 'prefork', '-c', yml], { env: mode.env });
      const first = await servedBy(port, undefined);
      // Workers answer before the master writes its pidfile: kill it once it is followed.
      await waitForStatus(box.ctlSocket('prefork'), (st) => st.fpid === true && st.pid === first.master);
      const oldWorkers = processesRunning(preforkOn(port)).filter((pid) => pid !== first.master);
      assert.equal(oldWorkers.length, 2, 'two workers serve beside the master');

      process.kill(first.master, 'SIGKILL');
      await run.waitForLog(/stopping 2 processes left of the last run/);
      const second = await servedBy(port, first.master);
      assert.notEqual(second.master, first.master);
      // A worker answers before its sibling is forked; the pidfile comes after both.
      await waitForStatus(box.ctlSocket('prefork'), (st) => st.fpid === true && st.pid === second.master);
      for (const pid of oldWorkers) assert.ok(gone(pid), `old worker ${pid} is gone`);
      assert.equal(processesRunning(preforkOn(port)).length, 3, 'one master and two workers: one generation');
      // The followed master descended from us: its real status is known, not 0.
      assert.match(run.stderr, new RegExp(`pid ${first.master} exited on SIGKILL`));

      run.kill('SIGTERM');
      assert.equal((await run.waitExit()).code, 0);
      assert.deepEqual(processesRunning(preforkOn(port)), [], 'nothing of the service survives SIGTERM');
    });

    test('sh with a background child: kill -9 of the main process → the child of that run is stopped before the restart', async (t) => {
      const box = sandbox(t);
      // Unique durations name the run's processes in /proc.
      const [background, main] = [uniqueSeconds(), uniqueSeconds()];
      const run = box.start(['-n', '-ctl', 'bg', 'sh', '-c', `sleep ${background} & exec sleep ${main}`], { env: mode.env });
      const sock = box.ctlSocket('bg');
      const first = await waitForStatus(sock, (s) => s.pid > 0);
      const firstChild = await waitFor(() => processesRunning(`sleep ${background}`)[0], { timeout: DEADLINE_MS, message: 'background sleep' });
      process.kill(first.pid, 'SIGKILL');
      const second = await waitForStatus(sock, (s) => s.pid > 0 && s.pid !== first.pid);
      await waitFor(() => processesRunning(`sleep ${background}`).length === 1 && !processesRunning(`sleep ${background}`).includes(firstChild),
        { timeout: DEADLINE_MS, message: 'one background sleep, of the new run' });
      assert.ok(gone(firstChild), 'the first run\'s background child was stopped');
      assert.ok(second.count >= 2);

      assert.equal(await signal(sock, 'halt'), '');
      await run.waitExit();
      assert.deepEqual([...processesRunning(`sleep ${background}`), ...processesRunning(`sleep ${main}`)], [], 'halt leaves nothing');
    });

    test('followed pid gone and nothing of the service left: restarted at once, without waiting pid.grace', async (t) => {
      const box = sandbox(t);
      const pidfile = box.path('daemon.pid');
      const daemon = path.join(FIXTURE_DIR, 'daemon.py');
      // A long grace: waiting it out would show as a timeout here.
      const yml = box.write('d.yml', `cmd: python3 ${daemon} --pidfile ${pidfile}\npid:\n  follow: ${pidfile}\n  grace: 600\n`);
      const run = box.start(['-n', '-ctl', 'd', '-c', yml], { env: mode.env });
      const sock = box.ctlSocket('d');
      const first = await waitForStatus(sock, (s) => s.fpid === true && s.pid > 0);
      process.kill(first.pid, 'SIGKILL');
      await waitForStatus(sock, (s) => s.fpid === true && s.pid > 0 && s.pid !== first.pid);
      assert.doesNotMatch(run.stderr, /left of the last run/);
      assert.equal(await signal(sock, 'halt'), '');
      await run.waitExit();
    });

    test('post_exit gets the real exit status of a followed daemon that descends from us', async (t) => {
      const box = sandbox(t);
      const pidfile = box.path('daemon.pid');
      const codes = box.path('codes');
      const daemon = path.join(FIXTURE_DIR, 'daemon.py');
      const yml = box.write('d.yml', [
        `cmd: python3 ${daemon} --pidfile ${pidfile}`,
        `pid:\n  follow: ${pidfile}`,
        `post_exit: sh -c 'echo "$0" >> ${codes}'`,
        '',
      ].join('\n'));
      const run = box.start(['-n', '-ctl', 'd', '-c', yml], { env: mode.env });
      const sock = box.ctlSocket('d');
      const first = await waitForStatus(sock, (s) => s.fpid === true && s.pid > 0);
      process.kill(first.pid, 'SIGKILL');
      const written = await waitForFile(codes, (text) => text.includes('137'));
      assert.match(written, /^137$/m, 'SIGKILL is 128 + 9');
      assert.equal(await signal(sock, 'halt'), '');
      await run.waitExit();
    });

    test('a supervisor killed -9 before it wrote child.pid: the next one finds the service by membership instead of starting a duplicate', async (t) => {
      const box = sandbox(t);
      // A unique duration names the service's process in /proc (argv is what adoption matches).
      const seconds = uniqueSeconds();
      const args = ['-n', '-ctl', 'adopt', 'sleep', seconds];
      const first = box.start(args, { env: mode.env });
      const sock = box.ctlSocket('adopt');
      const before = await waitForStatus(sock, (s) => s.pid > 0);
      first.kill('SIGKILL');
      await first.waitExit();
      // The window between spawn and child.pid: as if the supervisor died inside it.
      fs.rmSync(path.join(box.sdir, 'adopt', 'child.pid'), { force: true });
      const second = box.start(args, { env: mode.env });
      const after = await waitForStatus(sock, (s) => s.pid > 0);
      assert.equal(after.pid, before.pid, 'the running service was adopted');
      assert.equal(processesRunning(`sleep ${seconds}`).length, 1, 'no duplicate');
      assert.equal(await signal(sock, 'halt'), '');
      await second.waitExit();
      assert.deepEqual(processesRunning(`sleep ${seconds}`), []);
    });

    test('/metrics, /service and immortalctl --json count the whole service; / keeps the Go bytes', async (t) => {
      const box = sandbox(t);
      const port = await freePort();
      const run = box.start(['-n', '-ctl', 'acct', 'python3', PREFORK, '--port', String(port), '--workers', '2'], { env: mode.env });
      const sock = box.ctlSocket('acct');
      await servedBy(port, undefined);
      const metrics = await waitFor(async () => {
        const { body } = await request(sock, '/metrics');
        return /immortal_service_processes\{service="acct"\} 3$/m.test(body) && body;
      }, { timeout: DEADLINE_MS, message: '3 processes in /metrics' });
      const memory = Number(/^immortal_service_memory_bytes\{service="acct"\} (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(memory > 1024 * 1024, `resident memory of three python processes, got ${memory}`);
      assert.match(metrics, /^immortal_service_cpu_seconds_total\{service="acct"\} [\d.e-]+$/m);

      const record = JSON.parse((await request(sock, '/service')).body);
      assert.equal(record.processes, 3);
      assert.ok(record.memory > 1024 * 1024);
      assert.equal(typeof record.cpu, 'number');
      const status = JSON.parse((await request(sock, '/')).body);
      assert.deepEqual(Object.keys(status).sort(), ['cmd', 'count', 'fpid', 'pid', 'up'], 'the Go original\'s keys only');

      const listed = JSON.parse(execFileSync(process.execPath, [IMMORTALCTL, '--json', 'status', 'acct'], { env: box.env, encoding: 'utf8' }));
      assert.equal(listed[0].processes, 3);
      assert.ok(listed[0].memory > 0);

      assert.equal(await signal(sock, 'halt'), '');
      await run.waitExit();
      assert.deepEqual(processesRunning(preforkOn(port)), []);
    });
  });
}
