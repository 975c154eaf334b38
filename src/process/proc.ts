// What /proc says about a pid, for telling a process apart from a recycled pid.
// Linux only; elsewhere every function answers "unknown" (undefined) and callers fall back
// to the checks they can still make.

import { readFileSync } from 'node:fs';

/** Fields of /proc/<pid>/stat after the command name (which may itself hold spaces and ')'). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const clockTicksPerSecond = 100; // USER_HZ: fixed at 100 on every Linux ABI for /proc

/**
 * Boot time from now − /proc/uptime (10 ms resolution). /proc/stat's btime is whole
 * seconds, which would make a start time up to 1 s early — enough to pass a recycled pid
 * off as the one that wrote a pidfile.
 */
function bootTime(): number | undefined {
  try {
    return Date.now() - Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * 1000;
  } catch {
    return undefined;
  }
}

/** Wall-clock start time of pid in ms (10 ms resolution), or undefined when unknown. */
export function processStartTime(pid: number): number | undefined {
  const fields = statFields(pid);
  const boot = bootTime();
  if (!fields || boot === undefined) return undefined;
  // Field 22 of stat (starttime) is index 19 once pid, comm and state are dropped.
  return boot + (Number(fields[19]) * 1000) / clockTicksPerSecond;
}

/** Process group of pid, or undefined when unknown. */
export function processGroup(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[2]) : undefined;
}

/** Parent pid of pid, or undefined when unknown. */
export function processParent(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[1]) : undefined;
}

/**
 * Whether pid descends from ancestor, following parent links; undefined when /proc cannot
 * tell (no /proc, or pid itself is gone). A link that vanishes mid-walk answers false.
 */
export function descendsFrom(pid: number, ancestor: number): boolean | undefined {
  let parent = processParent(pid);
  if (parent === undefined) return undefined;
  // pid_max bounds the depth; 4096 hops is far beyond any real process tree.
  for (let hops = 0; hops < 4096; hops++) {
    if (parent === ancestor) return true;
    if (parent === undefined || parent <= 1) return false;
    parent = processParent(parent);
  }
  return false;
}

/** 'Z' for a zombie etc., or undefined when the pid is gone or /proc is absent. */
export function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/** argv of pid from /proc/<pid>/cmdline, or undefined when unknown. */
export function processArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.length === 0 ? undefined : raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}
