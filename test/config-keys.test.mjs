// The run.yml key table (src/config/keys.ts) is the one list of keys: docs/config.md must list
// exactly its keys, row for row as the table describes them; and keys of the shapes the open
// issues add (a mapping with a choice of one kind, a map of named values, a list, a size, a
// nested number) are each one entry of a table, read and checked like the built-in ones.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import keysModule from '../dist/config/keys.js';
import keyDocsModule from '../dist/config/key-docs.js';
import runYmlModule from '../dist/config/run-yml.js';
import types from '../dist/config/value-types.js';
import errorsModule from '../dist/config/errors.js';

const { RUN_YML_KEYS, atLeast } = keysModule;
const { keyDocRow, keyTableMarkdown } = keyDocsModule;
const { parseRunYml } = runYmlModule;
const { ConfigError } = errorsModule;

const DOCS = fileURLToPath(new URL('../docs/config.md', import.meta.url));

/** The rows of the "run.yml keys" table of docs/config.md: {name, row}. */
function documentedKeys(markdown) {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('run.yml keys'));
  assert.ok(section, 'docs/config.md has a "## run.yml keys" section');
  return section.split('\n').filter((line) => line.startsWith('| `')).map((row) => ({ name: /^\| `([^`]+)`/.exec(row)[1], row }));
}

/** What is wrong between the page and the table, one line each. */
function docProblems(markdown, keys) {
  const documented = documentedKeys(markdown);
  const names = new Set(documented.map((d) => d.name));
  const known = new Set(keys.map((k) => k.name));
  return [
    ...keys.filter((k) => !names.has(k.name)).map((k) => `docs/config.md misses key ${k.name}`),
    ...documented.filter((d) => !known.has(d.name)).map((d) => `docs/config.md lists ${d.name}, unknown to the key table`),
  ];
}

const docs = fs.readFileSync(DOCS, 'utf8');

test('docs/config.md lists every key of the table', () => {
  assert.deepEqual(docProblems(docs, RUN_YML_KEYS).filter((p) => p.includes('misses')), []);
});

test('docs/config.md lists no key the table does not know', () => {
  assert.deepEqual(docProblems(docs, RUN_YML_KEYS).filter((p) => p.includes('unknown')), []);
});

test('the docs rows are the table, in its order (paste the expected table into docs/config.md)', () => {
  const rows = documentedKeys(docs).map((d) => d.row).join('\n');
  const expected = RUN_YML_KEYS.map(keyDocRow).join('\n');
  assert.equal(rows, expected, `expected in docs/config.md:\n${keyTableMarkdown()}`);
});

test('the docs check notices a missing key and a key the table does not know', () => {
  const withoutWait = docs.split('\n').filter((line) => !line.startsWith('| `wait`')).join('\n');
  assert.deepEqual(docProblems(withoutWait, RUN_YML_KEYS), ['docs/config.md misses key wait']);
  const withExtra = docs.replace('| `wait` |', '| `wiat` | seconds | a typo | |\n| `wait` |');
  assert.deepEqual(docProblems(withExtra, RUN_YML_KEYS), ['docs/config.md lists wiat, unknown to the key table']);
});

test('every key of the table has a type, a field of Config and a one-line doc', () => {
  const names = new Set();
  for (const entry of RUN_YML_KEYS) {
    assert.match(entry.name, /^[a-z_]+(\.[a-z_]+)?$/, entry.name);
    assert.ok(!names.has(entry.name), `${entry.name} once`);
    names.add(entry.name);
    assert.equal(typeof entry.type.read, 'function', entry.name);
    assert.ok(entry.field, `${entry.name} lands in Config`);
    assert.ok(entry.doc && !entry.doc.includes('\n'), `${entry.name} has a one-line doc`);
  }
});

// ── keys of the shapes the open issues add, in a table of our own ───────────────────────────

/** `nofile: 65536`, `core: unlimited`, `"soft:hard"`: a shape only limits: has, written as a type of its own. */
const limitValue = {
  doc: 'number, unlimited or "soft:hard"',
  read(reader, node, key) {
    const value = reader.value(node);
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return { soft: value, hard: value };
    if (value === 'unlimited') return { soft: Infinity, hard: Infinity };
    const pair = typeof value === 'string' ? /^(\d+):(\d+)$/.exec(value) : null;
    if (!pair) return reader.expected(key, 'a number, unlimited or "soft:hard"', node);
    return { soft: Number(pair[1]), hard: Number(pair[2]) };
  },
};

const probe = { notify: types.text, http: types.text, tcp: types.text, cmd: types.commandLine, interval: types.seconds, timeout: types.seconds };
const FUTURE_KEYS = [
  ...RUN_YML_KEYS,
  { name: 'pid.grace', type: types.seconds, check: atLeast(0), default: 3, field: 'pid.grace', doc: 'wait for a new pid after a handover' },
  { name: 'ready', type: types.mapping(probe, 'probe', { exactlyOne: ['notify', 'http', 'tcp', 'cmd'] }), field: 'ready', doc: 'when a start counts as ready' },
  { name: 'health', type: types.mapping({ ...probe, failures: types.integer }, 'probe', { exactlyOne: ['http', 'tcp', 'cmd'] }), field: 'health', doc: 'checked while up' },
  { name: 'limits', type: types.mapOf(limitValue, 'map', { names: ['core', 'cpu', 'data', 'fsize', 'memlock', 'nofile', 'nproc', 'stack'] }), field: 'limits', doc: 'rlimits' },
  { name: 'cgroup.memory_max', type: types.size, field: 'cgroup.memoryMax', doc: 'memory.max of the service' },
];

function readFuture(text) {
  return parseRunYml(text, 'future.yml', '/srv/future.yml', FUTURE_KEYS).values;
}

function problemOf(text) {
  try {
    readFuture(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

test('a table of future keys reads each shape as one entry', () => {
  const values = readFuture(`cmd: app
pid: {follow: app.pid, grace: 1.5}
ready: {http: "http://127.0.0.1:8080/up", interval: 0.5, timeout: 30}
health: {tcp: "127.0.0.1:8080", failures: 3}
limits: {nofile: 65536, core: unlimited, nproc: "100:200"}
listen: ["tcp://0.0.0.0:80", "unix:///run/app.sock"]
cgroup: {memory_max: 512M}
`);
  assert.equal(values.get('pid.grace'), 1.5);
  assert.equal(values.get('pid.follow'), '/srv/app.pid');
  assert.deepEqual(values.get('ready'), { http: 'http://127.0.0.1:8080/up', interval: 0.5, timeout: 30 });
  assert.deepEqual(values.get('health'), { tcp: '127.0.0.1:8080', failures: 3 });
  assert.deepEqual(values.get('limits'), { nofile: { soft: 65536, hard: 65536 }, core: { soft: Infinity, hard: Infinity }, nproc: { soft: 100, hard: 200 } });
  assert.deepEqual(values.get('listen').map((address) => address.text), ['tcp://0.0.0.0:80', 'unix:///run/app.sock']);
  assert.equal(values.get('listen')[1].path, '/run/app.sock');
  assert.equal(values.get('cgroup.memory_max'), 512 * 2 ** 20);
});

test('a table of future keys refuses bad values with one line naming the key', () => {
  assert.match(problemOf('cmd: app\nready: {http: "http://x/", tcp: "x:1"}\n'), /^future\.yml: ready: needs exactly one of notify, http, tcp, cmd, got http and tcp$/);
  assert.match(problemOf('cmd: app\nready: {timeout: 3}\n'), /ready: needs exactly one of/);
  assert.match(problemOf('cmd: app\nready: {htp: "http://x/"}\n'), /unknown key "ready\.htp" \(did you mean "http"\?\)/);
  assert.match(problemOf('cmd: app\nlimits: {nofle: 10}\n'), /unknown key "limits\.nofle" \(did you mean "nofile"\?\)/);
  assert.match(problemOf('cmd: app\nlimits: {core: lots}\n'), /limits\.core: expected a number, unlimited or "soft:hard", got "lots"/);
  assert.match(problemOf('cmd: app\nlisten: "tcp://:80"\n'), /listen: expected a list/);
  assert.match(problemOf('cmd: app\ncgroup: {memory_max: 512X}\n'), /cgroup\.memory_max: expected a size like 512M/);
  assert.match(problemOf('cmd: app\npid: {grace: -1}\n'), /pid\.grace: must be 0 or more, got -1/);
  assert.match(problemOf('cmd: app\ncgroup: {memory: 1G}\n'), /unknown key "cgroup\.memory"/);
});

test('future keys get their docs rows from the same table', () => {
  const table = keyTableMarkdown(FUTURE_KEYS);
  assert.match(table, /^\| `pid\.grace` \| seconds ≥ 0 \| wait for a new pid after a handover \| 3 \|$/m);
  assert.match(table, /^\| `limits` \| map \| rlimits \| \|$/m);
});
