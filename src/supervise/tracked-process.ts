// The process a service is right now (states.ts `Tracked`): watching a pid that is not our
// child, finding the one an earlier supervisor left running, and the pidfiles naming it.

import path from 'node:path';
import type { Config } from '../config/config';
import { alive, watchExit, type ExitWatch } from '../native';
import { readPidfile, removePidfileIfOurs, writePidfileAtomically } from '../process/pidfile';
import { descendsFrom } from '../process/proc';
import { forgetChild } from '../process/reaper';
import { adoptablePid, followablePid } from './follow';
import type { Tracked } from './states';

/**
 * Watches a pid that is not our child. Undefined when it vanished, or (followed) the
 * pidfile moved on. Armed first, checked second: a pid recycled between our read and the
 * watch is caught here.
 */
export function watchTracked(pid: number, kind: 'followed' | 'adopted', config: Config, onExit: (pid: number) => void): Tracked | undefined {
  let watch: ExitWatch;
  try {
    watch = watchExit(pid, () => onExit(pid));
  } catch {
    return undefined;
  }
  const stillNamed = kind === 'adopted' || readPidfile(config.pid.follow!) === pid;
  if (!stillNamed || !alive(pid)) {
    watch.close();
    return undefined;
  }
  return { pid, kind, watch, ours: descendsFrom(pid, process.pid) === true };
}

/**
 * After a supervisor was killed (-9) and started again: the pid the follow pidfile names, or
 * the child the last supervisor started, instead of starting a duplicate.
 */
export function findLeftRunning(config: Config, onExit: (pid: number) => void): Tracked | undefined {
  if (config.pid.follow !== undefined) {
    const pid = followablePid(config.pid.follow, { exclude: [process.pid] });
    const followed = pid === undefined ? undefined : watchTracked(pid, 'followed', config, onExit);
    if (followed) return followed;
  }
  const pid = adoptablePid(childPidfile(config), config.command);
  return pid === undefined ? undefined : watchTracked(pid, 'adopted', config, onExit);
}

/** child.pid in the supervise dir names a live service and nothing else: re-adoption trusts it. */
export function childPidfile(config: Config): string {
  return path.join(config.superviseDir, 'child.pid');
}

export function writeChildPidfiles(config: Config, pid: number, log: (line: string) => void): void {
  const files = [childPidfile(config)];
  if (config.pid.child) files.push(config.pid.child);
  for (const file of files) {
    try {
      writePidfileAtomically(file, pid);
    } catch (err) {
      log(`cannot write ${file}: ${(err as Error).message}`);
    }
  }
}

/** The process exited: stop watching it; child.pid no longer names it. */
export function trackedExited(proc: Tracked, config: Config): void {
  proc.watch?.close();
  if (proc.kind !== 'followed') removePidfileIfOurs(childPidfile(config), proc.pid);
}

/** Left running on purpose (exit): no watch, and its exit is no longer ours to handle. */
export function letGo(proc: Tracked): void {
  proc.watch?.close();
  forgetChild(proc.pid);
}
