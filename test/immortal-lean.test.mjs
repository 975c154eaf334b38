// The supervising process gets its config already read and checked (docs/performance.md):
// -n re-executes the same pid into dist/cli/supervise-entry.js, daemon mode starts the
// detached copy on it. The service never sees the hand-over variable; the config it runs
// with is the one run.yml and the flags gave.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { DEADLINE_MS, procEnviron, sandbox, signal, status, waitFor, waitForFile, waitForStatus, waitGone } from './cli-helpers.mjs';

const require = createRequire(import.meta.url);
const { encodeConfig, takeHandedOverConfig, configHandoverEnv } = require('../dist/supervise/config-handover.js');
const { loadConfig } = require('../dist/config/config.js');
const { supervisingNodeFlags } = require('../dist/supervise/node-flags.js');

function cmdlineOf(pid) {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

/** A service that writes its environment to envFile, then sleeps. */
function envWriter(box, envFile) {
  return box.write('writes-env.sh', `#!/bin/sh\nenv > ${envFile}.tmp && mv ${envFile}.tmp ${envFile}\nexec sleep 60\n`, 0o755);
}

describe('the lean supervising process', { concurrency: true }, () => {
  test('-n: the same pid re-executed into the supervising entry, run.yml applied, nothing handed to the service', async (t) => {
    const box = sandbox(t);
    const envFile = box.path('service.env');
    const runYml = box.write('run.yml', `cmd: ${envWriter(box, envFile)}\nenv:\n  FROM_RUN_YML: yes-it-is\n`);
    // An operator's own node flag: it must come after ours, so that it wins.
    const run = box.start(['-n', '-ctl', 'lean', '-c', runYml], { nodeArgs: ['--max-opt=3'] });
    await waitForFile(envFile);
    const sock = box.ctlSocket('lean');
    const st = await status(sock);
    assert.equal(st.count, 1);
    await waitFor(() => cmdlineOf(run.pid).some((arg) => arg.endsWith('supervise-entry.js')), { message: 'supervise-entry in cmdline' });
    const argv = cmdlineOf(run.pid);
    assert.deepEqual(argv.slice(-3), ['lean', '-c', runYml], 'the operator\'s arguments stay visible in ps');
    const entry = argv.findIndex((arg) => arg.endsWith('supervise-entry.js'));
    assert.deepEqual(argv.slice(1, entry), [...supervisingNodeFlags, '--max-opt=3'], 'the supervising flags, then the operator\'s');
    const serviceEnv = fs.readFileSync(envFile, 'utf8');
    assert.match(serviceEnv, /^FROM_RUN_YML=yes-it-is$/m);
    assert.doesNotMatch(serviceEnv, new RegExp(configHandoverEnv));
    assert.equal(procEnviron(st.pid)[configHandoverEnv], undefined);
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    await waitGone(st.pid);
  });

  test('-n: the supervising process loads no YAML reader, no flag parser, no config checks, nothing a plain service does not use', async (t) => {
    const box = sandbox(t);
    const runYml = box.write('run.yml', `cmd: sleep 3713\nlog:\n  file: ${box.path('out.log')}\n`);
    // Node's module trace; -n keeps the pid across the re-exec, so the supervising process's
    // share of it starts where it loads supervise-entry.js.
    // Into a file, whose writes are synchronous: Node queues stderr writes to a pipe, and what
    // the reading half still has queued when it re-executes is lost.
    const traceFile = box.path('trace.log');
    const traceFd = fs.openSync(traceFile, 'w');
    const run = box.start(['-n', '-ctl', 'leanmods', '-c', runYml], { env: { NODE_DEBUG: 'module' }, stdio: ['ignore', 'pipe', traceFd] });
    fs.closeSync(traceFd);
    const sock = box.ctlSocket('leanmods');
    const st = await waitForStatus(sock, (s) => s.pid > 0, { timeout: DEADLINE_MS, message: 'leanmods running' });
    assert.equal(await signal(sock, 'halt'), '');
    assert.deepEqual(await run.waitExit(), { code: 0, signal: null });
    await waitGone(st.pid);
    const loaded = [...fs.readFileSync(traceFile, 'utf8').matchAll(/MODULE \d+: load "([^"]+)"/g)].map((match) => match[1]);
    const entry = loaded.findIndex((file) => file.endsWith('supervise-entry.js'));
    assert.ok(entry > 0, 'the trace shows the parsing process, then the supervising entry');
    assert.ok(loaded.slice(0, entry).some((file) => /[/\\]yaml[/\\]/.test(file)), 'the control: the parsing process did load yaml');
    const supervising = loaded.slice(entry);
    assert.ok(supervising.some((file) => /[/\\]log[/\\]stream\.js$/.test(file)), 'what `log:` needs is loaded');
    const unwanted = /[/\\]log[/\\]logger-pipe\.js$|[/\\](yaml|commander)[/\\]|[/\\]config[/\\](load|run-yml|checks|yaml-reader|config)\.js$|[/\\]cli[/\\]flags\.js$|require-over-sockets\.js$|[/\\]control[/\\]client\.js$/;
    assert.deepEqual(supervising.filter((file) => unwanted.test(file)), []);
  });

  test('daemon mode: the detached copy runs the supervising entry, nothing handed to the service', async (t) => {
    const box = sandbox(t);
    const envFile = box.path('service.env');
    const parentPidfile = box.path('parent.pid');
    const result = await box.run(['-ctl', 'leanbg', '-P', parentPidfile, '-e', box.home, envWriter(box, envFile)]);
    assert.equal(result.code, 0, result.stderr);
    const supervisorPid = Number(fs.readFileSync(parentPidfile, 'utf8'));
    const argv = cmdlineOf(supervisorPid);
    const entry = argv.findIndex((arg) => arg.endsWith('supervise-entry.js'));
    assert.ok(entry > 0, `supervise-entry in ${argv.join(' ')}`);
    assert.deepEqual(argv.slice(1, entry), supervisingNodeFlags, 'the detached copy runs with the supervising flags');
    await waitForFile(envFile);
    assert.doesNotMatch(fs.readFileSync(envFile, 'utf8'), new RegExp(configHandoverEnv));
    const sock = box.ctlSocket('leanbg');
    const st = await status(sock);
    assert.equal(await signal(sock, 'halt'), '');
    await waitGone(supervisorPid);
    await waitGone(st.pid);
  });

  test('the hand-over gives back the loaded config and removes its variable; what JSON cannot carry is refused', (t) => {
    const box = sandbox(t);
    const runYml = box.write('run.yml', [
      'cmd: sleep 60', 'env:', '  A: "1"', 'log:', `  file: ${box.path('out.log')}`, '  age: 10', '  timestamp: true',
      'require:', '  - other', 'retries: 3', 'wait: 0.5', '',
    ].join('\n'));
    const config = loadConfig({ config: runYml }, box.env, { pid: 1, home: box.home, uid: process.getuid() });
    const json = encodeConfig(config);
    assert.equal(typeof json, 'string');
    const env = { [configHandoverEnv]: json, OTHER: 'x' };
    assert.deepEqual(takeHandedOverConfig(env), JSON.parse(JSON.stringify(config)));
    assert.deepEqual(env, { OTHER: 'x' });
    assert.equal(takeHandedOverConfig(env), undefined);
    assert.equal(encodeConfig({ ...config, wait: Infinity }), undefined);
    assert.equal(encodeConfig({ ...config, env: new Map() }), undefined);
    assert.equal(encodeConfig({ ...config, require: [undefined] }), undefined);
  });
});

test('immortaldir\'s #! line carries the supervising flags (a spawn with process.execPath reads no #! line)', () => {
  const shebang = fs.readFileSync(new URL('../dist/cli/immortaldir.js', import.meta.url), 'utf8').split('\n')[0];
  const words = shebang.split(/\s+/);
  assert.equal(words.slice(0, 3).join(' '), '#!/usr/bin/env -S node');
  for (const flag of supervisingNodeFlags) assert.ok(words.includes(flag), `${flag} in ${shebang}`);
});

test('dist/ has no comments and no character above U+00FF: V8 keeps each module\'s source one byte per character', () => {
  // A single wider character anywhere in a module (an arrow in a comment) makes V8 hold the
  // whole source text as two bytes per character, for the life of the process.
  const dist = new URL('../dist/', import.meta.url);
  const files = fs.readdirSync(dist, { recursive: true }).filter((file) => file.endsWith('.js'));
  assert.ok(files.length > 50, `${files.length} modules`);
  const wide = [];
  const commented = [];
  for (const file of files) {
    const text = fs.readFileSync(new URL(file, dist), 'utf8');
    if (/[^\x00-\xff]/.test(text)) wide.push(file);
    // Every source file opens with a comment saying what it is for (a script in a string, such
    // as the dashboard's, may hold comments further down).
    if (text.replace(/^#!.*\n/, '').split('\n').slice(0, 3).some((line) => line.startsWith('//'))) commented.push(file);
  }
  assert.deepEqual(wide, [], 'write such characters as \\u escapes in string literals');
  assert.deepEqual(commented, [], 'tsconfig.json: removeComments');
});
