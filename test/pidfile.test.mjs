// child.pid is rewritten at a restart by writing into an empty file made ahead and exchanging
// the two names (src/process/pidfile.ts, native/exchange_files.cc): a reader always finds one
// whole pid, a file once named child.pid is never written again, and the start itself
// creates and frees no file.
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import native from '../dist/native.js';
import { tmpdir, waitFor } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { makeFreshSpare, readPidfile, writePidfileIntoSpare } = require('../dist/process/pidfile.js');

const inode = (file) => fs.statSync(file).ino;

function pidfiles(t) {
  const dir = tmpdir(t);
  return { file: path.join(dir, 'child.pid'), spare: path.join(dir, 'child.pid.next') };
}

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

describe('writePidfileIntoSpare', () => {
  test('into a fresh spare: the names are exchanged, and the spare keeps the file before, untouched', (t) => {
    const { file, spare } = pidfiles(t);
    makeFreshSpare(spare);
    writePidfileIntoSpare(file, spare, 1234); // no child.pid yet: the spare is renamed into place
    assert.equal(fs.readFileSync(file, 'utf8'), '1234\n');
    assert.equal(fs.existsSync(spare), false);

    makeFreshSpare(spare);
    const fresh = inode(spare);
    const before = inode(file);
    const startedAt = Date.now();
    writePidfileIntoSpare(file, spare, 98765);
    assert.equal(fs.readFileSync(file, 'utf8'), '98765\n');
    assert.equal(inode(file), fresh, 'child.pid is the file made ahead');
    // Re-adoption trusts child.pid only when written just after the process started.
    assert.ok(fs.statSync(file).mtimeMs >= startedAt - 20, 'the write sets the mtime');
    assert.equal(inode(spare), before);
    assert.equal(fs.readFileSync(spare, 'utf8'), '1234\n');
  });

  test('a file once child.pid is never written again: a reader holding it reads its pid after two more restarts', (t) => {
    const { file, spare } = pidfiles(t);
    makeFreshSpare(spare);
    writePidfileIntoSpare(file, spare, 1111111);
    const held = fs.openSync(file, 'r');
    t.after(() => fs.closeSync(held));
    for (const pid of [22, 3333333]) {
      makeFreshSpare(spare);
      writePidfileIntoSpare(file, spare, pid);
      assert.equal(fs.readFileSync(file, 'utf8'), `${pid}\n`);
    }
    const buffer = Buffer.alloc(32);
    const n = fs.readSync(held, buffer, 0, buffer.length, 0);
    assert.equal(buffer.toString('latin1', 0, n), '1111111\n');
  });

  test('without a fresh spare (none made, or one used already) the pidfile is renamed into place and the spare left alone', (t) => {
    const { file, spare } = pidfiles(t);
    writePidfileIntoSpare(file, spare, 10);
    assert.equal(fs.readFileSync(file, 'utf8'), '10\n');
    assert.equal(fs.existsSync(spare), false, 'no spare is created at the start itself');

    makeFreshSpare(spare);
    writePidfileIntoSpare(file, spare, 20);
    const used = inode(spare); // holds "10\n" now
    writePidfileIntoSpare(file, spare, 30);
    assert.equal(fs.readFileSync(file, 'utf8'), '30\n');
    assert.equal(inode(spare), used);
    assert.equal(fs.readFileSync(spare, 'utf8'), '10\n', 'a used spare is never written into');
  });

  test('makeFreshSpare replaces what the spare held with an empty file of its own', (t) => {
    const { spare } = pidfiles(t);
    fs.writeFileSync(spare, '777\n');
    const held = fs.openSync(spare, 'r');
    t.after(() => fs.closeSync(held));
    makeFreshSpare(spare);
    assert.equal(fs.statSync(spare).size, 0);
    // Removed, not emptied: a reader of the old file still finds its pid (inode numbers may be reused).
    assert.equal(fs.fstatSync(held).nlink, 0);
    assert.equal(fs.readFileSync(held, 'latin1'), '777\n');
  });

  test('a reader in another thread never finds child.pid missing or holding anything but a whole pid', async (t) => {
    const { file, spare } = pidfiles(t);
    makeFreshSpare(spare);
    writePidfileIntoSpare(file, spare, 1);
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
    // A worker takes a while to start on a loaded machine: restart only once it reads.
    await waitFor(() => Atomics.load(shared, 1) > 0, { timeout: 15000, message: 'the reader thread reading' });
    // At least 1000 restarts, and on until the reader has read 500 times while they went on.
    const readsBefore = Atomics.load(shared, 1);
    let pid = 0;
    for (let i = 0; i < 1000 || Atomics.load(shared, 1) - readsBefore < 500; i++) {
      pid = i % 2 === 0 ? 100 + i : 1000000 + i;
      makeFreshSpare(spare);
      writePidfileIntoSpare(file, spare, pid);
      if (i % 100 === 99) await yieldToLoop();
    }
    Atomics.store(shared, 0, 1);
    const bad = await result;
    await reader.terminate();
    assert.deepEqual(bad, []);
    assert.equal(readPidfile(file), pid);
  });
});
