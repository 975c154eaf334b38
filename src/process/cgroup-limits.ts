// run.yml `cgroup:` written to the service's cgroup2 directory (docs/limits.md):
//
//   memory_max → memory.max   pids_max → pids.max   cpu_max → cpu.max ("150000 100000" for 1.5)
//
// A limit is a promise to the operator, so it is applied or the start is refused with one line
// naming the key and the reason — never silently ignored. For `<tree>/<service>/memory.max`
// to exist, the memory controller must be enabled in `<tree>/cgroup.subtree_control`, which is
// only possible when the tree's parent passes it down (it is then listed in
// `<tree>/cgroup.controllers`). `<tree>` (`<own cgroup>/immortal`) holds no process, so we may
// enable it there ourselves; the parent's side belongs to whoever owns that cgroup (systemd's
// Delegate=, a container runtime), and on hybrid hosts whose memory/cpu/pids controllers are
// mounted as cgroup v1 it can never be done.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CgroupLimits, Config } from '../config/config';
import { ConfigError } from '../config/errors';
import { cgroupOf, findCgroup2Mount } from './cgroup';

/** cpu.max's period: the kernel's default, 100 ms. */
const cpuPeriodUs = 100_000;

interface LimitFile {
  key: string;
  controller: 'memory' | 'pids' | 'cpu';
  file: string;
  content: string;
}

/** The files to write, in key order; empty when `cgroup:` sets nothing. */
export function cgroupLimitFiles(limits: CgroupLimits): LimitFile[] {
  const files: LimitFile[] = [];
  if (limits.memoryMax !== undefined) files.push({ key: 'cgroup.memory_max', controller: 'memory', file: 'memory.max', content: `${limits.memoryMax}` });
  if (limits.pidsMax !== undefined) files.push({ key: 'cgroup.pids_max', controller: 'pids', file: 'pids.max', content: `${limits.pidsMax}` });
  if (limits.cpuMax !== undefined) {
    files.push({ key: 'cgroup.cpu_max', controller: 'cpu', file: 'cpu.max', content: `${Math.round(limits.cpuMax * cpuPeriodUs)} ${cpuPeriodUs}` });
  }
  return files;
}

/**
 * Writes the limits into serviceDir (a directory of `treeDir`), enabling each controller in
 * treeDir first. `serviceDir` undefined: the service has no cgroup (tracked mode) and any
 * limit is refused. Throws a ConfigError naming the first key that cannot be applied.
 */
export function applyCgroupLimits(config: Config, serviceDir: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  const files = cgroupLimitFiles(config.cgroup);
  if (files.length === 0) return;
  const label = (key: string) => `${config.configFile ?? config.name}: ${key}`;
  if (serviceDir === undefined) throw new ConfigError(`${label(files[0].key)}: the service has no cgroup: ${noCgroupReason(env)}`);
  const treeDir = path.dirname(serviceDir);
  for (const limit of files) {
    const problem = enableController(treeDir, limit.controller) ?? writeLimit(serviceDir, limit);
    if (problem) throw new ConfigError(`${label(limit.key)}: ${problem}`);
  }
}

/** Enables controller for the tree's children; the problem, or undefined once enabled. */
function enableController(treeDir: string, controller: string): string | undefined {
  const enabled = readWords(path.join(treeDir, 'cgroup.subtree_control'));
  if (enabled?.includes(controller)) return undefined;
  const available = readWords(path.join(treeDir, 'cgroup.controllers'));
  if (!available?.includes(controller)) {
    return `the ${controller} controller is not available in ${treeDir} (cgroup.controllers: ${available?.join(' ') || 'none'})`;
  }
  try {
    writeFileSync(path.join(treeDir, 'cgroup.subtree_control'), `+${controller}`);
    return undefined;
  } catch (err) {
    return `cannot enable the ${controller} controller in ${treeDir}/cgroup.subtree_control: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

function writeLimit(serviceDir: string, limit: LimitFile): string | undefined {
  const file = path.join(serviceDir, limit.file);
  try {
    writeFileSync(file, limit.content);
    return undefined;
  } catch (err) {
    return `cannot write ${JSON.stringify(limit.content)} to ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

/** Why members.ts tracks processes instead of using a cgroup (the checks of serviceCgroupTree, in its order). */
export function noCgroupReason(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform !== 'linux') return `cgroups are Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root';
  if (env.IMMORTAL_CGROUP === 'off') return 'IMMORTAL_CGROUP=off';
  const mount = findCgroup2Mount();
  if (mount === undefined) return 'no cgroup2 hierarchy is mounted';
  const own = cgroupOf('self');
  if (own === undefined) return 'this process has no cgroup2 path in /proc/self/cgroup';
  return `${path.join(mount, own, 'immortal')} is not writable`;
}

function readWords(file: string): string[] | undefined {
  try {
    return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
}
