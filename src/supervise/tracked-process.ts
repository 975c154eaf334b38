// The process a service is right now (states.ts `Tracked`): watching a pid that is not our
// child, finding the one an earlier supervisor left running, and the pidfiles naming it.

import path from 'node:path';
import type { Config } from '../config/config';
import { alive, watchExit, type ExitStatus, type ExitWatch } from '../native';
import type { ServiceMembers } from '../process/members';
import { readPidfile, removePidfileIfOurs, writePidfileAtomically } from '../process/pidfile';
import { descendsFrom, processArgv, processParent, processStartTime } from '../process/proc';
import { forgetChild, onChildExit, reapExited } from '../process/reaper';
import { adoptablePid, followablePid } from './follow';
import type { Tracked } from './states';

/** An exit: with the status when we reaped it (our child, or a descendant re-parented to us). */
export type OnTrackedExit = (pid: number, status: ExitStatus | undefined) => void;

/**
 * Watches a pid that is not our child. Undefined when it vanished, or (followed) the
 * pidfile moved on. Armed first, checked second: a pid recycled between our read and the
 * watch is caught here.
 */
export function watchTracked(pid: number, kind: 'followed' | 'adopted', config: Config, onExit: OnTrackedExit): Tracked | undefined {
  let watch: ExitWatch;
  let ours = false;
  try {
    // A descendant re-parented to us (a daemon whose parent exited) is reaped by us, so its
    // exit carries the real status: while it is still our unreaped child, the reaper (SIGCHLD)
    // delivers the exit, not this watch. Else its status went to its own parent.
    watch = watchExit(pid, () => {
      reapExited();
      if (ours && processParent(pid) === process.pid) return;
      onExit(pid, undefined);
    });
  } catch {
    return undefined;
  }
  const stillNamed = kind === 'adopted' || readPidfile(config.pid.follow!) === pid;
  if (!stillNamed || !alive(pid)) {
    watch.close();
    return undefined;
  }
  ours = descendsFrom(pid, process.pid) === true;
  if (ours) onChildExit(pid, (status) => onExit(pid, status));
  // `member` is settled by the supervisor, which knows the service's members.
  return { pid, kind, watch, ours, member: false };
}

/**
 * After a supervisor was killed (-9) and started again: the pid the follow pidfile names, or
 * the child the last supervisor started, instead of starting a duplicate.
 */
export function findLeftRunning(config: Config, members: ServiceMembers, onExit: OnTrackedExit): Tracked | undefined {
  if (config.pid.follow !== undefined) {
    const pid = followablePid(config.pid.follow, { exclude: [process.pid] });
    const followed = pid === undefined ? undefined : watchTracked(pid, 'followed', config, onExit);
    if (followed) return followed;
  }
  const pid = adoptablePid(childPidfile(config), config.command) ?? mainMember(config, members);
  return pid === undefined ? undefined : watchTracked(pid, 'adopted', config, onExit);
}

/**
 * The service's main process among its members (its cgroup, or the marker in its
 * environment), when child.pid cannot say: the supervisor died before writing it. The
 * oldest member running the command is the one we started; its workers came after it.
 */
function mainMember(config: Config, members: ServiceMembers): number | undefined {
  const command = config.command.join('\0');
  const candidates = members.pids()
    .filter((pid) => processArgv(pid)?.join('\0') === command)
    .map((pid) => ({ pid, started: processStartTime(pid) ?? Infinity }))
    .sort((a, b) => a.started - b.started);
  return candidates[0]?.pid;
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

/**
 * The process exited: stop watching it; child.pid no longer names it. `replaced`: its
 * successor already runs and is about to be written over it (one rename, no moment without).
 */
export function trackedExited(proc: Tracked, config: Config, replaced = false): void {
  proc.watch?.close();
  // Its status, when its own parent reaped it, never comes to us: stop waiting for it.
  if (proc.kind !== 'child') forgetChild(proc.pid);
  if (proc.kind !== 'followed' && !replaced) removePidfileIfOurs(childPidfile(config), proc.pid);
}

/** Left running on purpose (exit): no watch, and its exit is no longer ours to handle. */
export function letGo(proc: Tracked): void {
  proc.watch?.close();
  forgetChild(proc.pid);
}
