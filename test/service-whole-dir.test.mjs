// A service is every process it started, in immortaldir: one service's crashed master and
// its workers are dealt with, the service beside it is not touched, and SIGTERM to
// immortaldir leaves nothing of either (the harness fails the test if anything is left).
// Both ways of knowing the members: cgroup (root, cgroup2 writable) and tracked.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startDir } from './fixtures/dir-harness.mjs';
import { DEADLINE_MS, gone, waitFor } from './cli-helpers.mjs';
import { askPrefork, PREFORK } from './fixtures/prefork-client.mjs';
import { descendantsOf } from './helpers.mjs';
import { freePort } from './listen-helpers.mjs';

const require = createRequire(import.meta.url);
const { serviceCgroupTree } = require('../dist/process/cgroup.js');

const modes = [
  { name: 'cgroup', env: {}, skip: serviceCgroupTree() === undefined ? 'needs root and a writable cgroup2 hierarchy' : false },
  { name: 'tracked', env: { IMMORTAL_CGROUP: 'off' }, skip: false },
];

for (const mode of modes) {
  describe(`immortaldir: a service is every process it started (${mode.name})`, { skip: mode.skip }, () => {
    test('a prefork master killed -9 is replaced without its old workers; the service beside it keeps its pid', async (t) => {
      const port = await freePort();
      const run = await startDir(t, {
        env: mode.env,
        files: {
          web: `cmd: python3 ${PREFORK} --port ${port} --workers 2\nstop_timeout: 5\n`,
          other: 'cmd: sleep 600\n',
        },
      });
      const other = await run.waitRunning('other');
      const web = await run.waitRunning('web');
      const master = await waitFor(async () => {
        const answer = (await askPrefork(port))?.master;
        return answer === web.pid && answer;
      }, { timeout: DEADLINE_MS, message: 'the master serves' });
      // The first worker answers while the master may still be forking the second.
      await waitFor(() => descendantsOf(master).length === 2, { timeout: DEADLINE_MS, message: 'both workers forked' });
      process.kill(master, 'SIGKILL');
      await run.waitForLog(/web: stopping 2 processes left of the last run/);
      const next = await waitFor(async () => {
        const answer = (await askPrefork(port))?.master;
        return answer !== undefined && answer !== master && answer;
      }, { timeout: DEADLINE_MS, message: 'a new master serves' });
      assert.ok(gone(master));
      assert.equal((await run.waitRunning('web')).pid, next);
      assert.equal((await run.status('other')).pid, other.pid, 'the other service was not touched');
      const { code } = await run.stop();
      assert.equal(code, 0);
    });
  });
}
