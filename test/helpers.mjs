// Shared test helpers (node:test). Linux-only where they read /proc.
//
//   waitFor(predicate, {timeout, interval, message})  poll until truthy; resolves to that value
//   tmpdir(t)                  a fresh temp directory, removed in t.after
//   readAll(fd)                Promise<string>: everything read from a pipe fd until EOF (closes it)
//   procStat(pid)              {pid, comm, state, ppid, pgrp, session} from /proc/<pid>/stat, or null
//   procStatus(pid)            /proc/<pid>/status as {Key: 'value'}, or null when the pid is gone
//   zombiesOf(ppid)            pids in state Z whose parent is ppid
//   descendantsOf(pid)         pids of every live (non-zombie) descendant of pid
//   gone(pid)                  true when pid no longer exists or is a zombie (exited, not yet reaped)
//   createUser(name, {groups}) / removeUser(name, {groups})   root only: useradd/groupadd, userdel/groupdel
//   publicPackageRoot()        the package (dist/, addon, runtime deps) where any user can read it,
//                              for tests that run our code as another user (nobody)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Calls predicate (may be async) every `interval` ms until it returns a truthy value, which is
 * returned; rejects after `timeout` ms with `message` (a function is called then, so it can
 * tell what things looked like at the end, not at the start).
 */
export async function waitFor(predicate, { timeout = 2000, interval = 10, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() >= deadline) {
      const what = typeof message === 'function' ? message() : message;
      throw new Error(`waitFor: timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** mkdtemp under os.tmpdir(); removed recursively when the test `t` ends. */
export function tmpdir(t, prefix = 'immortal-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Reads a pipe fd until EOF (all writers closed) and closes it. */
export function readAll(fd) {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket({ fd, readable: true, writable: false });
    const chunks = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString());
    });
  });
}

function readProc(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Fields of /proc/<pid>/stat that tests need; null when the pid does not exist. */
export function procStat(pid) {
  const text = readProc(`/proc/${pid}/stat`);
  if (text === null) return null;
  const close = text.lastIndexOf(')'); // comm may contain spaces and ')'
  const [state, ppid, pgrp, session] = text.slice(close + 2).split(' ');
  return {
    pid: Number(text.slice(0, text.indexOf(' '))),
    comm: text.slice(text.indexOf('(') + 1, close),
    state,
    ppid: Number(ppid),
    pgrp: Number(pgrp),
    session: Number(session),
  };
}

/** /proc/<pid>/status parsed to {Name: 'sleep', Uid: '0\t0\t0\t0', ...}; null when gone. */
export function procStatus(pid) {
  const text = readProc(`/proc/${pid}/status`);
  if (text === null) return null;
  const out = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

function allStats() {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat !== null) out.push(stat);
  }
  return out;
}

/** Zombie children of ppid (exited, never reaped). */
export function zombiesOf(ppid) {
  return allStats().filter((s) => s.ppid === ppid && s.state === 'Z').map((s) => s.pid);
}

/** Live descendants of pid (children, grandchildren…), zombies excluded. */
export function descendantsOf(pid) {
  const stats = allStats();
  const found = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const parents = new Set(frontier);
    frontier = stats.filter((s) => parents.has(s.ppid)).map((s) => s.pid);
    found.push(...stats.filter((s) => parents.has(s.ppid) && s.state !== 'Z').map((s) => s.pid));
  }
  return found;
}

/** The pid has exited: no /proc entry, or a zombie waiting for its parent. */
export function gone(pid) {
  const stat = procStat(pid);
  return stat === null || stat.state === 'Z' || stat.state === 'X';
}

function run(cmd, args) {
  // useradd & co. fail with "cannot lock /etc/passwd" while another test holds it: retry a little.
  for (let attempt = 0; ; attempt++) {
    const result = spawnSync(cmd, args, { encoding: 'utf8' });
    if (result.status === 0 || !/lock/i.test(result.stderr ?? '') || attempt >= 20) return result;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

/**
 * Root only. Creates user `name` (own primary group, no home) that is also a member of each
 * group in `groups` (created when missing). Removes leftovers of an earlier run first.
 */
export function createUser(name, { groups = [] } = {}) {
  removeUser(name, { groups });
  for (const group of groups) {
    const r = run('groupadd', [group]);
    if (r.status !== 0) throw new Error(`groupadd ${group}: ${r.stderr}`);
  }
  const args = ['-M', '-U', '-s', '/bin/sh'];
  if (groups.length > 0) args.push('-G', groups.join(','));
  const r = run('useradd', [...args, name]);
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
}

/** Root only. Deletes the user (and its own group) and the listed groups; ignores errors. */
export function removeUser(name, { groups = [] } = {}) {
  run('userdel', [name]);
  run('groupdel', [name]); // normally gone with the user (USERGROUPS_ENAB)
  for (const group of groups) run('groupdel', [group]);
}

/**
 * Wraps a native module's spawn to remember every pid; cleanup() SIGKILLs and reaps those
 * still ours (use in `after`). Tests normally reap their own children; this catches failures.
 */
export function spawnTracker(native) {
  const pids = new Set();
  return {
    spawn(opts) {
      const result = native.spawn(opts);
      pids.add(result.pid);
      return result;
    },
    async cleanup() {
      for (const pid of pids) {
        const stat = procStat(pid);
        if (stat === null || stat.ppid !== process.pid) continue; // reaped already (or not ours)
        if (stat.state !== 'Z') native.kill(pid, 'SIGKILL');
        await waitFor(() => native.reap(pid) !== null, { message: `reap of leftover ${pid}` });
      }
      pids.clear();
    },
  };
}

const REPO_ROOT = path.dirname(path.dirname(new URL(import.meta.url).pathname));
let publicRoot;

/** True when every directory above `file` can be searched by any user and `file` read. */
export function worldReadable(file) {
  for (let p = file; p !== '/'; p = path.dirname(p)) {
    const mode = fs.statSync(p).mode;
    if ((mode & (p === file ? 0o004 : 0o001)) === 0) return false;
  }
  return true;
}

/**
 * Root of the package as another user (nobody) can read it: the checkout itself when it is
 * world-readable, else (a clone under root's 0700 home) a copy of what running it needs —
 * package.json, dist/, the built addon, the runtime dependencies — in a temp directory open
 * to all, made once per test process and removed when it exits.
 */
export function publicPackageRoot() {
  if (worldReadable(path.join(REPO_ROOT, 'dist', 'native.js'))) return REPO_ROOT;
  if (publicRoot) return publicRoot;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-public-'));
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  const parts = ['package.json', 'dist', 'build/Release', 'prebuilds', ...Object.keys(pkg.dependencies ?? {}).map((dep) => `node_modules/${dep}`)];
  for (const part of parts) {
    const from = path.join(REPO_ROOT, part);
    if (!fs.existsSync(from)) continue;
    fs.cpSync(from, path.join(root, part), { recursive: true, filter: (src) => !src.includes(`${path.sep}obj.target`) });
  }
  // Readable and searchable by all (the copies keep the checkout's modes, which may be 0700).
  spawnSync('chmod', ['-R', 'a+rX', root]);
  publicRoot = root;
  return root;
}
