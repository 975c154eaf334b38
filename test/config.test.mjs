// Flags and run.yml → Config: what an operator types, and what immortal makes of it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import configModule from '../dist/config/config.js';
import flagsModule from '../dist/cli/flags.js';
import { publicPackageRoot } from './helpers.mjs';

const { loadConfig, configToYaml, ConfigError } = configModule;
const { parseFlags, configInputOf, helpText } = flagsModule;

const here = path.dirname(fileURLToPath(import.meta.url));
const badDir = path.join(here, 'fixtures', 'bad');

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-config-'));
test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));

let fileCounter = 0;
/** Writes a run.yml into its own fresh directory; returns its path. */
function writeService(text, name = 'web.yml') {
  const dir = fs.mkdtempSync(path.join(scratch, `svc${fileCounter++}-`));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const ctx = { pid: 4242, home: path.join(scratch, 'home'), uid: 0 };
const env = { IMMORTAL_SDIR: path.join(scratch, 'sdir') };

function load(argv, context = ctx, environment = env) {
  return loadConfig(configInputOf(parseFlags(argv)), environment, context);
}

function errorOf(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a ConfigError');
}

// ---- flags -------------------------------------------------------------------------------

test('the single-dash words -cc -ctl -name -logger are whole flags, not clusters', () => {
  const flags = parseFlags(['-cc', '-c', 'web.yml', '-ctl', 'web']);
  assert.equal(flags.check, true);
  assert.equal(flags.config, 'web.yml');
  assert.equal(flags.ctl, 'web');
  const named = parseFlags(['-name', 'api', '-logger', 'logger -t api', 'sleep', '1']);
  assert.equal(named.name, 'api');
  assert.equal(named.logger, 'logger -t api');
  assert.deepEqual(named.command, ['sleep', '1']);
});

test('everything after the command name belongs to the child, even -c and --help', () => {
  const flags = parseFlags(['-n', '-r', '3', 'unicorn', '-c', 'unicorn.rb', '--help', '-cc', '-v']);
  assert.deepEqual(flags.command, ['unicorn', '-c', 'unicorn.rb', '--help', '-cc', '-v']);
  assert.equal(flags.foreground, true);
  assert.equal(flags.retries, 3);
  assert.equal(flags.help, false);
  assert.equal(flags.config, undefined);
  assert.equal(flags.check, false);
});

test('-- ends the flags: a command may start with a dash', () => {
  assert.deepEqual(parseFlags(['-n', '--', '-weird', 'x']).command, ['-weird', 'x']);
});

test('Go spellings keep working: -flag=value, --short, -r -1, -n=true', () => {
  const flags = parseFlags(['-ctl=web', '--r', '-1', '-w=1.5', '-n=true', '--d', '/tmp', 'sleep', '1']);
  assert.equal(flags.ctl, 'web');
  assert.equal(flags.retries, -1);
  assert.equal(flags.wait, 1.5);
  assert.equal(flags.foreground, true);
  assert.equal(flags.dir, '/tmp');
  assert.equal(parseFlags(['-n=false', 'x']).foreground, false);
});

test('every flag has a --long alias', () => {
  const flags = parseFlags(['--foreground', '--config', 'a.yml', '--ctl', 'c', '--dir', 'd', '--envdir', 'e',
    '--follow', 'f', '--log', 'l', '--logger', 'lg', '--pid', 'p', '--ppid', 'P', '--retries', '2',
    '--user', 'u', '--wait', '3', '--check']);
  assert.deepEqual({ ...flags }, {
    version: false, help: false, foreground: true, check: true, config: 'a.yml', ctl: 'c', dir: 'd', envDir: 'e',
    follow: 'f', log: 'l', logger: 'lg', childPid: 'p', parentPid: 'P', retries: 2, user: 'u', wait: 3, command: [],
  });
  assert.equal(parseFlags(['--supervisor-pid', 'x.pid', 'sleep']).parentPid, 'x.pid');
  assert.equal(parseFlags(['--cc', '-c', 'a.yml']).check, true);
  assert.equal(parseFlags(['--name', 'n', 'sleep']).name, 'n');
});

test('-p and -P are different flags', () => {
  const flags = parseFlags(['-p', 'child.pid', '-P', 'parent.pid', 'sleep']);
  assert.equal(flags.childPid, 'child.pid');
  assert.equal(flags.parentPid, 'parent.pid');
});

test('-v and --help are reported, not acted on, and need no command', () => {
  assert.equal(parseFlags(['-v']).version, true);
  assert.equal(parseFlags(['--version']).version, true);
  assert.equal(parseFlags(['--help']).help, true);
  assert.equal(parseFlags(['-h']).help, true);
  assert.equal(parseFlags(['-help']).help, true);
});

test('--help lists every flag with a one-line description', () => {
  const text = helpText();
  for (const flag of ['-v', '-n', '-cc', '-c', '-ctl', '-name', '-d', '-e', '-f', '-l', '-logger', '-p', '-P', '-r', '-u', '-w']) {
    const line = text.split('\n').find((l) => l.trimStart().startsWith(`${flag},`));
    assert.ok(line, `help lists ${flag}`);
    assert.match(line, /\S\s{2,}\S/, `${flag} has a description on its line`);
  }
});

// ---- run.yml and precedence -----------------------------------------------------------------

test('a plain command line gets the defaults', () => {
  const config = load(['sleep', '60']);
  assert.deepEqual(config.command, ['sleep', '60']);
  assert.equal(config.wait, 0);
  assert.equal(config.retries, -1);
  assert.equal(config.stopTimeout, 10);
  assert.equal(config.backoffCap, 30);
  assert.equal(config.backoffReset, 60);
  assert.deepEqual(config.socket, { mode: 0o600 });
  assert.deepEqual(config.env, {});
  assert.deepEqual(config.require, []);
  assert.deepEqual(config.pid, {});
  assert.equal(config.log, undefined);
  assert.equal(config.foreground, false);
  assert.equal(config.configFile, undefined);
});

test('cmd is split on whitespace, no shell', () => {
  const config = load(['-c', writeService('cmd: "  bundle   exec\tunicorn -c \'a b\'  "\n')]);
  assert.deepEqual(config.command, ['bundle', 'exec', 'unicorn', '-c', "'a", "b'"]);
});

test('cmd takes its text as written, like yaml.v2: `cmd: yes` runs yes(1)', () => {
  assert.deepEqual(load(['-c', writeService('cmd: yes\n')]).command, ['yes']);
});

test('run.yml keys override the flags; flags fill what the file leaves out', () => {
  const dirFromFile = fs.mkdtempSync(path.join(scratch, 'cwd-'));
  const dirFromFlag = fs.mkdtempSync(path.join(scratch, 'cwd-'));
  const file = writeService(`cmd: sleep 1\ncwd: ${dirFromFile}\nwait: 2\nretries: 5\nlog:\n  file: app.log\n  size: 3\n`);
  const config = load(['-n', '-d', dirFromFlag, '-w', '9', '-r', '0', '-l', path.join(scratch, 'flag.log'),
    '-f', path.join(scratch, 'follow.pid'), '-logger', 'cat', '-c', file]);
  assert.equal(config.cwd, dirFromFile);
  assert.equal(config.wait, 2);
  assert.equal(config.retries, 5);
  assert.deepEqual(config.log, { file: path.join(path.dirname(file), 'app.log'), age: 0, num: 0, size: 3, timestamp: false });
  assert.equal(config.pid.follow, path.join(scratch, 'follow.pid'));
  assert.equal(config.logger, 'cat');
  assert.equal(config.foreground, true);
});

test('-l gives the file when the run.yml log section only sets rotation', () => {
  const file = writeService('cmd: sleep 1\nlog:\n  age: 60\n  num: 2\n');
  const config = load(['-l', path.join(scratch, 'x.log'), '-c', file]);
  assert.deepEqual(config.log, { file: path.join(scratch, 'x.log'), age: 60, num: 2, size: 0, timestamp: false });
});

test('relative paths in run.yml resolve against its directory', () => {
  const file = writeService('cmd: sleep 1\ncwd: app\nenvdir: env\npid:\n  follow: app/unicorn.pid\n  child: run/child.pid\n  parent: parent.pid\nlog:\n  file: logs/app.log\nstderr:\n  file: logs/err.log\n');
  const base = path.dirname(file);
  for (const dir of ['app', 'env', 'run', 'logs']) fs.mkdirSync(path.join(base, dir));
  const config = load(['-c', file]);
  assert.equal(config.configFile, file);
  assert.equal(config.cwd, path.join(base, 'app'));
  assert.equal(config.envDir, path.join(base, 'env'));
  assert.deepEqual(config.pid, {
    follow: path.join(base, 'app/unicorn.pid'), child: path.join(base, 'run/child.pid'), parent: path.join(base, 'parent.pid'),
  });
  assert.equal(config.log.file, path.join(base, 'logs/app.log'));
  assert.equal(config.stderr.file, path.join(base, 'logs/err.log'));
});

test('relative paths from flags resolve against the current directory', () => {
  const dir = fs.mkdtempSync(path.join(scratch, 'rel-'));
  const relative = path.relative(process.cwd(), dir);
  const config = load(['-d', relative, '-e', relative, '-p', path.join(relative, 'c.pid'), '-f', 'f.pid', 'sleep', '1']);
  assert.equal(config.cwd, dir);
  assert.equal(config.envDir, dir);
  assert.equal(config.pid.child, path.join(dir, 'c.pid'));
  assert.equal(config.pid.follow, path.resolve('f.pid'));
});

test('YAML 1.1 like the original: 0660 is octal, yes is a boolean', () => {
  const file = writeService('cmd: sleep 1\nsocket:\n  mode: 0660\n  group: ops\nlog:\n  file: a.log\n  timestamp: yes\n');
  const config = load(['-c', file]);
  assert.equal(config.socket.mode, 0o660);
  assert.equal(config.socket.group, 'ops');
  assert.equal(config.log.timestamp, true);
});

test('env values are taken as written: on stays "on", 0080 stays "0080"', () => {
  const file = writeService('cmd: sleep 1\nenv:\n  DEBUG: on\n  PORT: 0080\n  RATIO: 1.50\n  N: no\n  EMPTY:\n  TILDE: ~\n  QUOTED: "a  b"\n  1: one\n');
  assert.deepEqual(load(['-c', file]).env, {
    DEBUG: 'on', PORT: '0080', RATIO: '1.50', N: 'no', EMPTY: '', TILDE: '', QUOTED: 'a  b', 1: 'one',
  });
});

test('extensions: envdir, stop_timeout, backoff, socket, require, require_cmd, post_exit, fractional wait', () => {
  const file = writeService('cmd: sleep 1\nenvdir: /tmp\nstop_timeout: 2.5\nbackoff: {cap: 0, reset: 5}\nrequire: [db, cache]\nrequire_cmd: test -f /ready\npost_exit: /usr/local/bin/notify\nwait: 0.25\nsocket: {mode: "0640", group: 100}\n');
  const config = load(['-c', file]);
  assert.equal(config.envDir, '/tmp');
  assert.equal(config.stopTimeout, 2.5);
  assert.equal(config.backoffCap, 0);
  assert.equal(config.backoffReset, 5);
  assert.deepEqual(config.require, ['db', 'cache']);
  assert.equal(config.requireCmd, 'test -f /ready');
  assert.equal(config.postExit, '/usr/local/bin/notify');
  assert.equal(config.wait, 0.25);
  assert.deepEqual(config.socket, { mode: 0o640, group: '100' });
});

test('a key written with nothing after it counts as not set', () => {
  const config = load(['-c', writeService('cmd: sleep 1\ncwd:\nlog:\nwait:\n')]);
  assert.equal(config.cwd, undefined);
  assert.equal(config.log, undefined);
  assert.equal(config.wait, 0);
});

// ---- supervise dir ---------------------------------------------------------------------------

test('supervise dir: -ctl name goes under $IMMORTAL_SDIR, an absolute -ctl is used as is', () => {
  assert.equal(load(['-ctl', 'web', 'sleep']).superviseDir, path.join(env.IMMORTAL_SDIR, 'web'));
  assert.equal(load(['-ctl', 'web', 'sleep'], ctx, {}).superviseDir, '/var/run/immortal/web');
  assert.equal(load(['-ctl', '/srv/sv/api/', 'sleep']).superviseDir, '/srv/sv/api');
  const config = load(['-ctl', 'web', 'sleep']);
  assert.equal(config.name, 'web');
});

test('supervise dir: -name n → ~/.immortal/n, -c web.yml → ~/.immortal/web, else ~/.immortal/<pid>', () => {
  assert.equal(load(['-name', 'api', 'sleep']).superviseDir, path.join(ctx.home, '.immortal', 'api'));
  assert.equal(load(['-c', writeService('cmd: sleep 1\n', 'web.yml')]).superviseDir, path.join(ctx.home, '.immortal', 'web'));
  assert.equal(load(['-c', writeService('cmd: sleep 1\n', 'db.yaml')]).name, 'db');
  const plain = load(['sleep', '1']);
  assert.equal(plain.superviseDir, path.join(ctx.home, '.immortal', '4242'));
  assert.equal(plain.name, '4242');
});

test('-ctl and -name still apply with -c', () => {
  const file = writeService('cmd: sleep 1\n');
  assert.equal(load(['-ctl', 'other', '-c', file]).name, 'other');
  assert.equal(load(['-name', 'mine', '-c', file]).superviseDir, path.join(ctx.home, '.immortal', 'mine'));
});

// ---- users ----------------------------------------------------------------------------------

test('-u as root: the user is looked up and kept', () => {
  assert.equal(load(['-u', 'root', 'sleep']).user, 'root');
  assert.equal(load(['-c', writeService('cmd: sleep 1\nuser: 0\n')]).user, '0');
});

test('-u to another user without root is refused, naming the need for root', () => {
  const err = errorOf(() => load(['-u', 'root', 'sleep'], { ...ctx, uid: 1000 }));
  assert.ok(err instanceof ConfigError);
  assert.match(err.message, /^-u: .*needs root/);
  const fromFile = errorOf(() => load(['-c', writeService('cmd: sleep 1\nuser: root\n')], { ...ctx, uid: 1000 }));
  assert.match(fromFile.message, /web\.yml: user: .*needs root/);
});

test('-u to oneself needs no root', () => {
  assert.equal(load(['-u', 'nobody', 'sleep'], { ...ctx, uid: 65534 }).user, 'nobody');
});

// ---- -cc ------------------------------------------------------------------------------------

test('-cc prints run.yml spelling with absolute paths and defaults, and it loads back equal', () => {
  const file = writeService('cmd: bundle exec unicorn\ncwd: .\nenv: {DEBUG: on, PORT: 0080, Z: "x: y", EMPTY: ""}\npid: {follow: u.pid, child: c.pid}\nlog: {file: app.log, age: 86400, num: 7, size: 1, timestamp: true}\nstderr: {file: err.log}\nlogger: logger -t app\nuser: root\nwait: 1.5\nretries: 3\nrequire: [db]\nrequire_cmd: test -d /\npost_exit: "true"\nsocket: {mode: 0660, group: ops}\n');
  const config = load(['-c', file]);
  const yaml = configToYaml(config);
  assert.match(yaml, /^cmd: bundle exec unicorn$/m);
  assert.match(yaml, /^require_cmd: /m);
  assert.match(yaml, /^post_exit: /m);
  assert.match(yaml, /^stop_timeout: 10$/m);
  assert.match(yaml, /^ {2}mode: 0660$/m);
  assert.match(yaml, new RegExp(`^cwd: ${path.dirname(file)}$`, 'm'));
  const keys = yaml.split('\n').filter((line) => /^[a-z_]+:/.test(line)).map((line) => line.split(':')[0]);
  assert.deepEqual(keys, ['cmd', 'cwd', 'env', 'pid', 'log', 'stderr', 'logger', 'user', 'wait', 'retries', 'require',
    'require_cmd', 'post_exit', 'stop_timeout', 'backoff', 'socket']);

  const copy = writeService(yaml, 'web.yml');
  const reloaded = load(['-c', copy]);
  assert.deepEqual({ ...reloaded, configFile: undefined }, { ...config, configFile: undefined });
});

test('-cc omits unset optional keys', () => {
  const yaml = configToYaml(load(['-c', writeService('cmd: sleep 1\n')]));
  for (const key of ['cwd', 'env', 'envdir', 'pid', 'log', 'stderr', 'logger', 'user', 'require', 'require_cmd', 'post_exit']) {
    assert.doesNotMatch(yaml, new RegExp(`^${key}:`, 'm'), key);
  }
  assert.match(yaml, /^wait: 0$/m);
  assert.match(yaml, /^retries: -1$/m);
});

test('the example service files pass the check', () => {
  const exampleDir = path.join(here, '..', 'example');
  for (const name of ['run.yml', 'nginx.yml', 'web.yml']) {
    const config = load(['-cc', '-c', path.join(exampleDir, name)]);
    assert.ok(config.command.length > 0, name);
  }
  assert.deepEqual(load(['-c', path.join(exampleDir, 'run.yml')]).env, { APP_ENV: 'production', DEBUG: 'off', PORT: '0080' });
});

// ---- errors ---------------------------------------------------------------------------------

test('every file in the bad corpus is refused with one line naming the cause', async (t) => {
  const files = fs.readdirSync(badDir).filter((name) => name.endsWith('.yml')).sort();
  assert.ok(files.length >= 30, `corpus has ${files.length} files`);
  for (const name of files) {
    await t.test(name, () => {
      const file = path.join(badDir, name);
      const expected = /^# expect: (.*)$/m.exec(fs.readFileSync(file, 'utf8'))?.[1];
      assert.ok(expected, `${name} starts with # expect:`);
      const err = errorOf(() => load(['-c', file]));
      assert.ok(err instanceof ConfigError, `${name}: ${err}`);
      assert.ok(!err.message.includes('\n'), `${name}: one line`);
      assert.ok(err.message.startsWith(file), `${name}: names the file: ${err.message}`);
      assert.ok(err.message.includes(expected), `${name}: ${JSON.stringify(err.message)} contains ${JSON.stringify(expected)}`);
    });
  }
});

test('every bad flag combination is refused with one line', async (t) => {
  const cases = JSON.parse(fs.readFileSync(path.join(badDir, 'flags.json'), 'utf8'));
  assert.ok(cases.length >= 8);
  for (const { argv, expect } of cases) {
    await t.test(argv.join(' ') || '(no arguments)', () => {
      const err = errorOf(() => load(argv));
      assert.ok(err instanceof ConfigError, String(err));
      assert.ok(!err.message.includes('\n'));
      assert.ok(err.message.includes(expect), `${JSON.stringify(err.message)} contains ${JSON.stringify(expect)}`);
    });
  }
});

test('an unknown key close to a known one gets a suggestion', () => {
  const err = errorOf(() => load(['-c', writeService('cmd: sleep 1\nretires: 3\n')]));
  assert.match(err.message, /unknown key "retires" \(did you mean "retries"\?\)/);
});

// Root may write anywhere, so as root the same load runs as nobody (setpriv, util-linux).
test('a directory that is not writable for the log is refused', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-ro-'));
  try {
    fs.chmodSync(base, 0o755);
    const dir = path.join(base, 'ro');
    fs.mkdirSync(dir, { mode: 0o555 });
    const argv = ['-l', path.join(dir, 'app.log'), 'sleep'];
    if (process.getuid() !== 0) {
      assert.match(errorOf(() => load(argv)).message, /-l: .*not writable/);
      return;
    }
    // nobody must read our code: a checkout under root's 0700 home is not readable to it.
    const root = publicPackageRoot();
    const script = `const { loadConfig } = require(${JSON.stringify(path.join(root, 'dist/config/config.js'))});
      const { parseFlags, configInputOf } = require(${JSON.stringify(path.join(root, 'dist/cli/flags.js'))});
      try { loadConfig(configInputOf(parseFlags(${JSON.stringify(argv)})), {}, { pid: 1, home: '/nonexistent', uid: 65534 }); console.log('accepted'); }
      catch (err) { console.log(err.message); }`;
    const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    assert.match(out, /-l: .*not writable/);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('ConfigError is an Error with a plain one-line message', () => {
  const err = new ConfigError('a\nb');
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'ConfigError');
  assert.equal(err.message, 'a b');
});
