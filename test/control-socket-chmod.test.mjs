// An operator (or a configuration-management run) changes the mode of a running
// supervisor's socket. The supervisor must keep that socket, its mode and its open
// connections: a chmod changes the file's ctime, not whose socket it is.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { sandbox, waitForStatus } from './cli-helpers.mjs';

const REQUESTS = 3000;
const CHMOD_AT = 100;

/** GET / on a keep-alive agent; resolves to {body, reused}. */
function getStatus(socketPath, agent) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/', agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ body, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('GET / timed out')));
    req.on('error', reject);
  });
}

test('chmod 660 on the socket during 3000 keep-alive status requests: no reset, no new socket, the mode stays', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t);
  const sock = box.ctlSocket('chmod');
  const run = box.start(['-n', '-ctl', 'chmod', 'sleep', '3707']);
  const { pid } = await waitForStatus(sock, (s) => s.pid > 0);
  const inode = fs.lstatSync(sock).ino;
  assert.equal(fs.lstatSync(sock).mode & 0o777, 0o600);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const noticed = /changed from outside \(mode 0660, owner \d+:\d+, 1 link\); still ours, left as it is/;
  let done = 0;
  // At least REQUESTS, and on until the supervisor's look (0.2 s after the chmod's inotify
  // event) has seen the change: only then could it have replaced the socket.
  while (done < REQUESTS || !noticed.test(run.stderr)) {
    if (done === CHMOD_AT) fs.chmodSync(sock, 0o660);
    const { body, reused } = await getStatus(sock, agent);
    assert.equal(JSON.parse(body).pid, pid);
    if (done > 0) assert.ok(reused, `request ${done + 1} reused the keep-alive connection`);
    done += 1;
    assert.ok(run.exitStatus === undefined, `the supervisor exited: ${run.stderr}`);
  }

  assert.doesNotMatch(run.stderr, /recreat/, 'the supervisor did not replace its socket');
  const after = fs.lstatSync(sock);
  assert.equal(after.ino, inode, 'the same socket file');
  assert.equal(after.mode & 0o777, 0o660, 'the operator\'s mode');
  agent.destroy();
  run.kill('SIGTERM');
  assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
  assert.equal(fs.existsSync(sock), false, 'still its own socket at exit: removed');
});
