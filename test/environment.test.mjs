// The child's environment: supervisor env < -u user < envdir < run.yml env, envdir as daemontools.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import environmentModule from '../dist/process/environment.js';
import configModule from '../dist/config/config.js';

const { buildEnvironment, readEnvDir } = environmentModule;
const { ConfigError } = configModule;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-env-'));
test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** An envdir holding the given files (name → content, string or Buffer). */
function envDir(files) {
  const dir = fs.mkdtempSync(path.join(scratch, 'envdir-'));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

function asMap(entries) {
  return Object.fromEntries(entries.map((entry) => {
    const at = entry.indexOf('=');
    return [entry.slice(0, at), entry.slice(at + 1)];
  }));
}

function configWith(fields) {
  return { env: {}, ...fields };
}

test('the supervisor environment is passed through as KEY=VALUE', () => {
  const env = buildEnvironment(configWith({}), { PATH: '/bin', EQ: 'a=b', UNSET: undefined });
  assert.deepEqual(env, ['PATH=/bin', 'EQ=a=b']);
});

test('later layers win: supervisor < -u user < envdir < run.yml env', () => {
  const dir = envDir({ HOME: '/from/envdir', LAYER: 'envdir', ONLY_DIR: 'd\n' });
  const config = configWith({ envDir: dir, env: { LAYER: 'run.yml', ONLY_YML: 'y' } });
  const env = asMap(buildEnvironment(config, { HOME: '/root', USER: 'root', LAYER: 'base', KEEP: 'k' },
    { name: 'www', home: '/home/www', shell: '/bin/sh' }));
  assert.deepEqual(env, {
    HOME: '/from/envdir', USER: 'www', LOGNAME: 'www', SHELL: '/bin/sh', LAYER: 'run.yml', KEEP: 'k', ONLY_DIR: 'd', ONLY_YML: 'y',
  });
});

test('the -u user sets HOME, USER and LOGNAME; SHELL only when known', () => {
  const env = asMap(buildEnvironment(configWith({}), { SHELL: '/bin/zsh' }, { name: 'www', home: '/var/www' }));
  assert.deepEqual(env, { SHELL: '/bin/zsh', HOME: '/var/www', USER: 'www', LOGNAME: 'www' });
});

test('envdir: only the first line counts, trailing spaces and tabs removed, leading kept', () => {
  const dir = envDir({ MULTI: 'first\nsecond\n', TRAIL: 'value \t \t\n', LEAD: '  lead', NONEWLINE: 'x' });
  assert.deepEqual(Object.fromEntries(readEnvDir(dir)), { LEAD: '  lead', MULTI: 'first', NONEWLINE: 'x', TRAIL: 'value' });
});

test('envdir: NUL bytes become newlines', () => {
  const dir = envDir({ NUL: Buffer.from('line1\0line2\nignored') });
  assert.equal(readEnvDir(dir).get('NUL'), 'line1\nline2');
});

test('envdir: an empty file removes the variable; a file holding only a newline sets it empty', () => {
  const dir = envDir({ DROP: '', BLANK: '\n' });
  const env = asMap(buildEnvironment(configWith({ envDir: dir }), { DROP: 'was set', BLANK: 'was set' }));
  assert.deepEqual(env, { BLANK: '' });
});

test('envdir: dotfiles, names with "=", and directories are skipped', () => {
  const dir = envDir({ '.hidden': 'h', 'A=B': 'x', GOOD: 'g' });
  fs.mkdirSync(path.join(dir, 'SUBDIR'));
  assert.deepEqual(Object.fromEntries(readEnvDir(dir)), { GOOD: 'g' });
});

test('envdir: a symlink to a file counts like the file', () => {
  const dir = envDir({ REAL: 'r' });
  fs.symlinkSync(path.join(dir, 'REAL'), path.join(dir, 'LINK'));
  assert.equal(readEnvDir(dir).get('LINK'), 'r');
});

test('envdir is read again on each build, so edits apply on the next start', () => {
  const dir = envDir({ VERSION: '1' });
  const config = configWith({ envDir: dir });
  assert.equal(asMap(buildEnvironment(config, {})).VERSION, '1');
  fs.writeFileSync(path.join(dir, 'VERSION'), '2\n');
  assert.equal(asMap(buildEnvironment(config, {})).VERSION, '2');
});

test('an unreadable envdir is a ConfigError naming the dir', () => {
  const missing = path.join(scratch, 'no-such-envdir');
  assert.throws(() => buildEnvironment(configWith({ envDir: missing }), {}), (err) => {
    assert.ok(err instanceof ConfigError);
    assert.ok(err.message.includes(missing), err.message);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
});
