// Checks the prebuilds a release ships, in a package directory or a packed tarball:
//
//     node scripts/check-prebuilds.mjs immortal-supervisor-0.2.0.tgz [x64 arm64]
//
// For each arch: prebuilds/linux-<arch>/immortal-supervisor.glibc.node is there, is a
// shared object for that machine, exports napi_register_module_v1 (what Node's dlopen
// looks for), and needs no glibc newer than the README promises. Prints one line per
// arch; any failure is one line naming the file and the cause, and exit 1.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EM_AARCH64, EM_X86_64, compareVersions, newestVersion, readElf } from './elf.mjs';

/** The oldest glibc the prebuilds load on (README, "Prebuilt addon"). */
export const OLDEST_GLIBC = '2.32';
export const PREBUILD_ARCHES = ['x64', 'arm64'];
const machineOf = { x64: EM_X86_64, arm64: EM_AARCH64 };

export function prebuildPath(packageDir, arch) {
  return path.join(packageDir, 'prebuilds', `linux-${arch}`, 'immortal-supervisor.glibc.node');
}

/** One row per arch: { arch, file, bytes, machine, glibc, glibcxx, problems: string[] }. */
export function checkPrebuilds(packageDir, arches = PREBUILD_ARCHES) {
  return arches.map((arch) => {
    const file = prebuildPath(packageDir, arch);
    const row = { arch, file, bytes: 0, machine: '', glibc: '', glibcxx: '', problems: [] };
    if (!fs.existsSync(file)) {
      row.problems.push(`${file}: missing`);
      return row;
    }
    row.bytes = fs.statSync(file).size;
    let elf;
    try {
      elf = readElf(file);
    } catch (err) {
      row.problems.push(err.message);
      return row;
    }
    row.machine = elf.machineName;
    row.glibc = newestVersion(elf.versions, 'GLIBC') ?? '';
    row.glibcxx = newestVersion(elf.versions, 'GLIBCXX') ?? '';
    if (elf.machine !== machineOf[arch]) row.problems.push(`${file}: built for ${elf.machineName}, not ${arch}`);
    if (!elf.shared) row.problems.push(`${file}: not a shared object`);
    if (!elf.exports.includes('napi_register_module_v1')) {
      row.problems.push(`${file}: does not export napi_register_module_v1 (not an N-API addon)`);
    }
    if (row.glibc && compareVersions(row.glibc, OLDEST_GLIBC) > 0) {
      row.problems.push(`${file}: needs GLIBC_${row.glibc}, newer than the ${OLDEST_GLIBC} the README promises`);
    }
    return row;
  });
}

/** A .tgz is unpacked to a temp dir (npm's tarballs hold everything under package/). */
function packageDirOf(target) {
  if (!target.endsWith('.tgz')) return { dir: target, cleanup() {} };
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-check-'));
  execFileSync('tar', ['-xzf', target, '-C', temp]);
  return { dir: path.join(temp, 'package'), cleanup: () => fs.rmSync(temp, { recursive: true, force: true }) };
}

function main(argv) {
  const [target, ...arches] = argv;
  if (!target) {
    console.error('usage: node scripts/check-prebuilds.mjs <package dir | tarball.tgz> [x64] [arm64]');
    return 2;
  }
  if (!fs.existsSync(target)) {
    console.error(`check-prebuilds: ${target}: no such file or directory`);
    return 1;
  }
  const unknown = arches.filter((arch) => !(arch in machineOf));
  if (unknown.length > 0) {
    console.error(`check-prebuilds: unknown arch ${unknown.join(', ')} (x64, arm64)`);
    return 1;
  }
  const { dir, cleanup } = packageDirOf(target);
  try {
    const rows = checkPrebuilds(dir, arches.length > 0 ? arches : PREBUILD_ARCHES);
    for (const row of rows) {
      if (row.problems.length > 0) continue;
      console.log(
        `linux-${row.arch}: ${row.machine}, ${row.bytes} bytes, exports napi_register_module_v1, ` +
          `needs GLIBC_${row.glibc || '-'} GLIBCXX_${row.glibcxx || '-'}`,
      );
    }
    const problems = rows.flatMap((row) => row.problems);
    for (const problem of problems) console.error(`check-prebuilds: ${problem}`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
