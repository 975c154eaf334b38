// The transition table in src/supervise/states.ts is the supervisor's documentation: every
// state of the `State` union has its row there, and nothing in the table names a state
// the code does not have. Behaviour itself is tested through the CLIs (immortal-*.test.mjs).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import states from '../dist/supervise/states.js';

const SOURCE = fs.readFileSync(fileURLToPath(new URL('../src/supervise/states.ts', import.meta.url)), 'utf8');

/** Names of the members of the State union: `export interface X { name: 'x'; … }`. */
function unionStates() {
  const union = SOURCE.match(/export type State =([^;]+);/)[1].split('|').map((s) => s.trim()).filter(Boolean);
  return union.map((type) => {
    const body = SOURCE.match(new RegExp(`export interface ${type} \\{\\s*name: '([a-z-]+)'`));
    assert.ok(body, `interface ${type} with a name`);
    return body[1];
  });
}

/** States that open a row of the table: a comment line `// name   description`. */
function tableRows() {
  const table = SOURCE.slice(SOURCE.indexOf('── The table'), SOURCE.indexOf('── Where the states of the next issues go'));
  return [...table.matchAll(/^\/\/ ([a-z][a-z-]*) {2,}\S/gm)].map((m) => m[1]);
}

test('every state of the State union has its row in the transition table, and only those', () => {
  const names = unionStates();
  assert.ok(names.length >= 9, names.join(' '));
  assert.deepEqual(tableRows(), names);
});

test('the coarse state (immortaldir, tests) keeps the five values of before', () => {
  const coarse = Object.fromEntries(unionStates().map((name) => [name, states.coarseState({ name })]));
  assert.deepEqual(coarse, {
    'new': 'waiting',
    'start-due': 'waiting',
    'checking-preconditions': 'waiting',
    'running': 'running',
    'starting': 'running', // started, not ready yet (ready:): the record's `ready` tells it apart
    'searching-pidfile': 'waiting',
    'stopping': 'stopping',
    'draining': 'stopping',
    'stopping-leftovers': 'stopping',
    'down': 'down',
    'finished': 'finished',
  });
});

test('an unknown state is an error, not a silent no-op', () => {
  assert.throws(() => states.coarseState({ name: 'upgrading' }), /unhandled state upgrading/);
});
