// The published package installs without a compiler: `npm pack` a copy of the repo (its
// `prepack` builds the linux-x64 and linux-arm64 prebuilds), then `npm install` the tarball
// into an empty project with a PATH of only node, npm and sh — no cc, c++, make, python3 —
// and check that nothing was compiled, the prebuild is what loads, and the three programs
// supervise a real command from there. The arm64 prebuild is checked by its ELF header
// and dynamic symbols (no arm64 machine here); see docs/release.md.
//
// Packs a copy (node_modules linked), never the checkout: `prepack` writes prebuilds/ and
// `prepare` rewrites dist/, which the suites running beside this one are loading.
//
// Needs aarch64-linux-gnu-g++ (Debian's g++-aarch64-linux-gnu) and the npm registry or
// cache for the four runtime dependencies; the arm64 load also needs qemu-aarch64 and an
// arm64 node root (scripts/arm64-node-root). .ci/run sets all three up. About 2 minutes on
// a loaded machine; set IMMORTAL_SKIP_PACK_TEST=1 to skip it in a quick local loop.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sandbox, waitFor } from './cli-helpers.mjs';
import { EM_AARCH64, EM_X86_64, readElf } from '../scripts/elf.mjs';
import { OLDEST_GLIBC, checkPrebuilds, prebuildPath } from '../scripts/check-prebuilds.mjs';

const run = promisify(execFile);
const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const hostArch = { x64: 'x64', arm64: 'arm64' }[os.arch()];
const crossCompiler = hostArch === 'arm64' ? 'x86_64-linux-gnu-g++' : 'aarch64-linux-gnu-g++';

/** The absolute path of a program on our PATH, or null. */
function which(program) {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function skipReason() {
  if (process.env.IMMORTAL_SKIP_PACK_TEST === '1') return 'IMMORTAL_SKIP_PACK_TEST=1';
  if (process.platform !== 'linux' || !hostArch) return `prebuilds are built on linux x64/arm64, not ${process.platform} ${os.arch()}`;
  if (!which(crossCompiler)) {
    return `${crossCompiler} missing (apt-get install g++-${crossCompiler.replace(/-g\+\+$/, '').replaceAll('_', '-')}; .ci/run does): npm pack cannot build both prebuilds`;
  }
  return false;
}
const skip = skipReason();

// Debian's arm64 node, unpacked by scripts/arm64-node-root (.ci/run does), run by qemu-user.
const arm64Root = process.env.IMMORTAL_ARM64_ROOT || '/var/cache/immortal-test/arm64-root';
function arm64SkipReason() {
  if (hostArch !== 'x64') return 'the arm64 prebuild runs natively on an arm64 host';
  if (!which('qemu-aarch64')) return 'qemu-aarch64 missing (apt-get install qemu-user; .ci/run does)';
  if (!fs.existsSync(path.join(arm64Root, 'usr', 'bin', 'node'))) {
    return `no arm64 node under ${arm64Root} (sh scripts/arm64-node-root ${arm64Root}; .ci/run does)`;
  }
  return false;
}

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

/** A copy of the checkout to pack: sources only (no build/, dist/, prebuilds/), node_modules linked. */
function copyCheckout(dest) {
  const leaveOut = new Set(['.git', 'node_modules', 'build', 'dist', 'prebuilds', path.join('bench', 'out')]);
  fs.cpSync(repoRoot, dest, {
    recursive: true,
    filter: (source) => {
      const relative = path.relative(repoRoot, source);
      return !leaveOut.has(relative) && !(relative.endsWith('.tgz') && !relative.includes(path.sep));
    },
  });
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dest, 'node_modules'));
}

/** A bin dir holding only node, npm and sh: the PATH of a host with no build tools. */
function bareBin(dir) {
  fs.mkdirSync(dir);
  for (const program of ['node', 'npm', 'sh']) {
    const found = which(program);
    assert.ok(found, `${program} not on PATH`);
    fs.symlinkSync(fs.realpathSync(found), path.join(dir, program));
  }
  return dir;
}

test('npm pack builds both prebuilds; the tarball installs and runs with no compiler on PATH', { skip, timeout: 900_000 }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-pack-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const checkout = path.join(work, 'checkout');
  copyCheckout(checkout);
  let tarball;

  await t.test('npm pack runs scripts/prebuild: the tarball holds both prebuilds, and no sources or tests', async () => {
    // One compiler job (scripts/prebuild defaults to 2): the other suites share the CPUs.
    const { stdout } = await sh('npm', ['pack', '--json', '--pack-destination', work], { cwd: checkout, env: cleanEnv({ JOBS: '1' }) });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('[\n')));
    tarball = path.join(work, packed.filename);
    assert.ok(fs.existsSync(tarball), `${packed.filename} not written`);
    const files = packed.files.map((entry) => entry.path);
    for (const required of [
      'package.json',
      'binding.gyp',
      'dist/cli/immortal.js',
      'dist/cli/immortalctl.js',
      'dist/cli/immortaldir.js',
      'dist/native.js',
      'native/addon.cc',
      'prebuilds/linux-x64/immortal-supervisor.glibc.node',
      'prebuilds/linux-arm64/immortal-supervisor.glibc.node',
    ]) {
      assert.ok(files.includes(required), `${required} missing from the tarball`);
    }
    // What building from source needs (macOS, FreeBSD, musl), and what package.json installs.
    const gyp = JSON.parse(fs.readFileSync(path.join(repoRoot, 'binding.gyp'), 'utf8'));
    for (const source of gyp.targets.flatMap((target) => target.sources)) {
      assert.ok(files.includes(source), `binding.gyp source ${source} missing from the tarball`);
    }
    for (const page of manifest.man) assert.ok(files.includes(page), `man page ${page} missing`);
    for (const bin of Object.values(manifest.bin)) assert.ok(files.includes(bin), `bin ${bin} missing`);
    const stray = files.filter((file) => /^(src|test|bench|build|node_modules|scripts)\//.test(file) || file.endsWith('.ts'));
    assert.deepEqual(stray, [], 'sources, tests or build output leaked into the tarball');
    assert.ok(!fs.existsSync(path.join(checkout, 'prebuilds')), 'postpack left prebuilds/ in the checkout');
  });

  const bin = bareBin(path.join(work, 'bin'));
  const bare = cleanEnv({ PATH: bin });
  const project = path.join(work, 'project');
  const installed = path.join(project, 'node_modules', manifest.name);
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'empty-project', version: '1.0.0', private: true }));

  await t.test('with PATH=node,npm,sh only, npm install <tgz> compiles nothing and loads the prebuild', async () => {
    assert.ok(tarball, 'no tarball packed');
    const { stdout: tools } = await sh('sh', ['-c', 'for p in cc c++ gcc g++ make python3; do command -v $p; done; true'], { env: bare });
    assert.equal(tools, '', 'build tools reachable on the bare PATH');
    // --foreground-scripts prints each lifecycle banner: the install script must have run
    // (npm 12 skips dependency scripts unless allowed), and found the prebuild.
    const install = await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball], {
      cwd: project,
      env: bare,
    });
    assert.match(`${install.stdout}${install.stderr}`, /^> node-gyp-build$/m, 'the install script did not run');
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'build/ exists: the install compiled the addon');
    const { stdout } = await sh('node', ['-p', `require('node-gyp-build').resolve(${JSON.stringify(installed)})`], { cwd: project, env: bare });
    assert.equal(stdout.trim(), prebuildPath(installed, hostArch));
  });

  await t.test('both prebuilds: the right ELF machine, N-API entry point exported, glibc within the README', () => {
    const machines = { x64: EM_X86_64, arm64: EM_AARCH64 };
    for (const arch of ['x64', 'arm64']) {
      const elf = readElf(prebuildPath(installed, arch));
      assert.equal(elf.machine, machines[arch], `linux-${arch} prebuild is ${elf.machineName}`);
      assert.ok(elf.shared, `linux-${arch} prebuild is not a shared object`);
      assert.ok(elf.exports.includes('napi_register_module_v1'), `linux-${arch} prebuild exports no napi_register_module_v1`);
    }
    const problems = checkPrebuilds(installed).flatMap((row) => row.problems);
    assert.deepEqual(problems, [], `scripts/check-prebuilds.mjs (glibc ≤ ${OLDEST_GLIBC})`);
  });

  await t.test('the linux-arm64 prebuild loads in an arm64 node (qemu-user) and supervises a command', { skip: arm64SkipReason() }, async (t) => {
    const box = sandbox(t);
    const env = { ...box.env, PATH: bin };
    for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key];
    const qemu = which('qemu-aarch64');
    const arm64Node = ['-L', arm64Root, path.join(arm64Root, 'usr', 'bin', 'node')];
    const probe = `const file = require('node-gyp-build').resolve(${JSON.stringify(installed)});
      console.log(process.arch, file, typeof require(file).spawn)`;
    const { stdout } = await sh(qemu, [...arm64Node, '-e', probe], { cwd: project, env, timeout: 180_000 });
    assert.equal(stdout.trim(), `arm64 ${prebuildPath(installed, 'arm64')} function`);
    // The service is the host's sh: qemu-user without binfmt_misc hands an exec to the kernel.
    const immortal = path.join(installed, manifest.bin.immortal);
    const once = await sh(qemu, [...arm64Node, immortal, '-n', '-r', '0', '-ctl', 'arm64', 'sh', '-c', 'echo hello from arm64'], {
      env,
      timeout: 180_000,
    });
    assert.match(once.stdout, /hello from arm64/);
    assert.match(once.stderr, /exited with 0/);
  });

  for (const program of Object.keys(manifest.bin)) {
    await t.test(`${program} -v prints ${manifest.version}`, async () => {
      const { stdout } = await sh(path.join(project, 'node_modules', '.bin', program), ['-v'], { env: bare });
      assert.equal(stdout.trim(), manifest.version);
    });
  }

  await t.test('the installed immortal supervises a command: -n to its exit, then start, immortalctl status, halt', async (t) => {
    const box = sandbox(t);
    const env = { ...box.env, PATH: bin };
    for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key];
    const programs = path.join(project, 'node_modules', '.bin');

    const once = await sh(path.join(programs, 'immortal'), ['-n', '-r', '0', '-ctl', 'once', 'sh', '-c', 'echo hello from the packed immortal'], {
      env,
      timeout: 60_000,
    });
    assert.match(once.stdout, /hello from the packed immortal/);
    assert.match(once.stderr, /exited with 0/);

    // Detached: exits 0 once the service runs; immortalctl finds it under IMMORTAL_SDIR.
    await sh(path.join(programs, 'immortal'), ['-ctl', 'packed', 'node', '-e', 'setInterval(() => {}, 1 << 30)'], { env, timeout: 60_000 });
    const socket = path.join(box.sdir, 'packed', 'immortal.sock');
    const { stdout: listing } = await sh(path.join(programs, 'immortalctl'), [], { env });
    assert.match(listing, /^\s*\d+\s+\S+\s+packed\s+node -e/m);
    await sh(path.join(programs, 'immortalctl'), ['halt', 'packed'], { env });
    await waitFor(() => !fs.existsSync(socket) && box.processes().length === 0, {
      timeout: 30_000,
      message: 'the halted supervisor and its service to be gone',
    });
  });
});
