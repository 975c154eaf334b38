// Stopping a service as a whole: TERM (and CONT) to every process it started — its process
// group and every member (process/members.ts: its cgroup, or what we tracked) — KILL at the
// deadline, and waiting until none is left. The supervisor owns the states (stopping,
// draining, stopping-leftovers); these are the signals and checks it performs in them.

import type { Config } from '../config/config';
import { kill } from '../native';
import type { ServiceMembers } from '../process/members';
import { groupAlive, killGroup, serviceGroup } from '../process/process-group';
import type { AfterStop, StopProgress, Tracked } from './states';

/** While draining: how often to look whether the rest of the service is gone. */
export const drainCheckIntervalMs = 20;

/**
 * TERM, then CONT (a stopped process cannot act on TERM until continued), to the whole
 * service. Without a proc (leftovers of a run whose main process is gone) only the members.
 */
export function beginStop(proc: Tracked | undefined, config: Config, then: AfterStop, members: ServiceMembers): StopProgress {
  const stop: StopProgress = {
    then,
    group: proc ? serviceGroup(proc.pid, proc.kind === 'child') : 0,
    deadline: Date.now() + config.stopTimeout * 1000,
  };
  signalService(stop, proc, 'SIGTERM', members);
  signalService(stop, proc, 'SIGCONT', members);
  return stop;
}

/** TERM/KILL/CONT to the group when we know it, the pid itself, and every other member. */
export function signalService(stop: StopProgress, proc: Tracked | undefined, sig: string, members: ServiceMembers): void {
  const reachedGroup = stop.group > 1 && killGroup(stop.group, sig);
  if (!reachedGroup && proc) {
    try {
      kill(proc.pid, sig);
    } catch {
      // already gone: its exit event is on its way
    }
  }
  if (sig === 'SIGKILL') members.killAll();
  else members.signalAll(sig, { pid: proc?.pid, group: reachedGroup ? stop.group : undefined });
}

/**
 * The main process is gone: true once every other member is gone too, or the deadline came
 * (then all that is left is KILLed here); false while members may still finish on their own.
 */
export function serviceDrained(stop: StopProgress, members: ServiceMembers): boolean {
  const groupLeft = stop.group > 1 && groupAlive(stop.group);
  if (!groupLeft && members.empty()) return true;
  if (Date.now() < stop.deadline) return false;
  if (groupLeft) killGroup(stop.group, 'SIGKILL');
  members.killAll();
  return true;
}

/**
 * An operator's signal while the service drains: the main process is gone, its group and
 * members are what is left of the service, so the signal goes there (KILL hurries a slow
 * stop). '' when sent.
 */
export function signalDraining(stop: StopProgress, sig: string, members: ServiceMembers): string {
  const reachedGroup = stop.group > 1 && killGroup(stop.group, sig);
  const reachedMembers = members.signalAll(sig, { group: reachedGroup ? stop.group : undefined }) > 0;
  return reachedGroup || reachedMembers ? '' : 'no running process';
}
