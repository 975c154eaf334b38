// The cgroup name's digest (src/process/sha256.ts) must equal node:crypto's SHA-256: a
// supervisor started by an older version named its cgroup with it.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const { sha256Hex } = require('../dist/process/sha256.js');

test('sha256Hex equals node:crypto for empty, short, block-edge, multi-block and non-ASCII input', () => {
  const inputs = ['', 'abc', '/root/.immortal/web', '/var/run/immortal/ünïcødé-名前'];
  for (const length of [54, 55, 56, 63, 64, 65, 119, 120, 1000]) inputs.push('x'.repeat(length));
  for (const text of inputs) {
    assert.equal(sha256Hex(text), createHash('sha256').update(text).digest('hex'), `length ${text.length}`);
  }
});
