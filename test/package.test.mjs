// The published package works: `npm pack` the repo, `npm install` the tarball into an empty
// project (which compiles the addon with node-gyp, as a user's machine would without a
// prebuild), then run the three programs through npx and supervise one real command.
//
// Slow (the addon compiles: ~30 s to 2 min) and needs the npm registry for the four runtime
// dependencies (the npm cache is used first). CI runs it; set IMMORTAL_SKIP_PACK_TEST=1 to
// skip it in a quick local loop.
//
// The tarball is packed with --ignore-scripts: `npm test` has just compiled dist/ (pretest),
// and a second tsc from `prepare` would rewrite dist/ under the suites running beside this one.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const skip = process.env.IMMORTAL_SKIP_PACK_TEST === '1' ? 'IMMORTAL_SKIP_PACK_TEST=1' : false;

/** The environment of a user's shell: none of the npm_* variables of the `npm test` around us. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  }
  return { ...env, NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false', ...extra };
}

async function sh(file, args, opts) {
  try {
    return await run(file, args, { maxBuffer: 32 * 1024 * 1024, env: cleanEnv(), ...opts });
  } catch (err) {
    err.message += `\n--- stdout ---\n${err.stdout ?? ''}\n--- stderr ---\n${err.stderr ?? ''}`;
    throw err;
  }
}

test('npm pack → npm install <tgz> in an empty project → npx immortal works', { skip, timeout: 600_000 }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-pack-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));

  await t.test('the tarball holds what an install needs, and no sources or tests', async () => {
    const { stdout } = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repoRoot });
    const [packed] = JSON.parse(stdout);
    const files = packed.files.map((entry) => entry.path);
    for (const required of [
      'package.json',
      'binding.gyp',
      'dist/cli/immortal.js',
      'dist/cli/immortalctl.js',
      'dist/cli/immortaldir.js',
      'dist/native.js',
      'native/addon.cc',
      'native/spawn.cc',
      'native/watch_linux.cc',
      'man/immortal.8',
      'man/immortalctl.8',
      'man/immortaldir.8',
    ]) {
      assert.ok(files.includes(required), `${required} missing from the tarball`);
    }
    // Every source binding.gyp compiles, and every man page package.json installs.
    const gyp = JSON.parse(fs.readFileSync(path.join(repoRoot, 'binding.gyp'), 'utf8'));
    for (const source of gyp.targets.flatMap((target) => target.sources)) {
      assert.ok(files.includes(source), `binding.gyp source ${source} missing from the tarball`);
    }
    for (const page of manifest.man) assert.ok(files.includes(page), `man page ${page} missing`);
    for (const bin of Object.values(manifest.bin)) assert.ok(files.includes(bin), `bin ${bin} missing`);
    // prebuilds/ ship when scripts/prebuild made them.
    if (fs.existsSync(path.join(repoRoot, 'prebuilds'))) {
      assert.ok(files.some((file) => file.startsWith('prebuilds/')), 'prebuilds/ exists but is not packed');
    }
    const stray = files.filter((file) => /^(src|test|bench|build|node_modules|scripts)\//.test(file) || file.endsWith('.ts'));
    assert.deepEqual(stray, [], 'sources, tests or build output leaked into the tarball');
    assert.ok(fs.existsSync(path.join(work, packed.filename)));
  });

  const project = path.join(work, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'empty-project', version: '1.0.0', private: true }));

  await t.test('npm install ./<tgz> builds the addon from source', async () => {
    const tarball = fs.readdirSync(work).find((file) => file.endsWith('.tgz'));
    assert.ok(tarball, 'no tarball packed');
    await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, tarball)], { cwd: project });
    const installed = path.join(project, 'node_modules', manifest.name);
    const addonBuilt = fs.existsSync(path.join(installed, 'build', 'Release', 'immortal.node'));
    const prebuilt = fs.existsSync(path.join(installed, 'prebuilds'));
    assert.ok(addonBuilt || prebuilt, 'neither build/Release/immortal.node nor prebuilds/ after install');
  });

  for (const program of Object.keys(manifest.bin)) {
    await t.test(`npx ${program} -v prints ${manifest.version}`, async () => {
      const { stdout } = await sh('npx', [program, '-v'], { cwd: project });
      assert.equal(stdout.trim(), manifest.version);
    });
  }

  await t.test('npx immortal supervises a real command (the addon loads and spawns)', async () => {
    const superviseDir = path.join(work, 'sv');
    const { stdout, stderr } = await sh(
      'npx',
      ['immortal', '-n', '-r', '0', '-ctl', superviseDir, 'echo', 'hello from the packed immortal'],
      { cwd: project, env: cleanEnv({ HOME: work }), timeout: 30_000 },
    );
    assert.match(stdout, /hello from the packed immortal/);
    assert.match(stderr, /exited with 0/);
    assert.ok(!fs.existsSync(path.join(superviseDir, 'immortal.sock')), 'socket left behind after a clean exit');
  });

  await t.test('npx immortal --help lists every flag', async () => {
    const { stdout } = await sh('npx', ['immortal', '--help'], { cwd: project });
    for (const flag of ['-v', '-n', '-cc', '-c', '-ctl', '-name', '-d', '-e', '-f', '-l', '-logger', '-p', '-P', '-r', '-u', '-w']) {
      assert.match(stdout, new RegExp(`^\\s+${flag}[, ]`, 'm'), `${flag} missing from --help`);
    }
  });
});
