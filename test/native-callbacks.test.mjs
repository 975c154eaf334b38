// Callbacks from libuv into JS (watchExit, watchNotify): a callback that throws reaches
// 'uncaughtException' like any Node callback, and later callbacks still run. Before, the
// exception stayed pending in the addon's env: it was silently lost and every later
// callback failed too. Run in a fresh node, as the test runner owns its own uncaught errors.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

import { tmpdir } from './helpers.mjs';

const require = createRequire(import.meta.url);
const DIST = require.resolve('../dist/native.js');
const run = promisify(execFile);

/** Runs a CommonJS script in a fresh node with `native` loaded; resolves to its stdout lines. */
async function script(source) {
  const prelude = `const native = require(${JSON.stringify(DIST)});\n`;
  const { stdout } = await run(process.execPath, ['-e', prelude + source], { timeout: 20000 });
  return stdout.trim().split('\n');
}

test('watchExit: a throwing callback goes to uncaughtException; the next watch still fires', async () => {
  const lines = await script(`
    process.on('uncaughtException', (err) => console.log('uncaught ' + err.message));
    const first = native.spawn({ file: '/bin/true', argv: ['true'], env: [] });
    const second = native.spawn({ file: '/bin/sleep', argv: ['sleep', '0.2'], env: [] });
    native.watchExit(first.pid, () => { throw new Error('boom'); });
    native.watchExit(second.pid, () => {
      console.log('second exit');
      native.reap(first.pid);
      native.reap(second.pid);
    });
  `);
  assert.deepEqual(lines, ['uncaught boom', 'second exit']);
});

test('watchNotify: a throwing callback goes to uncaughtException; later datagrams arrive', async (t) => {
  const socketPath = path.join(tmpdir(t), 'notify.sock');
  const lines = await script(`
    const { execFileSync } = require('node:child_process');
    process.on('uncaughtException', (err) => console.log('uncaught ' + err.message));
    const fd = native.openNotifySocket(${JSON.stringify(socketPath)});
    const watch = native.watchNotify(fd, (msg) => {
      if (msg.text === 'A=1') throw new Error('boom');
      console.log('got ' + msg.text);
      if (msg.text === 'C=3') { watch.close(); native.closeFd(fd); }
    }, (err) => console.log('error ' + err.code));
    execFileSync('python3', ['-c', 'import socket, sys\\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\\nfor m in (b"A=1", b"B=2", b"C=3"): s.sendto(m, sys.argv[1])', ${JSON.stringify(socketPath)}]);
  `);
  assert.deepEqual(lines, ['uncaught boom', 'got B=2', 'got C=3']);
});
