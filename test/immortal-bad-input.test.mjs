// Bad input: every case prints exactly one line naming the cause and the file/field, exits 1,
// and leaves nothing half-started (no supervise dir with a lock or socket, no process).
// SPEC §1 "Exit codes and errors", §2 (unknown keys, wrong types, empty cmd).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { asUser, FIXTURE_DIR, isRoot, sandbox } from './cli-helpers.mjs';

const BAD_DIR = path.join(FIXTURE_DIR, 'bad');
const badFiles = fs.existsSync(BAD_DIR) ? fs.readdirSync(BAD_DIR).filter((name) => name.endsWith('.yml')).sort() : [];
const flagCases = fs.existsSync(path.join(BAD_DIR, 'flags.json'))
  ? JSON.parse(fs.readFileSync(path.join(BAD_DIR, 'flags.json'), 'utf8'))
  : [];

/** The `# expect: …` substring of a fixture's first line. */
function expectation(file) {
  const first = fs.readFileSync(file, 'utf8').split('\n')[0];
  const match = /^# expect: (.+)$/.exec(first);
  assert.ok(match, `${file}: first line must be "# expect: <substring>"`);
  return match[1];
}

/** Files named lock or immortal.sock anywhere under dir. */
function lockOrSocketUnder(dir) {
  const found = [];
  const walk = (current) => {
    let entries;
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'lock' || entry.name === 'immortal.sock') found.push(full);
    }
  };
  walk(dir);
  return found;
}

/**
 * The contract of a refused start: exit 1, nothing on stdout, one stderr line containing
 * `expected`, no lock/socket left in the sandbox, no process started.
 */
function assertRefused(box, result, expected, what) {
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(result.code, 1, `${what}: exit code (stderr ${JSON.stringify(result.stderr)})`);
  assert.equal(lines.length, 1, `${what}: exactly one stderr line, got ${JSON.stringify(result.stderr)}`);
  assert.ok(lines[0].includes(expected), `${what}: ${JSON.stringify(lines[0])} should contain ${JSON.stringify(expected)}`);
  assert.equal(result.stdout, '', `${what}: nothing on stdout`);
  assert.deepEqual(lockOrSocketUnder(box.dir), [], `${what}: no lock or socket left behind`);
  assert.deepEqual(box.processes(), [], `${what}: no process left running`);
}

describe('run.yml files in test/fixtures/bad: immortal -cc -c file', { concurrency: 4 }, () => {
  for (const name of badFiles) {
    test(name, async (t) => {
      const box = sandbox(t);
      const file = path.join(BAD_DIR, name);
      const result = await box.run(['-cc', '-c', file]);
      assertRefused(box, result, expectation(file), name);
    });
  }
});

// A sample of the same files really started: refused before anything starts. (Every file
// takes the same path through the CLI; the sample covers YAML, key, path and user errors.)
const startedSample = ['invalid-syntax.yml', 'unknown-key.yml', 'cmd-missing.yml', 'cwd-missing.yml', 'user-unknown.yml',
  'pid-child-dir-missing.yml'].filter((name) => badFiles.includes(name));
const detachedSample = new Set(['invalid-syntax.yml', 'cwd-missing.yml']);

describe('run.yml files in test/fixtures/bad, started for real', { concurrency: 4 }, () => {
  for (const name of startedSample) {
    const modes = detachedSample.has(name) ? 'immortal -n -c / immortal -c' : 'immortal -n -c';
    test(`${modes} ${name}`, async (t) => {
      const box = sandbox(t);
      const file = path.join(BAD_DIR, name);
      assertRefused(box, await box.run(['-n', '-ctl', 'bad', '-c', file]), expectation(file), `-n ${name}`);
      if (detachedSample.has(name)) assertRefused(box, await box.run(['-c', file]), expectation(file), `detached ${name}`);
    });
  }
});

describe('bad flags (test/fixtures/bad/flags.json)', { concurrency: 4 }, () => {
  for (const { argv, expect } of flagCases) {
    test(`immortal ${argv.join(' ')}`, async (t) => {
      const box = sandbox(t);
      assertRefused(box, await box.run(argv, { cwd: box.dir }), expect, argv.join(' '));
    });
  }

  test('an unknown single-dash word is named as typed (-nosuch, not a cluster of letters)', async (t) => {
    const box = sandbox(t);
    assertRefused(box, await box.run(['-nosuch', 'sleep', '1']), '-nosuch', '-nosuch');
  });
});

describe('commands and settings that cannot work', { concurrency: 4 }, () => {
  test('missing command: immortal -n', async (t) => {
    const box = sandbox(t);
    assertRefused(box, await box.run(['-n']), 'missing command', 'no command');
  });

  for (const detached of [false, true]) {
    const mode = detached ? 'detached' : '-n';
    test(`${mode}: a command that does not exist (ENOENT) names the command`, async (t) => {
      const box = sandbox(t);
      const args = [...(detached ? [] : ['-n']), '-ctl', 'x', 'no-such-command-immortal-test', 'arg'];
      const result = await box.run(args);
      assertRefused(box, result, 'no-such-command-immortal-test', mode);
      assert.match(result.stderr, /ENOENT|no such file/i);
    });

    test(`${mode}: a file that is not executable (EACCES) names the file`, async (t) => {
      const box = sandbox(t);
      const script = box.write('not-executable.sh', '#!/bin/sh\nexit 0\n', 0o644);
      const result = await box.run([...(detached ? [] : ['-n']), '-ctl', 'x', script]);
      assertRefused(box, result, script, mode);
      assert.match(result.stderr, /EACCES|permission denied/i);
    });
  }

  test('a directory as the command (EACCES)', async (t) => {
    const box = sandbox(t);
    const result = await box.run(['-n', '-ctl', 'x', box.dir]);
    assertRefused(box, result, box.dir, 'directory');
  });

  test('-d a missing directory names -d and the path', async (t) => {
    const box = sandbox(t);
    const missing = box.path('no', 'such', 'dir');
    assertRefused(box, await box.run(['-n', '-ctl', 'x', '-d', missing, 'sleep', '1']), `-d: directory ${missing}`, '-d');
  });

  test('-u an unknown user', async (t) => {
    const box = sandbox(t);
    assertRefused(box, await box.run(['-n', '-ctl', 'x', '-u', 'nosuchuser_immortal_cli', 'sleep', '1']),
      '-u: unknown user "nosuchuser_immortal_cli"', '-u');
  });

  test('-c a missing file', async (t) => {
    const box = sandbox(t);
    const file = box.path('missing.yml');
    assertRefused(box, await box.run(['-n', '-c', file]), `${file}: cannot read`, '-c missing');
  });

  test('-c a directory (unreadable as YAML)', async (t) => {
    const box = sandbox(t);
    assertRefused(box, await box.run(['-n', '-c', box.home]), `${box.home}: cannot read`, '-c directory');
  });

  test('-c an invalid YAML file, started for real', async (t) => {
    const box = sandbox(t);
    const file = box.write('broken.yml', 'cmd: [sleep 1\n');
    const result = await box.run(['-n', '-c', file]);
    assertRefused(box, result, file, 'invalid YAML');
    assert.match(result.stderr, /invalid YAML/);
  });

  const setpriv = isRoot ? asUser(65534, 65534) : null;
  test('-u when not root: a clear error, exit 1', { skip: setpriv ? false : 'needs root and setpriv (to run as nobody)' }, async (t) => {
    const box = sandbox(t);
    // nobody must be able to reach and write its HOME and IMMORTAL_SDIR.
    fs.chmodSync(box.dir, 0o755);
    fs.chmodSync(box.home, 0o777);
    fs.chmodSync(box.sdir, 0o777);
    const result = await box.run(['-n', '-u', 'root', 'sleep', '1'], { wrap: setpriv });
    assertRefused(box, result, 'needs root', '-u as nobody');
    assert.match(result.stderr, /-u/);
  });

  test('-c a file its reader may not read (run as nobody)', { skip: setpriv ? false : 'needs root and setpriv (to run as nobody)' }, async (t) => {
    const box = sandbox(t);
    fs.chmodSync(box.dir, 0o755);
    fs.chmodSync(box.home, 0o777);
    fs.chmodSync(box.sdir, 0o777);
    const file = box.write('secret.yml', 'cmd: sleep 1\n', 0o600);
    const result = await box.run(['-n', '-c', file], { wrap: setpriv });
    assertRefused(box, result, `${file}: cannot read`, 'unreadable');
    assert.match(result.stderr, /permission denied/);
  });
});
