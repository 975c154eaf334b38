// Line cutting and timestamps, without processes: what every log file and the logger get.

import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { LineSplitter, stampLines, timestampPrefix, countLines, PARTIAL_LINE_CAP } = require('../dist/log/lines.js');

function collect(cap) {
  const out = [];
  const splitter = new LineSplitter((lines) => out.push(Buffer.from(lines).toString()), cap);
  return { splitter, text: () => out.join(''), blocks: out };
}

test('whole lines pass at once; an unfinished line waits for its newline', () => {
  const { splitter, text, blocks } = collect();
  splitter.push(Buffer.from('one\ntwo\nthr'));
  assert.equal(text(), 'one\ntwo\n');
  splitter.push(Buffer.from('ee\nfo'));
  assert.equal(text(), 'one\ntwo\nthree\n');
  assert.equal(splitter.pendingBytes, 2);
  splitter.push(Buffer.from('ur'));
  splitter.flush();
  assert.equal(text(), 'one\ntwo\nthree\nfour\n', 'end of stream: the last line gets its newline');
  assert.ok(blocks.every((b) => b.endsWith('\n')), 'every block ends on a line boundary');
});

test('a line longer than the cap is written in cap-sized pieces', () => {
  const { splitter, text } = collect(10);
  splitter.push(Buffer.from('abcdefghij'));
  assert.equal(text(), '', 'exactly the cap: still waiting');
  splitter.push(Buffer.from('KLMNOPQRSTuv'));
  assert.equal(text(), 'abcdefghij\nKLMNOPQRST\n');
  splitter.push(Buffer.from('w\nshort\n0123456789ABCDEFGHIJxyz\n'));
  assert.equal(text(), 'abcdefghij\nKLMNOPQRST\nuvw\nshort\n0123456789\nABCDEFGHIJ\nxyz\n');
});

test('the default cap is 64 KiB: a service without newlines is not held forever', () => {
  assert.equal(PARTIAL_LINE_CAP, 64 * 1024);
  const { splitter, text } = collect();
  for (let i = 0; i < 3; i++) splitter.push(Buffer.alloc(50 * 1024, 'a'));
  assert.deepEqual(text().split('\n').map((l) => l.length), [65536, 65536, 0]);
  assert.equal(splitter.pendingBytes, 150 * 1024 - 2 * 65536);
});

test('byte-at-a-time input gives the same lines', () => {
  const input = 'alpha\nbeta\n\ngamma\n';
  const { splitter, text } = collect(4);
  for (const byte of Buffer.from(input)) splitter.push(Buffer.from([byte]));
  assert.equal(text(), 'alph\na\nbeta\n\ngamm\na\n');
});

test('timestamps: RFC 3339, UTC, milliseconds, one per line', () => {
  const prefix = timestampPrefix(new Date(Date.UTC(2026, 10, 28, 22, 52, 9, 123)));
  assert.equal(prefix.toString(), '2026-11-28T22:52:09.123Z ');
  const stamped = stampLines(Buffer.from('a\n\nbc\n'), prefix).toString();
  assert.equal(stamped, '2026-11-28T22:52:09.123Z a\n2026-11-28T22:52:09.123Z \n2026-11-28T22:52:09.123Z bc\n');
  assert.match(timestampPrefix().toString(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z $/);
  assert.equal(countLines(Buffer.from('a\n\nbc\n')), 3);
});

test('stamping is the same as prefixing each line by hand, for any block: views, empty lines, an unfinished last line, blocks larger than the shared buffer', () => {
  const prefix = Buffer.from('2026-12-02T01:02:03.456Z ');
  const byHand = (text) => text.split(/(?<=\n)/).filter((line) => line !== '').map((line) => prefix + line).join('');
  let seed = 7;
  const random = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const cases = ['', '\n', 'a', 'a\nb', '\n\n\n', 'one\ntwo\n'];
  for (let i = 0; i < 40; i++) {
    let text = '';
    const lines = random(i < 35 ? 50 : 6000);
    for (let k = 0; k < lines; k++) text += 'x'.repeat(random(120)) + (random(20) === 0 && k === lines - 1 ? '' : '\n');
    cases.push(text);
  }
  for (const text of cases) {
    // A view into a larger buffer, as the splitter hands over slices of the read buffer.
    const backing = Buffer.from(`junk\n${text}more junk`);
    const view = backing.subarray(5, 5 + Buffer.byteLength(text));
    assert.equal(stampLines(view, prefix).toString(), byHand(text), JSON.stringify(text.slice(0, 40)));
  }
  assert.throws(() => stampLines('a\n', prefix), { name: 'TypeError' });
});

/** What any chunking must give: every line cut into pieces of at most cap bytes. */
function expectedLines(text, cap) {
  const parts = text.split('\n');
  const tail = parts.pop();
  const out = [];
  for (const line of tail === '' ? parts : [...parts, tail]) {
    let rest = line;
    while (rest.length > cap) {
      out.push(rest.slice(0, cap));
      rest = rest.slice(cap);
    }
    out.push(rest);
  }
  return out.map((line) => `${line}\n`).join('');
}

test('any chunking of any input gives the same lines (randomized, seeded)', () => {
  let seed = 42;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const cap = 1 + random(40);
    let text = '';
    const lines = random(30);
    for (let i = 0; i < lines; i++) text += 'x'.repeat(random(3) === 0 ? random(cap * 3) : random(cap)) + (random(10) === 0 ? '' : '\n');
    const { splitter, text: got } = collect(cap);
    for (let at = 0; at < text.length;) {
      const size = 1 + random(random(4) === 0 ? cap * 4 : 8);
      splitter.push(Buffer.from(text.slice(at, at + size)));
      at += size;
    }
    splitter.flush();
    assert.equal(got(), expectedLines(text, cap), `round ${round}, cap ${cap}`);
  }
});

test('the shared read buffer may be reused after each push: held bytes are copied', () => {
  const { splitter, text } = collect();
  const buffer = Buffer.from('abc\nde');
  splitter.push(buffer);
  buffer.write('XXXXXX');
  splitter.push(Buffer.from('f\n'));
  assert.equal(text(), 'abc\ndef\n');
});
