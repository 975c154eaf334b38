// child.pid is rewritten on every restart by swapping it with a spare (src/process/pidfile.ts,
// native/exchange_files.cc): a reader always finds one whole pid, and after the first swap no
// file is created or freed.
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import native from '../dist/native.js';
import { tmpdir, waitFor } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { readPidfile, writePidfileSwapping } = require('../dist/process/pidfile.js');

const inode = (file) => fs.statSync(file).ino;

describe('exchangeFiles', () => {
  test('swaps two names: each then holds the other\'s file', (t) => {
    const dir = tmpdir(t);
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.writeFileSync(a, 'A');
    fs.writeFileSync(b, 'B');
    const [inodeA, inodeB] = [inode(a), inode(b)];
    native.exchangeFiles(a, b);
    assert.deepEqual([fs.readFileSync(a, 'utf8'), fs.readFileSync(b, 'utf8')], ['B', 'A']);
    assert.deepEqual([inode(a), inode(b)], [inodeB, inodeA]);
  });

  test('a missing name is ENOENT, and nothing moves', (t) => {
    const dir = tmpdir(t);
    const a = path.join(dir, 'a');
    fs.writeFileSync(a, 'A');
    assert.throws(() => native.exchangeFiles(a, path.join(dir, 'missing')), { code: 'ENOENT', syscall: 'renameat2' });
    assert.equal(fs.readFileSync(a, 'utf8'), 'A');
    assert.throws(() => native.exchangeFiles(a, 1), TypeError);
  });
});

describe('writePidfileSwapping', () => {
  test('the first write renames the spare into place; later ones swap, reusing the same two files', (t) => {
    const dir = tmpdir(t);
    const file = path.join(dir, 'child.pid');
    const spare = path.join(dir, 'child.pid.spare');
    writePidfileSwapping(file, spare, 1234);
    assert.equal(fs.readFileSync(file, 'utf8'), '1234\n');
    assert.equal(fs.existsSync(spare), false);

    writePidfileSwapping(file, spare, 98765);
    assert.equal(fs.readFileSync(file, 'utf8'), '98765\n');
    assert.equal(fs.readFileSync(spare, 'utf8'), '1234\n');
    const inodes = new Set([inode(file), inode(spare)]);

    // Shorter and longer pids: the spare is cut to the new length, never left with a tail.
    for (const pid of [7, 4194304, 42, 100000]) {
      const before = Date.now();
      writePidfileSwapping(file, spare, pid);
      assert.equal(fs.readFileSync(file, 'utf8'), `${pid}\n`);
      // Re-adoption trusts child.pid only when written just after the process started.
      assert.ok(fs.statSync(file).mtimeMs >= before - 20, 'the write sets the mtime');
      assert.ok(inodes.has(inode(file)) && inodes.has(inode(spare)), 'no new file after the first swap');
    }
  });

  test('a reader in another thread never finds child.pid missing or holding anything but a whole pid', async (t) => {
    const dir = tmpdir(t);
    const file = path.join(dir, 'child.pid');
    const spare = path.join(dir, 'child.pid.spare');
    writePidfileSwapping(file, spare, 1);
    // [0]: stop, [1]: reads so far.
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const reader = new Worker(`
      const { readFileSync } = require('node:fs');
      const { workerData: { file, shared } } = require('node:worker_threads');
      const bad = [];
      while (Atomics.load(shared, 0) === 0) {
        let text;
        try { text = readFileSync(file, 'latin1'); } catch (err) { text = err.code; }
        if (!/^[1-9][0-9]*\\n$/.test(text)) bad.push(text);
        Atomics.add(shared, 1, 1);
      }
      require('node:worker_threads').parentPort.postMessage(bad.slice(0, 5));`,
    { eval: true, workerData: { file, shared } });
    const result = new Promise((resolve, reject) => {
      reader.once('message', resolve);
      reader.once('error', reject);
    });
    const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
    // A worker takes a while to start on a loaded machine: swap only once it reads.
    await waitFor(() => Atomics.load(shared, 1) > 0, { timeout: 15000, message: 'the reader thread reading' });
    // At least 2000 swaps, and on until the reader has read 500 times while they went on.
    const readsBefore = Atomics.load(shared, 1);
    let pid = 0;
    for (let i = 0; i < 2000 || Atomics.load(shared, 1) - readsBefore < 500; i++) {
      pid = i % 2 === 0 ? 100 + i : 1000000 + i;
      writePidfileSwapping(file, spare, pid);
      if (i % 100 === 99) await yieldToLoop();
    }
    Atomics.store(shared, 0, 1);
    const bad = await result;
    await reader.terminate();
    assert.deepEqual(bad, []);
    assert.equal(readPidfile(file), pid);
  });
});
