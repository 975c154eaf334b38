// immortaldir's directory scan: which files are services, and that a file is read again
// only when its stat changed — or changed so recently that its stat cannot vouch for it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { waitFor } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { ServiceDirScanner } = require('../dist/immortaldir/scan.js');

let dir;
let reads;
const realReadFileSync = fs.readFileSync;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-scan-'));
  reads = [];
  // scan.js calls fs.readFileSync through the module object: count the service files read.
  fs.readFileSync = (file, ...rest) => {
    if (String(file).startsWith(dir)) reads.push(path.basename(String(file)));
    return realReadFileSync(file, ...rest);
  };
});

afterEach(() => {
  fs.readFileSync = realReadFileSync;
  fs.rmSync(dir, { recursive: true, force: true });
});

const write = (name, text) => fs.writeFileSync(path.join(dir, name), text);

test('regular *.yml files are the services; an unchanged one is not read again', () => {
  write('web.yml', 'cmd: sleep 100\n');
  write('worker.yml', 'cmd: sleep 200\n');
  write('.hidden.yml', 'cmd: sleep 1\n');
  write('notes.txt', 'not a service\n');
  fs.mkdirSync(path.join(dir, 'dir.yml'));
  const scanner = new ServiceDirScanner(dir, 0);

  const first = scanner.scan();
  assert.deepEqual([...first.keys()].sort(), ['web', 'worker']);
  assert.equal(first.get('web').file, path.join(dir, 'web.yml'));
  assert.deepEqual(reads.sort(), ['web.yml', 'worker.yml']);

  reads = [];
  const second = scanner.scan();
  assert.deepEqual(reads, [], 'nothing read when no stat changed');
  assert.equal(second.get('web').hash, first.get('web').hash);

  write('web.yml', 'cmd: sleep 1000\n');
  fs.rmSync(path.join(dir, 'worker.yml'));
  reads = [];
  const third = scanner.scan();
  assert.deepEqual(reads, ['web.yml']);
  assert.notEqual(third.get('web').hash, first.get('web').hash);
  assert.deepEqual([...third.keys()], ['web']);
});

test('a file rewritten with the same length right after a scan is read again', () => {
  write('web.yml', 'cmd: sleep 100\n');
  const scanner = new ServiceDirScanner(dir);
  const before = scanner.scan().get('web').hash;
  // Same size, and on kernels with tick-grained file times the same mtime and ctime: the
  // stat alone would say "unchanged". (Linux 6.13+ gives a file whose times were just read a
  // finer time at its next change, so there the stat differs anyway.)
  write('web.yml', 'cmd: sleep 200\n');
  const after = scanner.scan().get('web').hash;
  assert.notEqual(after, before);
});

test('the same content gives the same digest: a rewrite that changes nothing restarts nothing', () => {
  write('web.yml', 'cmd: sleep 100\n');
  const scanner = new ServiceDirScanner(dir, 0);
  const before = scanner.scan().get('web').hash;
  fs.rmSync(path.join(dir, 'web.yml'));
  write('web.yml', 'cmd: sleep 100\n');
  assert.equal(scanner.scan().get('web').hash, before);
});

test('changed(): false only while no service file came, went or changed since the last scan', () => {
  write('web.yml', 'cmd: sleep 100\n');
  write('notes.txt', 'not a service\n');
  const scanner = new ServiceDirScanner(dir, 0);
  assert.equal(scanner.changed(), true, 'never scanned');
  scanner.scan();
  reads = [];
  assert.equal(scanner.changed(), false);
  assert.deepEqual(reads, [], 'changed() reads no file');

  write('notes.txt', 'still not a service\n');
  write('.hidden.yml', 'cmd: sleep 1\n');
  fs.mkdirSync(path.join(dir, 'dir.yml'));
  assert.equal(scanner.changed(), false, 'what is not a service does not count');

  const steps = [
    ['a new file', () => write('worker.yml', 'cmd: sleep 200\n')],
    ['a rewrite', () => write('web.yml', 'cmd: sleep 1000\n')],
    ['a chmod', () => fs.chmodSync(path.join(dir, 'web.yml'), 0o600)],
    ['a rename over it', () => { write('.new', 'cmd: sleep 3\n'); fs.renameSync(path.join(dir, '.new'), path.join(dir, 'web.yml')); }],
    ['a removal', () => fs.rmSync(path.join(dir, 'worker.yml'))],
  ];
  for (const [what, change] of steps) {
    change();
    assert.equal(scanner.changed(), true, what);
    scanner.scan();
    assert.equal(scanner.changed(), false, `after ${what}, scanned`);
  }
});

test('changed(): a file changed within the racy window counts as changed until it is old enough', async () => {
  const racyMs = 300;
  write('web.yml', 'cmd: sleep 100\n');
  const scanner = new ServiceDirScanner(dir, racyMs);
  scanner.scan();
  assert.equal(scanner.changed(), true, 'written just now: its stat cannot vouch for it');
  await waitFor(() => !scanner.changed(), { timeout: 10000, message: 'unchanged once the file is old enough' });
  // The window counts from the file's own times (the kernel's clock, which may lag Date.now()).
  const { mtimeMs, ctimeMs } = fs.statSync(path.join(dir, 'web.yml'));
  assert.ok(Date.now() - Math.max(mtimeMs, ctimeMs) > racyMs, 'not before the window has passed');
});
