// native.spawn's options for services: joining a cgroup, resource limits, the pid env entry
// (LISTEN_PID), fds past 2 whose numbers overlap their targets, and child-side failures that
// must reach the caller as thrown errors with a stage, never as a pid that did not run.
import test, { after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

import native from '../dist/native.js';
import { descendantsOf, gone, procStat, readAll, spawnTracker, tmpdir, waitFor, zombiesOf } from './helpers.mjs';

const require = createRequire(import.meta.url);
const DIST = require.resolve('../dist/native.js');
const ENV = ['PATH=/usr/bin:/bin'];
const children = spawnTracker(native);
const isRoot = process.getuid() === 0;

function exitOf(pid, timeout = 5000) {
  return waitFor(() => native.reap(pid), { timeout, message: `exit of ${pid}` });
}

async function stop(pid) {
  native.kill(pid, 'SIGKILL');
  await exitOf(pid);
}

/** Spawns `sleep 30` with opts and waits until it is inside the new program. */
async function sleeper(opts = {}) {
  const { pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '30'], env: [], ...opts });
  await waitFor(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '', { message: `exec of ${pid}` });
  return pid;
}

/** Runs `sh -c script` (extraFds as fd 3, 4…); resolves to its stdout. */
async function sh(script, { extraFds = [], ...opts } = {}) {
  const [r, w] = native.pipe();
  let pid;
  try {
    ({ pid } = children.spawn({ file: '/bin/sh', argv: ['sh', '-c', script], env: ENV, stdio: [-1, w, -1, ...extraFds], ...opts }));
  } finally {
    fs.closeSync(w);
  }
  const out = await readAll(r);
  assert.equal((await exitOf(pid)).code, 0);
  return { pid, out };
}

const LIMIT_LABELS = {
  as: 'Max address space', core: 'Max core file size', cpu: 'Max cpu time', data: 'Max data size',
  fsize: 'Max file size', memlock: 'Max locked memory', nofile: 'Max open files', nproc: 'Max processes',
  stack: 'Max stack size',
};

/** /proc/<pid>/limits as {nofile: {soft, hard}}, with 'unlimited' as -1. */
function limitsOf(pid) {
  const text = fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
  const out = {};
  for (const [name, label] of Object.entries(LIMIT_LABELS)) {
    const line = text.split('\n').find((l) => l.startsWith(label));
    const [soft, hard] = line.slice(label.length).trim().split(/\s+/);
    const value = (v) => (v === 'unlimited' ? -1 : Number(v));
    out[name] = { soft: value(soft), hard: value(hard) };
  }
  return out;
}

// The supervisor's own lookup (src/process/cgroup.ts): from /proc/self/mountinfo, never a fixed path.
const CGROUP2 = require('../dist/process/cgroup.js').findCgroup2Mount() ?? null;
const NO_CGROUP = !isRoot ? 'needs root' : CGROUP2 === null ? 'no cgroup2 hierarchy mounted here' : false;

/** A new cgroup of this test process's own under the cgroup2 mount, or undefined (t skipped). */
function testCgroup(t, name) {
  const dir = path.join(CGROUP2, `${name}-${process.pid}`);
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    t.skip(`cannot create a cgroup under ${CGROUP2}: ${err.code}`);
    return undefined;
  }
  return dir;
}

after(async () => {
  await children.cleanup();
  assert.deepEqual(zombiesOf(process.pid), [], 'zombie children of the test process');
  assert.deepEqual(descendantsOf(process.pid), [], 'leftover processes');
});

describe('spawn: fds past 2', () => {
  test('sources that overlap their targets are swapped correctly (a → b and b → a)', async () => {
    const [r1, w1] = native.pipe();
    const [r2, w2] = native.pipe();
    const link = (pid, fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    try {
      const [low, high] = [Math.min(r1, r2), Math.max(r1, r2)];
      const stdio = new Array(high + 1).fill(-1);
      stdio[low] = high; // the child's fd `low` is our `high`, and the other way round
      stdio[high] = low;
      stdio[3] = w1; // and plain ones after 2, also when 3 is itself some source
      const pid = await sleeper({ stdio });
      assert.equal(link(pid, low), link(process.pid, high));
      assert.equal(link(pid, high), link(process.pid, low));
      if (low !== 3 && high !== 3) assert.equal(link(pid, 3), link(process.pid, w1));
      for (let fd = 0; fd < 3; fd++) assert.equal(link(pid, fd), '/dev/null');
      await stop(pid);
    } finally {
      for (const fd of [r1, w1, r2, w2]) fs.closeSync(fd);
    }
  });

  test('listening sockets go to fd 3, 4 in order (systemd socket passing)', async () => {
    const first = native.bindTcpListener('127.0.0.1', 0, 4, 8);
    const second = native.bindTcpListener('127.0.0.1', 0, 4, 8);
    try {
      const { out } = await sh('readlink /proc/$$/fd/3 /proc/$$/fd/4', { extraFds: [second, first] });
      const inode = (fd) => fs.readlinkSync(`/proc/self/fd/${fd}`);
      assert.deepEqual(out.trim().split('\n'), [inode(second), inode(first)]);
    } finally {
      native.closeFd(first);
      native.closeFd(second);
    }
  });
});

describe('spawn: pidEnv', () => {
  test('NAME=<own pid> is set by the child, replacing a given one', async () => {
    const { pid, out } = await sh('echo $LISTEN_PID $$', {
      env: [...ENV, 'LISTEN_PID=999999', 'LISTEN_FDS=1'], pidEnv: 'LISTEN_PID',
    });
    assert.equal(out, `${pid} ${pid}\n`);
  });

  test('the rest of the environment is untouched, and NAME appears once', async () => {
    const { pid, out } = await sh('env | sort', { env: [...ENV, 'A=1', 'LISTEN_PID=7', 'Z=2'], pidEnv: 'LISTEN_PID' });
    assert.deepEqual(out.trim().split('\n'), ['A=1', `LISTEN_PID=${pid}`, 'PATH=/usr/bin:/bin', 'PWD=' + process.cwd(), 'Z=2']);
  });

  test('a name with "=" is refused before anything starts', () => {
    assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: [], pidEnv: 'A=B' }), { code: 'EINVAL' });
  });
});

describe('spawn: rlimits', () => {
  test('the supported names are exported', () => {
    assert.deepEqual([...native.RLIMIT_NAMES].sort(), Object.keys(LIMIT_LABELS).sort());
  });

  test('soft and hard values, and -1 as unlimited, show in /proc/<pid>/limits', async () => {
    const pid = await sleeper({
      rlimits: [
        { resource: 'nofile', soft: 1234, hard: 5678 },
        { resource: 'core', soft: 0, hard: -1 },
        { resource: 'fsize', soft: 1 << 30, hard: -1 },
        { resource: 'cpu', soft: 3600, hard: 7200 },
        { resource: 'stack', soft: 4 << 20, hard: 16 << 20 },
      ],
    });
    const limits = limitsOf(pid);
    assert.deepEqual(limits.nofile, { soft: 1234, hard: 5678 });
    assert.deepEqual(limits.core, { soft: 0, hard: -1 });
    assert.deepEqual(limits.fsize, { soft: 1 << 30, hard: -1 });
    assert.deepEqual(limits.cpu, { soft: 3600, hard: 7200 });
    assert.deepEqual(limits.stack, { soft: 4 << 20, hard: 16 << 20 });
    assert.deepEqual(limits.nproc, limitsOf(process.pid).nproc, 'others inherited');
    await stop(pid);
  });

  test('applied before the credential change: a service run as nobody gets them', { skip: !isRoot && 'needs root' }, async () => {
    const nobody = native.lookupUser('nobody');
    const pid = await sleeper({
      uid: nobody.uid, gid: nobody.gid, groups: nobody.groups,
      rlimits: [{ resource: 'nofile', soft: 512, hard: 4096 }, { resource: 'nproc', soft: 100, hard: 200 }],
    });
    assert.match(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`\\nUid:\\t${nobody.uid}\\t`));
    assert.deepEqual(limitsOf(pid).nofile, { soft: 512, hard: 4096 });
    assert.deepEqual(limitsOf(pid).nproc, { soft: 100, hard: 200 });
    await stop(pid);
  });

  // CAP_SYS_RESOURCE is bit 24 of the effective set; containers often drop it even for root.
  const capEff = BigInt(`0x${fs.readFileSync('/proc/self/status', 'utf8').match(/CapEff:\s*([0-9a-f]+)/)[1]}`);
  const canRaise = isRoot && (capEff & (1n << 24n)) !== 0n;
  test('with CAP_SYS_RESOURCE a hard limit above ours is granted, also for nobody', { skip: !canRaise && 'needs root with CAP_SYS_RESOURCE (dropped here)' }, async () => {
    const ours = limitsOf(process.pid).nofile.hard;
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const wanted = Math.min(ours === -1 ? nrOpen : ours + 1000, nrOpen);
    const nobody = native.lookupUser('nobody');
    const pid = await sleeper({ uid: nobody.uid, gid: nobody.gid, groups: nobody.groups, rlimits: [{ resource: 'nofile', soft: 4096, hard: wanted }] });
    assert.deepEqual(limitsOf(pid).nofile, { soft: 4096, hard: wanted });
    await stop(pid);
  });

  test('a limit the kernel refuses: thrown with stage setrlimit and the name; no child left', () => {
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    assert.throws(
      () => children.spawn({ file: '/bin/true', argv: ['true'], env: [], rlimits: [{ resource: 'nofile', soft: 10, hard: 5 }] }),
      { code: 'EINVAL', syscall: 'setrlimit', stage: 'setrlimit', path: 'nofile' },
    );
    assert.throws(
      () => children.spawn({ file: '/bin/true', argv: ['true'], env: [], rlimits: [{ resource: 'nofile', soft: 64, hard: nrOpen + 1 }] }),
      { code: 'EPERM', stage: 'setrlimit', path: 'nofile' },
    );
    assert.deepEqual(zombiesOf(process.pid), []);
  });

  test('an unknown name or a bad value is refused before fork', () => {
    for (const limit of [{ resource: 'bogus', soft: 1, hard: 1 }, { resource: 'core', soft: -2, hard: 1 }, { resource: 'core', soft: 1.5, hard: 2 }]) {
      assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: [], rlimits: [limit] }),
        (err) => err.code === 'EINVAL' && err.stage === undefined && err.path === limit.resource);
    }
  });
});

describe('spawn: cgroupFd', () => {
  test('a directory that is no cgroup: the child joins by writing cgroup.procs, and a failed write is thrown with stage cgroup and its errno (here /dev/full: ENOSPC)', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-not-a-cgroup-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.symlinkSync('/dev/full', path.join(dir, 'cgroup.procs'));
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: [], cgroupFd: fd }),
        { code: 'ENOSPC', syscall: 'cgroup', stage: 'cgroup', path: 'cgroup.procs' });
      fs.rmSync(path.join(dir, 'cgroup.procs'));
      // No cgroup.procs to open: thrown before any child exists.
      assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: [], cgroupFd: fd }),
        { code: 'ENOENT', syscall: 'cgroup', stage: 'cgroup', path: 'cgroup.procs' });
      assert.deepEqual(zombiesOf(process.pid), []);
    } finally {
      fs.closeSync(fd);
    }
  });

  test('the child is in the cgroup before exec, its first start and the next ones; a removed cgroup is an error', { skip: NO_CGROUP }, async (t) => {
    const dir = testCgroup(t, 'immortal-h6-test');
    if (dir === undefined) return;
    let fd;
    try {
      fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      for (let round = 0; round < 2; round++) {
        const pid = await sleeper({ cgroupFd: fd });
        const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
        assert.equal(line, `0::/${path.relative(CGROUP2, dir)}`);
        assert.deepEqual(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim().split('\n'), [String(pid)]);
        await stop(pid);
        await waitFor(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8') === '', { message: 'cgroup empty' });
      }
      fs.rmdirSync(dir);
      // The fd now names a cgroup that is gone: the kernel refuses it.
      assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: [], cgroupFd: fd }),
        (err) => err.stage === 'cgroup' && typeof err.code === 'string' && err.code.startsWith('E'));
      assert.deepEqual(zombiesOf(process.pid), []);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
      if (fs.existsSync(dir)) fs.rmdirSync(dir);
    }
  });
});

describe('prepareRestart: the restart the addon starts at the exit', () => {
  test('reap() of the prepared pid says "restarted" with the new pid, or "restartError" with what spawn would throw', { skip: NO_CGROUP }, async (t) => {
    const dir = testCgroup(t, 'immortal-prepared-test');
    if (dir === undefined) return;
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    let restarted;
    try {
      const first = await sleeper({ cgroupFd: fd });
      native.prepareRestart(first, { file: '/bin/sleep', argv: ['sleep', '31'], env: [], cgroupFd: fd }, 0, []);
      native.kill(first, 'SIGKILL');
      const status = await exitOf(first);
      restarted = status.restarted;
      assert.equal(status.signal, 'SIGKILL');
      assert.ok(restarted > 0 && !gone(restarted), `a new child: ${JSON.stringify(status)}`);
      assert.equal(status.restartError, undefined);
      await waitFor(() => fs.readFileSync(`/proc/${restarted}/cmdline`, 'utf8') === 'sleep\x0031\x00', { message: `exec of ${restarted}` });

      const missing = path.join(dir, 'no-such-program');
      native.prepareRestart(restarted, { file: missing, argv: ['x'], env: [], cgroupFd: fd }, 0, []);
      native.kill(restarted, 'SIGKILL');
      const failed = await exitOf(restarted);
      restarted = undefined;
      assert.equal(failed.restarted, undefined);
      assert.equal(failed.restartError?.code, 'ENOENT', `the exec's error: ${JSON.stringify(failed)}`);
      assert.equal(failed.restartError.path, missing);
      assert.deepEqual(zombiesOf(process.pid), []);
    } finally {
      if (restarted !== undefined) await stop(restarted);
      fs.closeSync(fd);
      await waitFor(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8') === '', { message: 'cgroup empty' });
      fs.rmdirSync(dir);
    }
  });
  test('the restart thread starts it as the process exits, while JavaScript is busy; a cancel after that is too late', { skip: NO_CGROUP }, async (t) => {
    const dir = testCgroup(t, 'immortal-restart-thread-test');
    if (dir === undefined) return;
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    const procs = () => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    let restarted;
    try {
      const first = await sleeper({ cgroupFd: fd });
      native.prepareRestart(first, { file: '/bin/sleep', argv: ['sleep', '32'], env: [], cgroupFd: fd }, 0, []);
      native.kill(first, 'SIGKILL');
      // No await from here to the reap: the event loop, and with it every reap, waits.
      const pause = new Int32Array(new SharedArrayBuffer(4));
      for (const deadline = Date.now() + 10000; Date.now() < deadline && restarted === undefined;) {
        restarted = procs().find((pid) => pid !== first);
        if (restarted === undefined) Atomics.wait(pause, 0, 0, 1);
      }
      assert.ok(restarted > 0, 'a new process in the cgroup before any reap');
      assert.equal(procStat(first)?.state, 'Z', `${first} not reaped yet`);
      native.cancelRestart(first);
      const status = native.reap(first);
      assert.equal(status.restarted, restarted, JSON.stringify(status));
      assert.equal(procStat(restarted)?.ppid, process.pid, 'our child');
      assert.deepEqual(zombiesOf(process.pid), []);
    } finally {
      if (restarted !== undefined) await stop(restarted);
      fs.closeSync(fd);
      await waitFor(() => procs().length === 0, { message: 'cgroup empty' });
      fs.rmdirSync(dir);
    }
  });
});

/** The scheduling policy of a thread: field 41 of its stat (0 SCHED_OTHER, 3 SCHED_BATCH). */
function policyOf(pid, tid = pid) {
  const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
}

// The parent runs SCHED_BATCH from the clone until the exec (native/step_aside.cc), so that
// its wake-ups do not preempt the starting child; neither the child nor the parent may keep it.
describe('spawn: scheduling policy', { skip: process.platform !== 'linux' && 'SCHED_BATCH is Linux only' }, () => {
  test('the child runs SCHED_OTHER, as we do, and we are SCHED_OTHER again after the spawn', async () => {
    assert.equal(policyOf(process.pid), 0);
    const { out } = await sh('cut -d" " -f41 /proc/$$/stat');
    assert.equal(out.toString().trim(), '0');
    assert.equal(policyOf(process.pid), 0);
    const pid = await sleeper();
    assert.equal(policyOf(pid), 0);
    assert.equal(policyOf(process.pid), 0);
    await stop(pid);
  });

  test('a failed spawn leaves us SCHED_OTHER', () => {
    assert.throws(() => children.spawn({ file: '/nonexistent/x', argv: ['x'], env: [] }), { code: 'ENOENT' });
    assert.equal(policyOf(process.pid), 0);
  });

  test('a policy the operator chose (chrt -b) is left alone: the child inherits it and we keep it', async () => {
    const script = `
      const fs = require('node:fs');
      const native = require(${JSON.stringify(DIST)});
      const policy = (pid) => { const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[38]); };
      const { pid } = native.spawn({ file: '/bin/sleep', argv: ['sleep', '30'], env: [] });
      const result = { child: policy(pid), self: policy(process.pid) };
      native.kill(pid, 'SIGKILL');
      while (native.reap(pid) === null) {}
      console.log(JSON.stringify(result));`;
    // python3 sets SCHED_BATCH and execs node, as chrt -b would (util-linux may be absent).
    const batch = 'import os, sys; os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0)); os.execv(sys.argv[1], sys.argv[1:])';
    const { stdout } = await promisify(execFile)('python3', ['-c', batch, process.execPath, '-e', script], { timeout: 20000 });
    assert.deepEqual(JSON.parse(stdout), { child: 3, self: 3 });
  });
});

describe('spawn: child-side failures always reach the caller', () => {
  test('when the report fd cannot be moved above the targets: thrown (stage dup2), no pid returned', { skip: !fs.existsSync('/usr/bin/prlimit') && 'prlimit (util-linux) missing' }, async () => {
    // With RLIMIT_NOFILE at 64 and 100 stdio targets, F_DUPFD(report, 100) fails (EINVAL):
    // before the fix the child exited 127 silently and spawn returned its pid.
    const script = `
      const native = require(${JSON.stringify(DIST)});
      try {
        const r = native.spawn({ file: '/bin/true', argv: ['true'], env: [], stdio: new Array(100).fill(-1) });
        console.log(JSON.stringify({ pid: r.pid }));
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, stage: err.stage, zombies: native.reap(-1) }));
      }`;
    const { stdout } = await promisify(execFile)('/usr/bin/prlimit', ['--nofile=64:64', process.execPath, '-e', script], { timeout: 20000 });
    assert.deepEqual(JSON.parse(stdout), { code: 'EINVAL', stage: 'dup2', zombies: null });
  });

  test('more stdio entries than the child can map: EMFILE before fork', () => {
    assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: [], stdio: new Array(300).fill(-1) }), { code: 'EMFILE' });
  });

  test('the /dev/null kept for empty stdio entries, closed by a stray close and its number reused: the next child still gets /dev/null', async () => {
    const script = `
      const fs = require('node:fs');
      const native = require(${JSON.stringify(DIST)});
      const stdinOf = () => {
        const [r, w] = native.pipe();
        const { pid } = native.spawn({ file: '/bin/sh', argv: ['sh', '-c', 'readlink /proc/self/fd/0'], env: ['PATH=/usr/bin:/bin'], stdio: [-1, w, -1] });
        fs.closeSync(w);
        let out = '';
        const buf = Buffer.alloc(256);
        for (let n; (n = fs.readSync(r, buf)) > 0;) out += buf.toString('utf8', 0, n);
        fs.closeSync(r);
        while (native.reap(pid) === null) {}
        return out.trim();
      };
      const first = stdinOf();
      // (readdir's own fd is gone by the time it is looked at: no link.)
      const link = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd); } catch { return ''; } };
      const kept = fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => fd > 2 && link(fd) === '/dev/null');
      for (const fd of kept) fs.closeSync(fd);
      const file = require('node:path').join(require('node:os').tmpdir(), 'immortal-stray-' + process.pid);
      // Opened until a file holds the kept number (lower free numbers are taken first).
      const opened = [];
      while (opened.length < 64 && !opened.includes(kept[0])) opened.push(fs.openSync(file, 'w+'));
      const second = stdinOf();
      for (const fd of opened) fs.closeSync(fd);
      fs.unlinkSync(file);
      console.log(JSON.stringify({ first, kept: kept.length, reusedNumber: opened.includes(kept[0]), second }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 20000 });
    assert.deepEqual(JSON.parse(stdout), { first: '/dev/null', kept: 1, reusedNumber: true, second: '/dev/null' });
  });

  test('exec failures carry stage exec; others carry their syscall', () => {
    assert.throws(() => children.spawn({ file: '/nonexistent/x', argv: ['x'], env: [] }), { code: 'ENOENT', stage: 'exec' });
    assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: [], stdio: [-1, 987654, -1] }), { code: 'EBADF', stage: 'dup2' });
    assert.equal(gone(process.pid), false);
  });
});
