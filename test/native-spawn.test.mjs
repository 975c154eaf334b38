// native.spawn: argv/env/cwd, PATH search, stdio mapping, session, umask, signal reset,
// fd hygiene, exec-side errors (thrown synchronously, child reaped) and, as root, credentials.
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import native from '../dist/native.js';
import {
  createUser, descendantsOf, procStat, procStatus, readAll, removeUser, spawnTracker, tmpdir,
  waitFor, zombiesOf,
} from './helpers.mjs';

const ENV = ['PATH=/usr/bin:/bin'];
const children = spawnTracker(native);

/** Waits for child pid to exit and reaps it. */
function exitOf(pid, timeout = 2000) {
  return waitFor(() => native.reap(pid), { timeout, message: `exit of ${pid}` });
}

/** Runs `sh -c script` with stdout on a pipe; resolves to {out, status}. */
async function sh(script, opts = {}) {
  const [r, w] = native.pipe();
  let pid;
  try {
    ({ pid } = children.spawn({ file: '/bin/sh', argv: ['sh', '-c', script, ...(opts.args ?? [])], env: ENV, stdio: [-1, w, -1], ...opts.spawn }));
  } finally {
    fs.closeSync(w);
  }
  const out = await readAll(r);
  return { out, status: await exitOf(pid) };
}

function assertNoZombies() {
  assert.deepEqual(zombiesOf(process.pid), [], 'zombie children of the test process');
}

after(async () => {
  await children.cleanup();
  assertNoZombies();
  assert.deepEqual(descendantsOf(process.pid), [], 'leftover processes');
});

describe('spawn: what the child gets', () => {
  test('argv, env and cwd are passed exactly', async (t) => {
    const dir = fs.realpathSync(tmpdir(t));
    const script = 'printf "%s|" "$0" "$1" "$2"; echo; echo "FOO=$FOO"; echo "HOME=${HOME-unset}"; pwd';
    const { out, status } = await sh(script, {
      args: ['zero', 'a b', ''],
      spawn: { env: [...ENV, 'FOO=bar baz'], cwd: dir },
    });
    assert.deepEqual(status, { pid: status.pid, code: 0, signal: null });
    assert.deepEqual(out.split('\n'), ['zero|a b||', 'FOO=bar baz', 'HOME=unset', dir, '']);
  });

  test('argv[0] is independent of the file executed', async () => {
    const { pid } = children.spawn({ file: '/bin/sleep', argv: ['custom-name', '5'], env: [] });
    // spawn returns once the child left our memory inside execve, a moment before the kernel
    // has laid out the new argv: /proc/<pid>/cmdline may read empty until then.
    await waitFor(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '', { timeout: 2000 });
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(0, 2), ['custom-name', '5']);
    assert.equal(fs.readlinkSync(`/proc/${pid}/exe`), fs.realpathSync('/bin/sleep'));
    native.kill(pid, 'SIGKILL');
    assert.equal((await exitOf(pid)).signal, 'SIGKILL');
  });

  test('a bare name is searched in searchPath like execvp (not our PATH); EACCES only when nothing runs', async (t) => {
    const dir = tmpdir(t);
    const [empty, noexec, exec] = ['empty', 'noexec', 'exec'].map((d) => path.join(dir, d));
    for (const d of [empty, noexec, exec]) fs.mkdirSync(d);
    fs.writeFileSync(path.join(noexec, 'immortal-tool'), '#!/bin/sh\necho noexec\n', { mode: 0o644 });
    fs.writeFileSync(path.join(exec, 'immortal-tool'), '#!/bin/sh\necho "found $1"\n', { mode: 0o755 });

    const [r, w] = native.pipe();
    const { pid } = children.spawn({
      file: 'immortal-tool', argv: ['immortal-tool', 'it'], env: ENV,
      searchPath: `/nonexistent:${empty}:${noexec}:${exec}`, stdio: [-1, w, -1],
    });
    fs.closeSync(w);
    assert.equal(await readAll(r), 'found it\n');
    assert.equal((await exitOf(pid)).code, 0);

    assert.throws(
      () => children.spawn({ file: 'immortal-tool', argv: ['immortal-tool'], env: ENV, searchPath: `${empty}:${noexec}` }),
      { code: 'EACCES', syscall: 'spawn immortal-tool', path: 'immortal-tool' },
    );
    assertNoZombies();
  });

  test('stdio entries map to fds 0, 1, 2 and beyond (fd 3)', async () => {
    const pipes = [0, 1, 2, 3].map(() => native.pipe());
    const stdio = [pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1]];
    const { pid } = children.spawn({
      file: '/bin/sh',
      argv: ['sh', '-c', 'read line; echo "out:$line"; echo err >&2; echo three >&3'],
      env: ENV, stdio,
    });
    for (const fd of stdio) fs.closeSync(fd);
    fs.writeSync(pipes[0][1], 'hello\n');
    fs.closeSync(pipes[0][1]);
    const [out, err, three] = await Promise.all([1, 2, 3].map((i) => readAll(pipes[i][0])));
    assert.deepEqual({ out, err, three }, { out: 'out:hello\n', err: 'err\n', three: 'three\n' });
    assert.equal((await exitOf(pid)).code, 0);
  });

  test('-1 (and a missing stdio) means /dev/null; no other fd leaks into the child', async (t) => {
    const extra = fs.openSync(path.join(tmpdir(t), 'extra'), 'w');
    t.after(() => fs.closeSync(extra));
    const spawned = [
      children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [] }),
      children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [], stdio: [-1, -1, -1, extra] }),
    ];
    // spawn returns once the exec is past its point of no return (the vfork release, as with
    // posix_spawn): the kernel closes the CLOEXEC fds a moment later, and then the dynamic
    // loader opens and closes libraries of its own. Looked at once sleep sleeps.
    for (const { pid } of spawned) {
      await waitFor(() => /^\d+ \(sleep\) S /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), { message: `sleep ${pid} sleeping` });
    }
    const [plain, withExtra] = spawned.map(({ pid }) => fs.readdirSync(`/proc/${pid}/fd`).sort());
    assert.deepEqual(plain, ['0', '1', '2']);
    assert.deepEqual(withExtra, ['0', '1', '2', '3']);
    const { pid } = spawned[1];
    for (const fd of [0, 1, 2]) assert.equal(fs.readlinkSync(`/proc/${pid}/fd/${fd}`), '/dev/null');
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/3`), fs.readlinkSync(`/proc/self/fd/${extra}`));
    // Passed fds are inheritable in the child (dup2 cleared CLOEXEC): flags have no O_CLOEXEC.
    const flags = /flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/${pid}/fdinfo/3`, 'utf8'))[1];
    assert.equal(parseInt(flags, 8) & 0o2000000, 0);
    for (const s of spawned) {
      native.kill(s.pid, 'SIGTERM');
      assert.equal((await exitOf(s.pid)).signal, 'SIGTERM');
    }
  });

  test('setsid: the child leads a new session and process group', async () => {
    const ours = procStat(process.pid);
    const a = children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [], setsid: true });
    const b = children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [] });
    const sa = procStat(a.pid);
    const sb = procStat(b.pid);
    assert.equal(sa.session, a.pid);
    assert.equal(sa.pgrp, a.pid);
    assert.equal(sb.session, ours.session);
    assert.equal(sb.pgrp, ours.pgrp);
    for (const { pid } of [a, b]) {
      native.kill(pid, 'SIGKILL');
      await exitOf(pid);
    }
  });

  test('umask is set when given, inherited otherwise', async () => {
    assert.equal((await sh('umask', { spawn: { umask: 0o027 } })).out, '0027\n');
    assert.equal((await sh('umask', { spawn: { umask: 0 } })).out, '0000\n');
    const ours = procStatus(process.pid).Umask;
    assert.equal((await sh('umask')).out.trim(), ours);
  });

  test('signal dispositions and mask are reset to defaults (Node ignores SIGPIPE)', async () => {
    const self = procStatus(process.pid);
    assert.notEqual(BigInt(`0x${self.SigIgn}`) & (1n << 12n), 0n, 'precondition: this Node ignores SIGPIPE');
    const { pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [] });
    const status = procStatus(pid);
    assert.equal(BigInt(`0x${status.SigIgn}`), 0n, `SigIgn ${status.SigIgn}`);
    assert.equal(BigInt(`0x${status.SigBlk}`), 0n, `SigBlk ${status.SigBlk}`);
    native.kill(pid, 'SIGPIPE'); // default action: terminate
    assert.equal((await exitOf(pid)).signal, 'SIGPIPE');
  });

  test('pidfd option returns a CLOEXEC pidfd of the child', async () => {
    const { pid, pidfd } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [], pidfd: true });
    try {
      assert.ok(pidfd >= 0, `pidfd ${pidfd}`);
      const info = fs.readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8');
      assert.match(info, new RegExp(`^Pid:\\s+${pid}$`, 'm'));
      assert.notEqual(parseInt(/flags:\s*(\d+)/.exec(info)[1], 8) & 0o2000000, 0, 'O_CLOEXEC');
    } finally {
      fs.closeSync(pidfd);
    }
    const without = children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [] });
    assert.equal(without.pidfd, -1);
    for (const p of [pid, without.pid]) {
      native.kill(p, 'SIGKILL');
      await exitOf(p);
    }
  });
});

describe('spawn: errors are thrown synchronously, shaped like Node errors, child reaped', () => {
  test('missing binary: ENOENT', () => {
    const file = '/nonexistent/immortal-missing';
    assert.throws(() => children.spawn({ file, argv: [file], env: ENV }), (err) => {
      assert.ok(err instanceof Error);
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.errno, -2);
      assert.equal(err.syscall, `spawn ${file}`);
      assert.equal(err.path, file);
      assert.match(err.message, /^ENOENT: no such file or directory, spawn .*'\/nonexistent\/immortal-missing'$/);
      return true;
    });
    assertNoZombies();
  });

  test('missing binary searched in PATH: ENOENT with the bare name', () => {
    assert.throws(
      () => children.spawn({ file: 'immortal-no-such-tool', argv: ['x'], env: ENV, searchPath: '/nonexistent:/usr/bin:/bin' }),
      { code: 'ENOENT', errno: -2, syscall: 'spawn immortal-no-such-tool', path: 'immortal-no-such-tool' },
    );
    assertNoZombies();
  });

  test('non-executable file and a directory: EACCES', (t) => {
    const dir = tmpdir(t);
    const file = path.join(dir, 'not-executable');
    fs.writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    assert.throws(() => children.spawn({ file, argv: [file], env: ENV }),
      { code: 'EACCES', errno: -13, syscall: `spawn ${file}`, path: file });
    assert.throws(() => children.spawn({ file: dir, argv: [dir], env: ENV }),
      { code: 'EACCES', syscall: `spawn ${dir}`, path: dir });
    assertNoZombies();
  });

  test('executable without a #! line: ENOEXEC (execve, no sh fallback)', (t) => {
    const file = path.join(tmpdir(t), 'garbage');
    fs.writeFileSync(file, '\x7fnot an executable\n', { mode: 0o755 });
    assert.throws(() => children.spawn({ file, argv: [file], env: ENV }),
      { code: 'ENOEXEC', syscall: `spawn ${file}`, path: file });
    assertNoZombies();
  });

  test('missing cwd: ENOENT from chdir with the cwd as path', (t) => {
    const cwd = path.join(tmpdir(t), 'gone');
    assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: ENV, cwd }), (err) => {
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.errno, -2);
      assert.equal(err.syscall, 'chdir');
      assert.equal(err.path, cwd);
      assert.equal(err.message, `ENOENT: no such file or directory, chdir '${cwd}'`);
      return true;
    });
    assertNoZombies();
  });

  test('a bad stdio fd: EBADF from dup2', () => {
    assert.throws(() => children.spawn({ file: '/bin/true', argv: ['true'], env: ENV, stdio: [-1, 987654, -1] }),
      { code: 'EBADF', syscall: 'dup2' });
    assertNoZombies();
  });
});

describe('spawn as root: credentials', { skip: process.getuid() !== 0 && 'needs root' }, () => {
  const USER = 'immortal_nt';
  const GROUPS = ['immortal_nt_a', 'immortal_nt_b'];
  let user;

  before(() => {
    createUser(USER, { groups: GROUPS });
    user = native.lookupUser(USER);
  });
  after(() => removeUser(USER, { groups: GROUPS }));

  function ids(line) {
    return line.split(/\s+/).filter(Boolean).map(Number);
  }

  test('lookupUser sees the new user and both extra groups', () => {
    assert.equal(user.name, USER);
    assert.ok(user.uid > 0);
    assert.equal(user.groups.length, 3);
    assert.equal(user.groups[0], user.gid, 'primary group first');
    assert.deepEqual(native.lookupUser(user.uid), user);
  });

  test('uid, gid and supplementary groups are applied', async () => {
    const { pid } = children.spawn({
      file: '/bin/sleep', argv: ['sleep', '5'], env: [],
      uid: user.uid, gid: user.gid, groups: user.groups,
    });
    const status = procStatus(pid);
    assert.deepEqual(ids(status.Uid), [user.uid, user.uid, user.uid, user.uid]);
    assert.deepEqual(ids(status.Gid), [user.gid, user.gid, user.gid, user.gid]);
    assert.deepEqual(ids(status.Groups).sort(), [...user.groups].sort());
    native.kill(pid, 'SIGKILL');
    await exitOf(pid);
  });

  test('uid without groups drops root\'s supplementary groups', async () => {
    const { pid } = children.spawn({ file: '/bin/sleep', argv: ['sleep', '5'], env: [], uid: user.uid, gid: user.gid });
    const status = procStatus(pid);
    assert.deepEqual(ids(status.Uid), [user.uid, user.uid, user.uid, user.uid]);
    assert.deepEqual(ids(status.Groups), []);
    native.kill(pid, 'SIGKILL');
    await exitOf(pid);
  });

  test('cwd is entered with the new credentials: EACCES from chdir', (t) => {
    const dir = tmpdir(t);
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o700 });
    assert.throws(
      () => children.spawn({ file: '/bin/true', argv: ['true'], env: ENV, cwd: locked, uid: user.uid, gid: user.gid }),
      { code: 'EACCES', syscall: 'chdir', path: locked },
    );
    assertNoZombies();
  });
});
