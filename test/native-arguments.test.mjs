// A pid or fd that is not an integer is a TypeError from native.ts. Before, the addon read
// it unchecked: N-API left an exception pending, the addon's own error on top of it failed,
// and the whole process aborted ("FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw")
// — seen when a test passed an undefined pid to kill().
import test from 'node:test';
import assert from 'node:assert/strict';

import native from '../dist/native.js';

test('pids and fds that are not integers are refused with ERR_INVALID_ARG_TYPE, never an abort', () => {
  const calls = {
    kill: () => native.kill(undefined, 'SIGKILL'),
    killpg: () => native.killpg('12', 'SIGTERM'),
    alive: () => native.alive(null),
    reap: () => native.reap(1.5),
    flock: () => native.flock(undefined),
    peerCred: () => native.peerCred(NaN),
    watchExit: () => native.watchExit(undefined, () => {}),
    bindTcpListener: () => native.bindTcpListener('127.0.0.1', '80', 4, 16),
    localPort: () => native.localPort(undefined),
    localAddress: () => native.localAddress({}),
    closeFd: () => native.closeFd('3'),
    watchNotify: () => native.watchNotify(undefined, () => {}),
    pidfdGetfd: () => native.pidfdGetfd(1, undefined),
    spawnStdio: () => native.spawn({ file: '/bin/true', argv: ['true'], env: [], stdio: [-1, undefined, -1] }),
  };
  for (const [name, call] of Object.entries(calls)) {
    assert.throws(call, { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }, name);
  }
  assert.throws(() => native.spawn({ file: '/bin/true' }), { name: 'TypeError' });
  assert.equal(native.alive(process.pid), true, 'the addon still answers');
});
