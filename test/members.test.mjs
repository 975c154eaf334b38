// A service is every process it started: membership by cgroup (root, cgroup2 writable) and
// by tracking (the fallback), each finding a double-forked grandchild, killing all of it,
// and accounting for it.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { waitFor, gone } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { ServiceMembers, markerName } = require('../dist/process/members.js');
const { findCgroup2Mount, serviceCgroupTree, cgroupOf, ServiceCgroup } = require('../dist/process/cgroup.js');

const cgroupTree = serviceCgroupTree();
const cgroupSkip = cgroupTree === undefined ? 'needs root and a writable cgroup2 hierarchy' : false;

/**
 * sh that waits for a line on stdin, then leaves a grandchild in a session of its own
 * (setsid) and a child in its own session, and execs a long sleep: a master with workers.
 */
function startService(env) {
  const script = 'read go; setsid sleep 1002 & sleep 1001 & exec sleep 1000';
  const child = spawn('sh', ['-c', script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, ...env } });
  return child;
}

async function everyoneGone(pids) {
  await waitFor(() => pids.every(gone), { timeout: 10000, message: `pids ${pids} gone` });
}

function uniqueName(prefix) {
  return `${prefix}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
}

describe('finding the cgroup2 hierarchy', () => {
  test('mountinfo lines are read, not a fixed path; an escaped space is unescaped', () => {
    const line = '41 31 0:38 / /sys/fs/cgroup/my\\040tree rw,relatime - cgroup2 cgroup2 rw';
    const other = '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory';
    assert.equal(findCgroup2Mount(`${other}\n${line}\n`), '/sys/fs/cgroup/my tree');
    assert.equal(findCgroup2Mount(`${other}\n`), undefined);
  });

  test('IMMORTAL_CGROUP=off forces the tracked fallback', () => {
    assert.equal(serviceCgroupTree({ IMMORTAL_CGROUP: 'off' }), undefined);
    const members = new ServiceMembers({ superviseDir: '/tmp/x', name: 'x', orphansAreMembers: false, env: { IMMORTAL_CGROUP: 'off' } });
    assert.equal(members.mode, 'tracked');
    assert.deepEqual(members.joinOptions().env, [`${markerName}=/tmp/x`]);
  });
});

describe('listing a cgroup\'s members (a directory laid out like cgroup2)', () => {
  test('cgroup.events "populated 0" answers for the whole subtree; "populated 1" or none lists procs and sub-cgroups', (t) => {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-cgroup-'));
    t.after(() => fs.rmSync(tree, { recursive: true, force: true }));
    const group = ServiceCgroup.open(tree, 'web');
    const dir = path.join(tree, 'web');
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), '101\n102\n');
    fs.mkdirSync(path.join(dir, 'worker'));
    fs.writeFileSync(path.join(dir, 'worker', 'cgroup.procs'), '201\n');
    assert.deepEqual(group.pids().sort(), [101, 102, 201], 'without cgroup.events: listed');
    fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    assert.deepEqual(group.pids().sort(), [101, 102, 201]);
    // The kernel's word for the subtree: nothing is listed, not even what cgroup.procs says.
    fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 0\nfrozen 0\n');
    assert.deepEqual(group.pids(), []);
  });
});

describe('cgroup membership', { skip: cgroupSkip }, () => {
  test('every process the service forked is found, accounted, killed at once, and the cgroup removed', async (t) => {
    const name = uniqueName('members-test');
    const members = new ServiceMembers({ superviseDir: `/tmp/${name}`, name, orphansAreMembers: false });
    assert.equal(members.mode, 'cgroup');
    t.after(() => { members.killAll(); });
    const child = startService({});
    // Join as the native spawn does: the process writes itself into cgroup.procs before it runs on.
    fs.writeFileSync(path.join(members.cgroupDir, 'cgroup.procs'), String(child.pid));
    child.stdin.end('go\n');
    const pids = await waitFor(() => { const p = members.pids(); return p.length === 3 && p; }, { message: '3 members' });
    assert.ok(pids.includes(child.pid));
    for (const pid of pids) assert.equal(cgroupOf(pid), cgroupOf(child.pid));
    const usage = members.usage();
    assert.equal(usage.processes, 3);
    assert.ok(usage.memoryBytes > 0, 'resident memory counted');
    assert.ok(usage.cpuSeconds >= 0);
    members.killAll();
    await everyoneGone(pids);
    await waitFor(() => members.empty(), { message: 'cgroup empty' });
    await waitFor(() => members.release() && !fs.existsSync(members.cgroupDir), { message: 'cgroup removed' });
  });
});

describe('tracked membership (no cgroup)', () => {
  test('session, descendants and the environment marker find every process, also once the master is gone', async (t) => {
    const superviseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'members-'));
    t.after(() => fs.rmSync(superviseDir, { recursive: true, force: true }));
    const members = new ServiceMembers({ superviseDir, name: 'x', orphansAreMembers: false, env: { IMMORTAL_CGROUP: 'off' } });
    assert.equal(members.mode, 'tracked');
    const [marker] = members.joinOptions().env;
    const [key, value] = [marker.slice(0, marker.indexOf('=')), marker.slice(marker.indexOf('=') + 1)];
    const child = startService({ [key]: value });
    t.after(() => members.killAll());
    members.claim(child.pid);
    child.stdin.end('go\n');
    const pids = await waitFor(() => { const p = members.pids(); return p.length === 3 && p; }, { message: '3 members' });
    assert.ok(pids.includes(child.pid));
    assert.equal(members.usage().processes, 3);
    // The master dies: its workers are orphans in sessions of their own; still the service's.
    process.kill(child.pid, 'SIGKILL');
    await waitFor(() => gone(child.pid), { message: 'master gone' });
    const left = await waitFor(() => { const p = members.pids(); return p.length === 2 && p; }, { message: '2 leftovers' });
    assert.ok(!left.includes(child.pid));
    assert.equal(members.signalAll('SIGTERM'), 2);
    await everyoneGone(left);
    assert.ok(members.empty());
  });

  test('a process of another service with the same session rules is not taken', async (t) => {
    const members = new ServiceMembers({ superviseDir: '/tmp/members-a', name: 'a', orphansAreMembers: false, env: { IMMORTAL_CGROUP: 'off' } });
    const stranger = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore', env: { ...process.env, [markerName]: '/tmp/members-b' } });
    t.after(() => { stranger.kill('SIGKILL'); });
    await waitFor(() => fs.existsSync(`/proc/${stranger.pid}/environ`) && fs.readFileSync(`/proc/${stranger.pid}/cmdline`, 'latin1').startsWith('sleep'), { message: 'stranger running' });
    assert.ok(!members.pids().includes(stranger.pid));
  });
});
