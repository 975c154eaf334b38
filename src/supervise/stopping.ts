// Stopping a service as a whole: TERM (and CONT) to its process group, KILL at the deadline,
// and waiting for the members that outlive the leader. The supervisor owns the states
// (stopping, draining-group); these are the signals and checks it performs in them.

import type { Config } from '../config/config';
import { kill, killpg } from '../native';
import { groupAlive, killGroup, serviceGroup } from '../process/process-group';
import type { AfterStop, StopProgress, Tracked } from './states';

/** While draining: how often to look whether the rest of the service's group is gone. */
export const groupCheckIntervalMs = 20;

/** TERM, then CONT (a stopped process cannot act on TERM until continued), to proc's group. */
export function beginStop(proc: Tracked, config: Config, then: AfterStop): StopProgress {
  const stop: StopProgress = {
    then,
    group: serviceGroup(proc.pid, proc.kind === 'child'),
    deadline: Date.now() + config.stopTimeout * 1000,
  };
  signalService(stop, proc, 'SIGTERM');
  signalService(stop, proc, 'SIGCONT');
  return stop;
}

/** TERM/KILL/CONT to the whole group when we know it, else to the pid alone. */
export function signalService(stop: StopProgress, proc: Tracked | undefined, sig: string): void {
  if (stop.group > 1 && killGroup(stop.group, sig)) return;
  if (proc) {
    try {
      kill(proc.pid, sig);
    } catch {
      // already gone: its exit event is on its way
    }
  }
}

/**
 * The leader is gone: true once the rest of its group is gone too, or the deadline came
 * (then the group is KILLed here); false while members may still finish on their own.
 */
export function groupDrained(stop: StopProgress): boolean {
  if (stop.group <= 1 || !groupAlive(stop.group)) return true;
  if (Date.now() < stop.deadline) return false;
  killGroup(stop.group, 'SIGKILL');
  return true;
}

/**
 * An operator's signal while the group drains: the leader is gone, its group is what is
 * left of the service, so the signal goes there (KILL hurries a slow stop). '' when sent.
 */
export function signalDrainingGroup(stop: StopProgress, sig: string): string {
  try {
    killpg(stop.group, sig);
    return '';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? 'no running process' : (err as Error).message;
  }
}
