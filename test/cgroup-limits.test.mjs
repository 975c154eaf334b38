// run.yml `cgroup:` → the files of the service's cgroup, written into a fake cgroup directory
// (this machine's memory/cpu/pids controllers are on cgroup v1, so the real writing path
// cannot run here; test/limits.test.mjs covers the refusal through the CLI).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { tmpdir } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { applyCgroupLimits, cgroupLimitFiles } = require('../dist/process/cgroup-limits.js');

/** <tmp>/immortal (the tree) with cgroup.controllers, and <tmp>/immortal/web.1234 (the service). */
function fakeTree(t, controllers, enabled = '') {
  const tree = path.join(tmpdir(t), 'immortal');
  const service = path.join(tree, 'web.1234');
  fs.mkdirSync(service, { recursive: true });
  fs.writeFileSync(path.join(tree, 'cgroup.controllers'), `${controllers}\n`);
  fs.writeFileSync(path.join(tree, 'cgroup.subtree_control'), enabled);
  return { tree, service };
}

const config = (cgroup) => ({ configFile: '/srv/web.yml', name: 'web', cgroup });

test('memory.max, pids.max and cpu.max are written, each controller enabled in the tree first', (t) => {
  const { tree, service } = fakeTree(t, 'cpuset cpu io memory hugetlb pids rdma');
  applyCgroupLimits(config({ memoryMax: 512 * 2 ** 20, pidsMax: 256, cpuMax: 1.5 }), service);
  assert.equal(fs.readFileSync(path.join(service, 'memory.max'), 'utf8'), '536870912');
  assert.equal(fs.readFileSync(path.join(service, 'pids.max'), 'utf8'), '256');
  assert.equal(fs.readFileSync(path.join(service, 'cpu.max'), 'utf8'), '150000 100000');
  // A real cgroup.subtree_control keeps every enabled controller; the fake file keeps the last
  // write (+memory, +pids, then +cpu).
  assert.equal(fs.readFileSync(path.join(tree, 'cgroup.subtree_control'), 'utf8'), '+cpu');
});

test('a controller already enabled is not written again', (t) => {
  const { tree, service } = fakeTree(t, 'memory pids', 'memory pids\n');
  applyCgroupLimits(config({ pidsMax: 8 }), service);
  assert.equal(fs.readFileSync(path.join(tree, 'cgroup.subtree_control'), 'utf8'), 'memory pids\n');
  assert.equal(fs.readFileSync(path.join(service, 'pids.max'), 'utf8'), '8');
});

test('a controller the parent does not pass down: one error naming the key, the directory and what is there', (t) => {
  const { tree, service } = fakeTree(t, 'hugetlb');
  assert.throws(() => applyCgroupLimits(config({ memoryMax: 1024 }), service), {
    message: `/srv/web.yml: cgroup.memory_max: the memory controller is not available in ${tree} (cgroup.controllers: hugetlb)`,
  });
  assert.equal(fs.existsSync(path.join(service, 'memory.max')), false);
});

test('no cgroup for the service (tracked mode): refused with the reason', () => {
  assert.throws(() => applyCgroupLimits(config({ pidsMax: 4 }), undefined, { IMMORTAL_CGROUP: 'off' }),
    { message: /^\/srv\/web\.yml: cgroup\.pids_max: the service has no cgroup: (IMMORTAL_CGROUP=off|not root)$/ });
});

test('nothing set: nothing written, nothing refused (also without a cgroup)', () => {
  assert.deepEqual(cgroupLimitFiles({}), []);
  applyCgroupLimits(config({}), undefined);
});

test('cpu.max rounds to whole microseconds of the 100 ms period', () => {
  assert.deepEqual(cgroupLimitFiles({ cpuMax: 0.333 }).map((f) => f.content), ['33300 100000']);
});
