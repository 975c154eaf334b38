// The native log copier (native/log_copier.cc) on a bare pipe, without a service: how a byte
// stream becomes lines (the cap, timestamps, an unfinished last line) in the file and for the
// logger, and that the copy is a thread of its own that leaves nothing behind.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { tmpdir, waitFor } from './helpers.mjs';

const require = createRequire(import.meta.url);
const native = require('../dist/native.js');

/** A started copier on a fresh pipe: write() into it, then end() → what the file and the logger got. */
function copier(t, opts = {}) {
  const file = path.join(tmpdir(t), 'app.log');
  const [readFd, writeFd] = native.pipe();
  const blocks = [];
  let closed;
  const done = new Promise((resolve) => { closed = resolve; });
  const handle = native.logCopier(readFd, { file, forward: true, ...opts }, (event) => {
    if (event.kind === 'lines') blocks.push(event.lines.toString());
    else if (event.kind === 'closed') closed();
  });
  handle.start();
  let open = true;
  t.after(async () => {
    if (!open) return;
    fs.closeSync(writeFd);
    handle.close();
    await done;
  });
  return {
    handle,
    file,
    blocks,
    write: (text) => fs.writeSync(writeFd, text),
    text: () => fs.readFileSync(file, 'utf8'),
    async end() {
      open = false;
      fs.closeSync(writeFd);
      handle.close();
      await done;
      return { file: fs.readFileSync(file, 'utf8'), forwarded: blocks.join('') };
    },
  };
}

/** Every line (and a non-empty unfinished last one) cut into pieces of at most cap, each with its newline. */
function expectedLines(text, cap) {
  const lines = text.split('\n');
  const unfinished = lines.pop();
  if (unfinished !== '') lines.push(unfinished);
  const out = [];
  for (const line of lines) {
    if (line === '') out.push('');
    for (let at = 0; at < line.length; at += cap) out.push(line.slice(at, at + cap));
  }
  return out.map((line) => `${line}\n`).join('');
}

test('whole lines only: an unfinished line waits for its newline, or for the end of the run', async (t) => {
  const c = copier(t);
  c.write('one\ntwo\nthr');
  await waitFor(() => c.text() === 'one\ntwo\n', { message: 'the whole lines written' });
  c.write('ee\nfo');
  await waitFor(() => c.text() === 'one\ntwo\nthree\n', { message: 'the line completed across two writes' });
  c.handle.endOfRun(); // the service exited: its unfinished line is ended now
  await waitFor(() => c.text() === 'one\ntwo\nthree\nfo\n', { message: 'endOfRun ended the unfinished line' });
  c.write('ur');
  const { file, forwarded } = await c.end();
  assert.equal(file, 'one\ntwo\nthree\nfo\nur\n', 'end of stream: the last line gets its newline');
  assert.equal(forwarded, file, 'the logger gets the same lines');
  assert.ok(c.blocks.every((block) => block.endsWith('\n')), 'every block for the logger ends on a line boundary');
});

test('a line longer than the cap is written in cap-sized pieces', async (t) => {
  const c = copier(t, { lineCap: 10 });
  c.write('abcdefghij');
  c.write('KLMNOPQRSTuv');
  c.write('w\nshort\n0123456789ABCDEFGHIJxyz\n');
  const { file } = await c.end();
  assert.equal(file, 'abcdefghij\nKLMNOPQRST\nuvw\nshort\n0123456789\nABCDEFGHIJ\nxyz\n');
});

test('the default cap is 64 KiB: a service without newlines is not held forever', async (t) => {
  const c = copier(t);
  for (let i = 0; i < 3; i++) c.write('a'.repeat(50 * 1024));
  await waitFor(() => c.text().length === 2 * (65536 + 1), { message: 'two 64 KiB pieces written before any newline' });
  const { file } = await c.end();
  assert.deepEqual(file.split('\n').map((line) => line.length), [65536, 65536, 150 * 1024 - 2 * 65536, 0]);
});

test('timestamps: RFC 3339, UTC, milliseconds, one per line; the logger gets the lines unstamped', async (t) => {
  const before = Date.now();
  const c = copier(t, { timestamp: true });
  c.write('a\n\nbc\nunfinished');
  const { file, forwarded } = await c.end();
  const after = Date.now();
  const lines = file.split('\n').slice(0, -1);
  assert.equal(lines.length, 4);
  for (const [i, text] of ['a', '', 'bc', 'unfinished'].entries()) {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/.exec(lines[i]);
    assert.ok(match, `line ${i} is stamped: ${JSON.stringify(lines[i])}`);
    assert.equal(match[2], text);
    const stamp = Date.parse(match[1]);
    assert.ok(stamp >= before - 1 && stamp <= after + 1, `stamped with the current time (${match[1]})`);
  }
  assert.equal(forwarded, 'a\n\nbc\nunfinished\n');
});

test('any chunking of any input gives the same lines (randomized, seeded)', async (t) => {
  let seed = 42;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 60; round++) {
    const cap = 1 + random(40);
    let text = '';
    const lines = random(30);
    for (let i = 0; i < lines; i++) text += 'x'.repeat(random(3) === 0 ? random(cap * 3) : random(cap)) + (random(10) === 0 ? '' : '\n');
    const c = copier(t, { lineCap: cap });
    for (let at = 0; at < text.length;) {
      const size = 1 + random(random(4) === 0 ? cap * 4 : 8);
      c.write(text.slice(at, at + size));
      at += size;
    }
    const { file, forwarded } = await c.end();
    assert.equal(file, expectedLines(text, cap), `round ${round}, cap ${cap}`);
    assert.equal(forwarded, file, `round ${round}: the logger's lines`);
  }
});

test('the copy does not wait for the event loop', async (t) => {
  const c = copier(t, { forward: false });
  const block = 'x'.repeat(99) + '\n';
  const total = 5000 * block.length; // fits in the 1 MiB pipe: the write returns at once
  c.write(block.repeat(5000));
  // The event loop is blocked from here on: only a thread of its own can copy.
  const deadline = Date.now() + 10000;
  while (fs.statSync(c.file).size < total && Date.now() < deadline) { /* spin */ }
  assert.equal(fs.statSync(c.file).size, total, 'written while the event loop was blocked');
  await c.end();
});

test('each copier is one thread, gone after close; dispose() before start leaves no fd', async (t) => {
  const threads = () => fs.readdirSync('/proc/self/task').length;
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const threadsBefore = threads();
  const copiers = [copier(t), copier(t), copier(t)];
  assert.equal(threads(), threadsBefore + 3);
  for (const c of copiers) await c.end();
  await waitFor(() => threads() === threadsBefore, { message: 'the copier threads ended' });

  const fdsBefore = fds();
  const [readFd, writeFd] = native.pipe();
  const unstarted = native.logCopier(readFd, { file: path.join(tmpdir(t), 'never.log') }, () => {});
  unstarted.dispose();
  fs.closeSync(writeFd);
  assert.equal(fds(), fdsBefore, 'the file, the pipe and the wake-up pipe are closed at once');
  assert.equal(threads(), threadsBefore, 'no thread was started');
  assert.throws(() => native.logCopier(readFd, {}, () => {}), { name: 'TypeError' });
});
