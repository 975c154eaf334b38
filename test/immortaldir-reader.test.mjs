// immortaldir reads its *.yml files in a short-lived child (immortaldir/config-reader.ts), so
// the process that runs for months never holds the YAML parser or the config checks. What the
// child answers must be exactly what reading in-process gives, configs and errors alike; a
// reader that fails is reported for every file and tried again without a change to the
// directory; stopping immortaldir while a reader runs leaves no reader behind.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import test from 'node:test';
import { promisify } from 'node:util';
import { FIXTURE_DIR, waitFor } from './cli-helpers.mjs';
import { startDir, waitPidGone } from './fixtures/dir-harness.mjs';

const require = createRequire(import.meta.url);
const READER = require.resolve('../dist/immortaldir/config-reader.js');
const CONFIG = require.resolve('../dist/config/config.js');
const READER_ENV_PRELOAD = path.join(FIXTURE_DIR, 'reader-env-preload.cjs');
const STALL = path.join(FIXTURE_DIR, 'stall.cjs');
/** SPEC §6: a change is picked up within 5 s; the same bound for a read tried again. */
const PICKUP_MS = 5000;

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return ''; // gone
  }
}

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-reader-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Runs readServiceFiles and, for comparison, loadServiceFile in a fresh node process (the
 * reaper there reaps every child of its process, so not in the test runner's).
 */
async function readBothWays(files, env = {}) {
  const script = `
    const { readServiceFiles } = require(${JSON.stringify(READER)});
    const { ConfigError, loadServiceFile } = require(${JSON.stringify(CONFIG)});
    const files = ${JSON.stringify(files)};
    const context = { pid: 4242, home: '/nonexistent-home', uid: process.getuid() };
    const inProcess = {};
    for (const { name, file } of files) {
      try {
        inProcess[name] = { config: loadServiceFile(file, { ctl: name }, process.env, context) };
      } catch (err) {
        inProcess[name] = { error: err instanceof ConfigError ? err.message : file + ': ' + err.message };
      }
    }
    if (process.env.BREAK_READER) process.env.NODE_OPTIONS = process.env.BREAK_READER;
    readServiceFiles(files, context).then(({ results, failed }) => {
      process.stdout.write(JSON.stringify({ inProcess, child: Object.fromEntries(results), failed }));
    });`;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { ...JSON.parse(stdout), stderr };
}

test('the reader answers what reading in-process gives: each config, each error, for many files at once', async (t) => {
  const dir = tempDir(t);
  const write = (name, text) => {
    const file = path.join(dir, `${name}.yml`);
    fs.writeFileSync(file, text);
    return { name, file };
  };
  const files = [
    write('plain', 'cmd: sleep 60\n'),
    write('full', `cmd: ./run.sh --port 8080\ncwd: .\nenv:\n  GREETING: "h\u00e9llo \u2603"\n  EMPTY: ""\nlog:\n  file: ${dir}/full.log\n  age: 86400\n  num: 3\n  size: 10\n  timestamp: true\nretries: 3\nwait: 2\nstop_timeout: 7\npid:\n  follow: ${dir}/full.pid\n`),
    write('unknown-key', 'cmd: sleep 60\ncmdd: oops\n'),
    write('bad-yaml', 'cmd: [sleep, 60\n'),
    write('no-cmd', 'cwd: /tmp\n'),
    write('empty', ''),
    write('list', '- cmd: sleep 60\n'),
    { name: 'gone', file: path.join(dir, 'gone.yml') },
  ];
  for (let i = 0; i < 150; i++) files.push(write(`many-${i}`, `cmd: sleep ${1000 + i}\n`));

  const { inProcess, child, failed } = await readBothWays(files);
  assert.equal(failed, false);
  assert.deepEqual(child, inProcess);
  // Not trivially equal: each case gave what it should.
  assert.deepEqual(child.plain.config.command, ['sleep', '60']);
  assert.ok(child.full.config, child.full.error);
  assert.equal(child.full.config.env.GREETING, 'h\u00e9llo \u2603');
  assert.equal(child.full.config.cwd, dir);
  assert.equal(child['many-149'].config.command[1], '1149');
  assert.match(child['unknown-key'].error, /unknown-key\.yml: unknown key "cmdd"/);
  assert.match(child['bad-yaml'].error, /bad-yaml\.yml: invalid YAML/);
  assert.match(child['no-cmd'].error, /no-cmd\.yml/);
  assert.match(child.empty.error, /empty\.yml: empty file/);
  assert.match(child.list.error, /list\.yml: expected a mapping/);
  assert.match(child.gone.error, /gone\.yml/);
});

test('a reader that cannot run: every file gets that as its error, with the cause', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'a.yml');
  fs.writeFileSync(file, 'cmd: sleep 60\n');
  const { child, failed, stderr } = await readBothWays([{ name: 'a', file }], { BREAK_READER: '--require /nonexistent/breaks-the-reader.cjs' });
  assert.equal(failed, true);
  assert.deepEqual(child, { a: { error: 'cannot read: the run.yml reader failed: exit code 1' } });
  assert.match(stderr, /Cannot find module '\/nonexistent\/breaks-the-reader\.cjs'/, 'its own error reaches our stderr');
});

test('immortaldir itself never loads the YAML parser or the config checks; its reader does', async (t) => {
  const dir = await startDir(t, { env: { NODE_DEBUG: 'module' }, files: { a: 'cmd: sleep 3721\n' } });
  await dir.waitRunning('a');
  dir.write('b', 'cmd: sleep 3722\n');
  await dir.waitRunning('b', () => true, PICKUP_MS);
  assert.deepEqual(await dir.stop(), { code: 0, signal: null });

  const loadsByPid = new Map();
  for (const [, pid, file] of dir.stderr.matchAll(/MODULE (\d+): load "([^"]+)"/g)) {
    loadsByPid.set(Number(pid), [...(loadsByPid.get(Number(pid)) ?? []), file]);
  }
  const own = loadsByPid.get(dir.pid) ?? [];
  assert.ok(own.some((file) => file.endsWith('service-table.js')), 'the control: the trace shows immortaldir\'s own loads');
  const unwanted = /[/\\](yaml|commander)[/\\]|[/\\]config[/\\](load|run-yml|checks|yaml-reader|keys|value-types|config)\.js$/;
  assert.deepEqual(own.filter((file) => unwanted.test(file)), []);
  const readers = [...loadsByPid].filter(([pid, files]) => pid !== dir.pid && files.some((file) => file.endsWith('read-service-files.js')));
  assert.ok(readers.length >= 1, 'a reader process ran');
  assert.ok(readers.every(([, files]) => files.some((file) => /[/\\]yaml[/\\]/.test(file))), 'the reader loaded yaml');
});

test('a failed reader: the services say why, and it is tried again without a change to the directory', async (t) => {
  const dir = await startDir(t, {
    nodeArgs: ['--require', READER_ENV_PRELOAD],
    env: { IMMORTAL_TEST_READER_NODE_OPTIONS: '--require /nonexistent/breaks-the-reader.cjs' },
    files: { a: 'cmd: sleep 3723\n' },
  });
  await dir.waitForLog(/a: not started: cannot read: the run\.yml reader failed: exit code 1\n/);
  assert.match(dir.stderr, /Cannot find module '\/nonexistent\/breaks-the-reader\.cjs'/, 'the reader\'s own error is in the log');
  dir.proc.kill('SIGUSR2'); // the preload lets readers work from now on
  const running = await dir.waitRunning('a', () => true, PICKUP_MS + 2000);
  assert.equal(running.cmd, 'sleep 3723');
  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  await waitPidGone(running.pid);
});

test('stopped while its reader hangs: the reader is killed and reaped, immortaldir exits at once', async (t) => {
  const dir = await startDir(t, {
    nodeArgs: ['--require', READER_ENV_PRELOAD],
    env: { IMMORTAL_TEST_READER_NODE_OPTIONS: `--require ${STALL}` },
    files: { a: 'cmd: sleep 3724\n' },
  });
  const readerPid = await waitFor(() => dir.box.processes().find((pid) => cmdline(pid).includes('read-service-files.js')),
    { message: 'a reader process' });
  const stoppedAt = Date.now();
  assert.deepEqual(await dir.stop(), { code: 0, signal: null });
  assert.ok(Date.now() - stoppedAt < 20000, `exit took ${Date.now() - stoppedAt} ms: it waited for the reader's timeout`);
  await waitPidGone(readerPid);
  assert.doesNotMatch(dir.stderr, /a: started/);
});
