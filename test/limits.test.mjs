// run.yml `limits:` (setrlimit in the child before exec) and `cgroup:` through the real CLI:
// /proc/<pid>/limits of the service shows them, also with -u; require_cmd and post_exit get
// them too, the logger does not; `cgroup:` is applied or the start is refused with one line.
// docs/limits.md. Bad values are in test/fixtures/bad (limits-*.yml, cgroup-*.yml).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { createUser, removeUser } from './helpers.mjs';
import { startDir } from './fixtures/dir-harness.mjs';
import { isRoot, sandbox, signal, waitForFile, waitForStatus } from './cli-helpers.mjs';

const require = createRequire(import.meta.url);
const { serviceCgroupTree } = require('../dist/process/cgroup.js');

const USER = 'imm_p15_limits';
const haveUseradd = spawnSync('sh', ['-c', 'command -v useradd'], { encoding: 'utf8' }).status === 0;

/** The rows of /proc/<pid>/limits (or of such a file's text) as name → [soft, hard]. */
function limitsOf(text) {
  const rows = {};
  for (const line of text.split('\n').slice(1)) {
    const match = /^(.+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (match) rows[match[1].trim()] = [match[2], match[3]];
  }
  return rows;
}

const LIMITS_YML = `limits:
  nofile: "1024:4096"
  core: unlimited
  stack: 16M
  cpu: 3600
`;

function assertServiceLimits(rows) {
  assert.deepEqual(rows['Max open files'], ['1024', '4096'], 'nofile soft:hard');
  assert.deepEqual(rows['Max core file size'], ['unlimited', 'unlimited'], 'core unlimited');
  assert.deepEqual(rows['Max stack size'], [String(16 * 2 ** 20), String(16 * 2 ** 20)], 'stack 16M in bytes');
  assert.deepEqual(rows['Max cpu time'], ['3600', '3600'], 'cpu seconds');
}

describe('limits: in /proc/<pid>/limits of the service', { concurrency: true }, () => {
  test('the service, require_cmd and post_exit get them; the logger does not', async (t) => {
    const box = sandbox(t);
    const requireOut = box.path('require.limits');
    const postOut = box.path('post.limits');
    const loggerOut = box.path('logger.limits');
    const file = box.write('lim.yml', `cmd: sleep 60
require_cmd: cat /proc/self/limits > ${requireOut}
post_exit: cat /proc/self/limits > ${postOut}
logger: cat /proc/self/limits > ${loggerOut}; cat > /dev/null
${LIMITS_YML}`);
    const run = box.start(['-n', '-ctl', 'lim', '-c', file]);
    const sock = box.ctlSocket('lim');
    const st = await waitForStatus(sock, (s) => s.pid > 0);
    assertServiceLimits(limitsOf(fs.readFileSync(`/proc/${st.pid}/limits`, 'utf8')));
    assertServiceLimits(limitsOf(fs.readFileSync(requireOut, 'utf8')));
    const loggerRows = limitsOf(await waitForFile(loggerOut, (text) => text.includes('Max open files')));
    const own = limitsOf(fs.readFileSync('/proc/self/limits', 'utf8'));
    assert.deepEqual(loggerRows['Max open files'], own['Max open files'], "the logger keeps the supervisor's nofile");
    assert.equal(await signal(sock, 'halt'), '');
    assertServiceLimits(limitsOf(await waitForFile(postOut, (text) => text.includes('Max stack size'))));
    await run.closed;
  });

  test("a hard limit above the supervisor's own: raised with CAP_SYS_RESOURCE, else the start fails naming it", { skip: !isRoot && 'needs root' }, async (t) => {
    const box = sandbox(t);
    const ownHard = limitsOf(fs.readFileSync('/proc/self/limits', 'utf8'))['Max open files'][1];
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    if (ownHard === 'unlimited' || Number(ownHard) >= nrOpen) return t.skip(`nofile hard limit ${ownHard} cannot be raised further`);
    const raised = Math.min(Number(ownHard) + 1024, nrOpen);
    const file = box.write('raise.yml', `cmd: sleep 60\nlimits:\n  nofile: ${raised}\n`);
    const effective = BigInt(`0x${/^CapEff:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]}`);
    if ((effective >> 24n) & 1n) {
      t.diagnostic(`branch: CAP_SYS_RESOURCE held: nofile raised from ${ownHard} to ${raised}`);
      const run = box.start(['-n', '-ctl', 'raise', '-c', file]);
      const st = await waitForStatus(box.ctlSocket('raise'), (s) => s.pid > 0);
      assert.deepEqual(limitsOf(fs.readFileSync(`/proc/${st.pid}/limits`, 'utf8'))['Max open files'], [String(raised), String(raised)]);
      assert.equal(await signal(box.ctlSocket('raise'), 'halt'), '');
      await run.closed;
      return;
    }
    t.diagnostic(`branch: no CAP_SYS_RESOURCE here: raising nofile from ${ownHard} to ${raised} is refused`);
    const result = await box.run(['-n', '-ctl', 'raise', '-c', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr.trim(), /^immortal: EPERM: operation not permitted, setrlimit 'nofile'$/);
    assert.deepEqual(box.processes(), []);
  });
});

describe('limits: with -u', { skip: !isRoot ? 'needs root' : !haveUseradd ? 'needs useradd' : false }, () => {
  before(() => createUser(USER));
  after(() => removeUser(USER));

  test('the service runs as the user with the limits (they survive setuid)', async (t) => {
    const box = sandbox(t);
    const file = box.write('asuser.yml', `cmd: sleep 60\n${LIMITS_YML}`);
    const run = box.start(['-n', '-ctl', 'asuser', '-u', USER, '-c', file]);
    const st = await waitForStatus(box.ctlSocket('asuser'), (s) => s.pid > 0);
    const uid = Number(spawnSync('id', ['-u', USER], { encoding: 'utf8' }).stdout.trim());
    assert.equal(fs.statSync(`/proc/${st.pid}`).uid, uid, 'runs as the user');
    assertServiceLimits(limitsOf(fs.readFileSync(`/proc/${st.pid}/limits`, 'utf8')));
    assert.equal(await signal(box.ctlSocket('asuser'), 'halt'), '');
    await run.closed;
  });
});

describe('cgroup: applied where the controller is available, else the start is refused', () => {
  test('immortal -n -c with cgroup.memory_max: the branch this machine takes', async (t) => {
    const box = sandbox(t);
    const file = box.write('cg.yml', 'cmd: sleep 60\ncgroup:\n  memory_max: 64M\n  pids_max: 32\n');
    const tree = serviceCgroupTree();
    const controllers = tree === undefined ? [] : fs.readFileSync(path.join(tree, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (tree !== undefined && controllers.includes('memory') && controllers.includes('pids')) {
      t.diagnostic(`branch: applied (memory and pids controllers available in ${tree})`);
      const run = box.start(['-n', '-ctl', 'cg', '-c', file]);
      const st = await waitForStatus(box.ctlSocket('cg'), (s) => s.pid > 0);
      const own = fs.readFileSync(`/proc/${st.pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::')).slice(3);
      const dir = path.join(path.dirname(tree), path.basename(tree), path.basename(own));
      assert.equal(fs.readFileSync(path.join(dir, 'memory.max'), 'utf8').trim(), String(64 * 2 ** 20));
      assert.equal(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim(), '32');
      assert.equal(await signal(box.ctlSocket('cg'), 'halt'), '');
      await run.closed;
      return;
    }
    const why = tree === undefined ? 'the service has no cgroup' : `the memory controller is not available in ${tree}`;
    t.diagnostic(`branch: refused (${why})`);
    for (const args of [['-n', '-ctl', 'cg', '-c', file], ['-c', file]]) {
      const result = await box.run(args);
      const lines = result.stderr.split('\n').filter(Boolean);
      assert.equal(result.code, 1, `immortal ${args.join(' ')}: exit 1 (stderr ${result.stderr})`);
      assert.equal(lines.length, 1, `one line: ${result.stderr}`);
      assert.ok(lines[0].includes(`${file}: cgroup.memory_max: ${why}`), lines[0]);
      assert.deepEqual(box.processes(), [], 'nothing started');
      assert.ok(!fs.existsSync(path.join(box.sdir, 'cg', 'immortal.sock')), 'no socket left');
    }
  });

  test('IMMORTAL_CGROUP=off (tracked mode): refused, naming the key and why', async (t) => {
    const box = sandbox(t);
    const file = box.write('tracked.yml', 'cmd: sleep 60\ncgroup:\n  cpu_max: 1.5\n');
    const result = await box.run(['-n', '-ctl', 'tracked', '-c', file], { env: { IMMORTAL_CGROUP: 'off' } });
    assert.equal(result.code, 1);
    const reason = isRoot ? 'IMMORTAL_CGROUP=off' : 'not root';
    assert.equal(result.stderr.trim(), `immortal: ${file}: cgroup.cpu_max: the service has no cgroup: ${reason}`);
    assert.deepEqual(box.processes(), []);
  });
});

describe('cgroup: in immortaldir', () => {
  test('a service whose cgroup limit cannot be applied is logged and not started; its neighbour runs', async (t) => {
    const tree = serviceCgroupTree();
    const controllers = tree === undefined ? [] : fs.readFileSync(path.join(tree, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (controllers.includes('pids')) return t.skip(`the pids controller is available in ${tree}: nothing is refused here`);
    t.diagnostic(`branch: refused (${tree === undefined ? 'no cgroup' : `no pids controller in ${tree}`})`);
    const dir = await startDir(t, { files: { capped: 'cmd: sleep 3611\ncgroup:\n  pids_max: 16\n', plain: 'cmd: sleep 3612\n' } });
    const plain = await dir.waitRunning('plain');
    await dir.waitForLog(/capped: .*capped\.yml: cgroup\.pids_max: (the pids controller is not available in|the service has no cgroup)/);
    assert.equal(fs.existsSync(dir.socket('capped')), false, 'no socket for the refused service');
    assert.equal((await dir.status('plain')).pid, plain.pid);
    assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  });
});
