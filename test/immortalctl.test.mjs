// immortalctl as an operator uses it: the status table, actions on one service or "*",
// signal flags, stale sockets, --json, colours. HOME and IMMORTAL_SDIR point at temp dirs
// populated with fake supervisors (test/fixtures/fake-service.mjs).

import test, { after, afterEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeTempDirs, runImmortalctl, startFake, stopAll } from './fixtures/control-harness.mjs';
import { parseArguments, UsageError } from '../dist/cli/immortalctl.js';

// Every fake supervisor a test started is gone when the test ends.
afterEach(stopAll);
after(async () => {
  await stopAll();
  removeTempDirs();
});

const packageVersion = JSON.parse(
  fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json'), 'utf8'),
).version;

/** A fresh HOME and IMMORTAL_SDIR, and helpers to put fake supervisors in them. */
function newWorld() {
  const root = makeTempDir();
  const home = path.join(root, 'home');
  const sdir = path.join(root, 'sdir');
  fs.mkdirSync(home);
  fs.mkdirSync(sdir);
  const env = { ...process.env, HOME: home, IMMORTAL_SDIR: sdir };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  return {
    home,
    sdir,
    userService: (name, state) => startFake(path.join(home, '.immortal', name), state),
    systemService: (name, state) => startFake(path.join(sdir, name), state),
    ctl: (args, extraEnv = {}) => runImmortalctl(args, { ...env, ...extraEnv }),
  };
}

/** Four services covering every row kind: up, down, following, not started yet. */
async function severalServices(world) {
  const [api, db, unicorn, worker] = await Promise.all([
    world.userService('api', { pid: 100, running: true, upForMs: 61_000, cmd: 'node api.js', count: 2 }),
    world.systemService('db', { downForMs: 3_723_400, cmd: 'postgres -D /data', count: 1 }),
    world.systemService('unicorn', { pid: 300, running: true, fpid: true, upForMs: 500, cmd: 'unicorn -c u.rb', count: 1 }),
    world.systemService('worker', { cmd: 'sleep 1', note: 'Starting in 1.5 seconds' }),
  ]);
  return { api, db, unicorn, worker };
}

const SEVERAL_TABLE = [
  'PID       Up       Down   Name      CMD',
  '100   1m1.0s              api       node api.js',
  '               1h2m3.4s   db        postgres -D /data',
  '300     0.5s              unicorn   unicorn -c u.rb',
  '                          worker    sleep 1 - Starting in 1.5 seconds',
  '',
].join('\n');

describe('the status table', () => {
  test('no services: only the header', async () => {
    const world = newWorld();
    const result = await world.ctl([]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, 'PID   Up   Down   Name   CMD\n');
  });

  test('one service', async () => {
    const world = newWorld();
    const web = await world.userService('web', { pid: 4242, running: true, upForMs: 7_900, cmd: './stdout', count: 1 });
    const result = await world.ctl([]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, [' PID     Up   Down   Name   CMD', '4242   7.9s          web    ./stdout', ''].join('\n'));
    assert.deepEqual(web.actions(), [], 'status sends no action');
  });

  test('several services: ~/.immortal first, then $IMMORTAL_SDIR, sorted by name', async () => {
    const world = newWorld();
    await severalServices(world);
    for (const args of [[], ['status'], ['status', '*']]) {
      const result = await world.ctl(args);
      assert.equal(result.code, 0, args.join(' '));
      assert.equal(result.stdout, SEVERAL_TABLE, args.join(' '));
      assert.equal(result.stderr, '');
    }
  });

  test('status of one service shows only that row', async () => {
    const world = newWorld();
    await severalServices(world);
    const result = await world.ctl(['status', 'db']);
    assert.equal(result.stdout, ['PID   Up       Down   Name   CMD', '           1h2m3.4s   db     postgres -D /data', ''].join('\n'));
  });

  test('colours: green up, red down, yellow following; only when forced or on a TTY, never with NO_COLOR', async () => {
    const world = newWorld();
    await severalServices(world);
    const plain = await world.ctl([]);
    assert.doesNotMatch(plain.stdout, /\x1b/, 'not a TTY → no colour');
    const coloured = await world.ctl([], { FORCE_COLOR: '1' });
    assert.ok(coloured.stdout.includes('\x1b[0;32mapi    \x1b[0;00m'), coloured.stdout);
    assert.ok(coloured.stdout.includes('\x1b[0;31mdb     \x1b[0;00m'));
    assert.ok(coloured.stdout.includes('\x1b[0;33municorn\x1b[0;00m'));
    assert.ok(coloured.stdout.includes('\x1b[0;33msleep 1 - Starting in 1.5 seconds\x1b[0;00m'));
    const noColor = await world.ctl([], { FORCE_COLOR: '1', NO_COLOR: '1' });
    assert.equal(noColor.stdout, SEVERAL_TABLE);
  });

  test('a stale socket is a row, not a crash', async () => {
    const world = newWorld();
    const web = await world.userService('web', { pid: 7, running: true, upForMs: 1_000, cmd: 'web' });
    const gone = await world.systemService('gone', { pid: 8, running: true, upForMs: 0 });
    await gone.kill9();
    const result = await world.ctl([]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, [
      'PID     Up   Down   Name   CMD',
      '  7   1.0s          web    web',
      '                    gone   stale socket (connection refused)',
      '',
    ].join('\n'));
    assert.ok(fs.existsSync(gone.socketPath), 'immortalctl does not delete anything');
    await web.stop();
  });
});

describe('--json', () => {
  test('all services as one array, errors included', async () => {
    const world = newWorld();
    const services = await severalServices(world);
    const gone = await world.systemService('gone', {});
    await gone.kill9();
    const result = await world.ctl(['--json']);
    assert.equal(result.code, 0);
    assert.deepEqual(JSON.parse(result.stdout), [
      { name: 'api', dir: services.api.superviseDir, pid: 100, up: '1m1.0s', cmd: 'node api.js', fpid: false, count: 2, processes: 1, memory: 0, cpu: 0 },
      { name: 'db', dir: services.db.superviseDir, pid: 0, down: '1h2m3.4s', cmd: 'postgres -D /data', fpid: false, count: 1, processes: 0, memory: 0, cpu: 0 },
      { name: 'gone', dir: gone.superviseDir, error: 'stale socket (connection refused)' },
      { name: 'unicorn', dir: services.unicorn.superviseDir, pid: 300, up: '0.5s', cmd: 'unicorn -c u.rb', fpid: true, count: 1, processes: 1, memory: 0, cpu: 0 },
      { name: 'worker', dir: services.worker.superviseDir, pid: 0, cmd: 'sleep 1', fpid: false, count: 0, status: 'Starting in 1.5 seconds', processes: 0, memory: 0, cpu: 0 },
    ]);
  });

  test('no services: an empty array', async () => {
    const result = await newWorld().ctl(['--json']);
    assert.equal(result.stdout, '[]\n');
  });
});

describe('actions', () => {
  const FLAGS = [
    ['-1', 'SIGUSR1'], ['-2', 'SIGUSR2'], ['-a', 'SIGALRM'], ['-c', 'SIGCONT'], ['-h', 'SIGHUP'], ['-i', 'SIGINT'],
    ['-in', 'SIGTTIN'], ['-k', 'SIGKILL'], ['-ou', 'SIGTTOU'], ['-q', 'SIGQUIT'], ['-s', 'SIGSTOP'], ['-t', 'SIGTERM'],
    ['-w', 'SIGWINCH'], ['--in', 'SIGTTIN'],
  ];
  const WORDS = [['start', 'start'], ['stop', 'down'], ['once', 'once'], ['halt', 'halt'], ['restart', 'restart'], ['exit', 'exit']];

  test('every signal flag and action word maps to the name the original sends', () => {
    for (const [flag, signal] of FLAGS) {
      assert.equal(parseArguments([flag, 'web']).action.socketSignal, signal.slice(3), flag);
    }
    for (const [word, socketName] of WORDS) {
      assert.equal(parseArguments([word, 'web']).action.socketSignal, socketName, word);
    }
  });

  test('signal flags and action words reach the service over the socket', async () => {
    const world = newWorld();
    const web = await world.systemService('web', { pid: 5, running: true, upForMs: 0, cmd: 'web', downStops: true });
    const upRow = /^\s+5\s+0\.0s\s+web\s+web$/m;
    const downRow = /^\s+0\.0s\s+web\s+web$/m;
    const cases = [['-s', { action: 'signal', detail: 'SIGSTOP' }, upRow], ['-in', { action: 'signal', detail: 'SIGTTIN' }, upRow],
      ['-1', { action: 'signal', detail: 'SIGUSR1' }, upRow], ['stop', { action: 'down' }, downRow], ['start', { action: 'up' }, upRow]];
    for (const [arg, expected, row] of cases) {
      const before = web.actions().length;
      const result = await world.ctl([arg, 'web']);
      assert.equal(result.code, 0, `${arg}: ${result.stderr}`);
      assert.match(result.stdout, row, arg);
      assert.deepEqual(web.actions().slice(before), [expected], arg);
    }
  });

  test('"*" sends the action to every service', async () => {
    const world = newWorld();
    const services = await severalServices(world);
    const result = await world.ctl(['-t', '*']);
    assert.equal(result.code, 0);
    for (const [name, fake] of Object.entries(services)) {
      assert.deepEqual(fake.actions(), [{ action: 'signal', detail: 'SIGTERM' }], name);
    }
  });

  test('one named service: the others are untouched', async () => {
    const world = newWorld();
    const services = await severalServices(world);
    await world.ctl(['-t', 'unicorn']);
    assert.deepEqual(services.unicorn.actions(), [{ action: 'signal', detail: 'SIGTERM' }]);
    assert.deepEqual(services.api.actions(), []);
    assert.deepEqual(services.db.actions(), []);
  });

  test('halt: the supervisor answers, then exits', async () => {
    const world = newWorld();
    const web = await world.systemService('web', { pid: 5, running: true, upForMs: 0, cmd: 'web' });
    const result = await world.ctl(['halt', 'web']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\s+web\s+web - halted$/m, 'printed once the supervisor is gone');
    assert.deepEqual(web.actions(), [{ action: 'halt' }]);
    assert.deepEqual(await web.exited(), { code: 0, signal: null });
  });

  test('stop of a service that stays up past --wait: its row says "stopping", exit 0', async () => {
    const world = newWorld();
    const web = await world.systemService('web', { pid: 5, running: true, upForMs: 0, cmd: 'web' });
    const result = await world.ctl(['--wait', '0.3', 'stop', 'web']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\s+5\s+\d+\.\ds\s+web\s+web - stopping$/m);
    assert.deepEqual(web.actions(), [{ action: 'down' }]);
    const json = await world.ctl(['--json', '--wait', '0', 'stop', 'web']);
    assert.equal(JSON.parse(json.stdout)[0].outcome, 'stopping');
  });

  test('a refused action is shown after the row and exits 1', async () => {
    const world = newWorld();
    await world.systemService('web', {
      pid: 5, running: true, upForMs: 0, cmd: 'web', results: { exit: 'set environment variable IMMORTAL_EXIT to exit' },
    });
    const result = await world.ctl(['exit', 'web']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /web\s+web - set environment variable IMMORTAL_EXIT to exit$/m);
  });

  test('an action on a stale socket fails with exit 1', async () => {
    const world = newWorld();
    const gone = await world.systemService('gone', {});
    await gone.kill9();
    const result = await world.ctl(['-h', 'gone']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /gone\s+stale socket/);
  });

  test('unknown service: one error line, exit 1', async () => {
    const world = newWorld();
    await world.userService('web', {});
    const result = await world.ctl(['start', 'nope']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.split('\n').filter(Boolean).length, 1);
    assert.match(result.stderr, /no service named "nope"/);
  });
});

describe('arguments', () => {
  test('-v prints the package version', async () => {
    const result = await newWorld().ctl(['-v']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${packageVersion}\n`);
  });

  test('--help lists every action and signal flag', async () => {
    const result = await newWorld().ctl(['--help']);
    assert.equal(result.code, 0);
    for (const word of ['status', 'start', 'stop', 'once', 'halt', 'restart', 'exit', '-1', '-2', '-a', '-c', '-h', '-i',
      '-in', '-k', '-ou', '-q', '-s', '-t', '-w', '--json', '--wait', '-v']) {
      assert.match(result.stdout, new RegExp(`^    ${word.replace(/-/g, '\\-')} +\\S`, 'm'), word);
    }
  });

  test('mistakes are refused with a reason', () => {
    for (const args of [['-zz', 'web'], ['start'], ['-t'], ['bogus'], ['-t', '-k', 'web'], ['status', 'a', 'b'],
      ['--wait'], ['--wait', 'soon', 'stop', 'web'], ['--wait', '-1', 'stop', 'web'], ['--wait', '', 'stop', 'web']]) {
      assert.throws(() => parseArguments(args), UsageError, args.join(' '));
    }
  });

  test('a mistake is one line on stderr and exit 1', async () => {
    const result = await newWorld().ctl(['-zz', 'web']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'immortalctl: unknown option -zz; see immortalctl --help\n');
  });
});
