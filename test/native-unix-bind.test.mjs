// bindUnixListener: the plain bound + listening unix socket `listen: unix:/path` holds for a
// service (not accepted on by the supervisor): its mode, a live path refused, a stale file
// (its owner gone) replaced, a path in a missing directory refused with its errno.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import native from '../dist/native.js';
import { tmpdir } from './helpers.mjs';

test('bound with the mode asked, listening, reachable; a live path is EADDRINUSE; a stale file is replaced', async (t) => {
  const file = path.join(tmpdir(t), 'app.sock');
  const fd = native.bindUnixListener(file, 0o660, 16);
  assert.equal(fs.statSync(file).mode & 0o777, 0o660);
  assert.deepEqual(native.localAddress(fd), { family: 'unix', address: file, port: 0, listening: true });
  // A client connects even though nobody accepts yet: it waits in the backlog.
  await new Promise((resolve, reject) => {
    const client = net.connect(file, () => { client.destroy(); resolve(); });
    client.on('error', reject);
  });
  assert.throws(() => native.bindUnixListener(file, 0o660, 16), { code: 'EADDRINUSE', syscall: 'bind' });
  native.closeFd(fd);
  assert.ok(fs.existsSync(file), 'closing leaves the file: a stale one');
  const again = native.bindUnixListener(file, 0o600, 16);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(native.localAddress(again).listening, true);
  native.closeFd(again);
});

test('a regular file at the path is not replaced; a missing directory is ENOENT', (t) => {
  const dir = tmpdir(t);
  const regular = path.join(dir, 'data');
  fs.writeFileSync(regular, 'keep');
  assert.throws(() => native.bindUnixListener(regular, 0o660, 16), { code: 'EADDRINUSE' });
  assert.equal(fs.readFileSync(regular, 'utf8'), 'keep');
  assert.throws(() => native.bindUnixListener(path.join(dir, 'missing', 'app.sock'), 0o660, 16), { code: 'ENOENT', syscall: 'bind' });
  assert.throws(() => native.bindUnixListener('x'.repeat(200), 0o660, 16), { code: 'ENAMETOOLONG' });
});
