// -u / run.yml user: as root, the child runs with the user's uid, primary gid AND
// supplementary groups, and HOME/USER/LOGNAME of that user. Root only: the test creates a
// user and two groups, and removes them afterwards. SPEC §1 (-u), §7 (initgroups).
// (-u without root is refused: see immortal-bad-input.test.mjs.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createUser, removeUser } from './helpers.mjs';
import { fileLines, isRoot, procEnviron, procStatus, sandbox, signal, waitForStatus } from './cli-helpers.mjs';

const USER = 'imm_cli_user';
const GROUPS = ['imm_cli_g1', 'imm_cli_g2'];
const haveUseradd = spawnSync('sh', ['-c', 'command -v useradd && command -v groupadd'], { encoding: 'utf8' }).status === 0;
const skip = !isRoot ? 'needs root' : !haveUseradd ? 'needs useradd/groupadd' : false;

/** uid, gid, home and the gids of GROUPS, from the system databases. */
function account() {
  const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  const group = fs.readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':'));
  const entry = passwd.find((fields) => fields[0] === USER);
  const gidOf = (name) => Number(group.find((fields) => fields[0] === name)[2]);
  return { uid: Number(entry[2]), gid: Number(entry[3]), home: entry[5], extra: GROUPS.map(gidOf) };
}

/** Uid/Gid/Groups of /proc/<pid>/status as numbers. */
function credentials(pid) {
  const st = procStatus(pid);
  const ids = (line) => line.split(/\s+/).filter(Boolean).map(Number);
  return { uid: ids(st.Uid), gid: ids(st.Gid), groups: ids(st.Groups).sort((a, b) => a - b) };
}

describe('running the service as another user', { skip, concurrency: true }, () => {
  let who;
  before(() => {
    createUser(USER, { groups: GROUPS });
    who = account();
  });
  after(() => removeUser(USER, { groups: GROUPS }));

  function assertRunsAsUser(pid) {
    const creds = credentials(pid);
    assert.deepEqual(creds.uid, [who.uid, who.uid, who.uid, who.uid], 'real, effective, saved, fs uid');
    assert.deepEqual(creds.gid, [who.gid, who.gid, who.gid, who.gid], 'real, effective, saved, fs gid');
    assert.deepEqual(creds.groups, [who.gid, ...who.extra].sort((a, b) => a - b), 'supplementary groups');
    const env = procEnviron(pid);
    assert.equal(env.HOME, who.home);
    assert.equal(env.USER, USER);
    assert.equal(env.LOGNAME, USER);
  }

  for (const spelling of ['name', 'uid']) {
    test(`-u <${spelling}>: uid, gid, supplementary groups and HOME/USER/LOGNAME of the user; the supervisor stays root`, async (t) => {
      const box = sandbox(t);
      const user = spelling === 'name' ? USER : String(who.uid);
      const run = box.start(['-n', '-ctl', 'asuser', '-u', user, 'sleep', '60']);
      const sock = box.ctlSocket('asuser');
      const st = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
      assertRunsAsUser(st.pid);
      assert.equal(credentials(run.pid).uid[0], 0, 'supervisor keeps root');
      assert.equal(await signal(sock, 'halt'), '');
      assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    });
  }

  test('run.yml user:, and post_exit runs as that user too', async (t) => {
    const box = sandbox(t, { restartMs: 50 });
    fs.chmodSync(box.dir, 0o755);
    const out = box.path('out');
    fs.mkdirSync(out, { mode: 0o777 });
    fs.chmodSync(out, 0o777);
    const notify = box.write('notify.sh', `#!/bin/sh\necho "$(id -u) $(id -G) $1" >> ${out}/post\n`, 0o755);
    const yml = box.write('user.yml', `cmd: sleep 60\nuser: ${USER}\npost_exit: ${notify}\n`);
    const run = box.start(['-n', '-ctl', 'ymluser', '-c', yml]);
    const sock = box.ctlSocket('ymluser');
    const st = await waitForStatus(sock, (s) => s.count === 1 && s.pid > 0);
    assertRunsAsUser(st.pid);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    const [line] = fileLines(`${out}/post`);
    assert.ok(line, 'post_exit ran');
    const [uid, ...rest] = line.split(' ').map(Number);
    assert.equal(uid, who.uid);
    const code = rest.pop();
    assert.equal(code, 128 + 15, 'exit code of a TERMed service');
    assert.deepEqual(rest.sort((a, b) => a - b), [who.gid, ...who.extra].sort((a, b) => a - b));
  });
});
