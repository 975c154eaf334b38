// Signalling a service as a whole: its process group. A stop must reach the workers a
// master forked too, or they outlive the service as orphans.

import { killpg } from '../native';
import { processGroup } from './proc';

/**
 * The group to signal for pid: the pid itself for our own child (setsid made it a group
 * leader), else the group /proc reports — but never our own group, which would hit the
 * supervisor — and 0 when unknown.
 */
export function serviceGroup(pid: number, ourChild: boolean): number {
  if (ourChild) return pid;
  const pgid = processGroup(pid);
  return pgid !== undefined && pgid > 1 && pgid !== processGroup(process.pid) ? pgid : 0;
}

/** True while any process is left in the group (EPERM: someone we may not signal is). */
export function groupAlive(pgid: number): boolean {
  try {
    killpg(pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Signals the group; false when it is already empty. */
export function killGroup(pgid: number, sig: string): boolean {
  try {
    killpg(pgid, sig);
    return true;
  } catch {
    return false;
  }
}
