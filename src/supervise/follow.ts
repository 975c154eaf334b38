// Reading a pidfile we are asked to follow (-f / pid.follow), and deciding whether the pid
// it names may be supervised. A wrong answer here means signalling or waiting on some
// unrelated process, so every doubt answers "no": the command is then started again.

import { statSync } from 'node:fs';
import { alive } from '../native';
import { readPidfile } from '../process/pidfile';
import { descendsFrom, processArgv, processStartTime, processState } from '../process/proc';

export interface FollowCandidateCheck {
  /** Our own pid and our direct child's: never followed. */
  exclude: number[];
  /**
   * When set (the supervisor's pid), the pid must descend from it. As a subreaper we stay
   * the ancestor of everything our command forks, double-forked daemons and re-exec'd
   * masters included; anything else a pidfile names — the prefix of a half-written pid, a
   * stale or recycled pid, garbage that happens to be a live pid — belongs to some other
   * program. Left unset at start-up, when the pidfile may name a daemon an earlier
   * supervisor left running.
   */
  ancestor?: number;
}

/**
 * The pid the pidfile names, if it may be followed: not pid 1, not us or our child, alive,
 * not a zombie, our descendant when asked, and started no later than the pidfile was last
 * written (a pid recycled after the pidfile was written started after it: that is not the
 * process that wrote it).
 */
export function followablePid(file: string, check: FollowCandidateCheck): number | undefined {
  const verdict = judgePidfile(file, check);
  return typeof verdict === 'number' ? verdict : undefined;
}

/** The followable pid the pidfile names, or why it names none (for the operator's log). */
export function judgePidfile(file: string, check: FollowCandidateCheck): number | string {
  const pid = readPidfile(file);
  if (pid === undefined) return `${file} names no pid`;
  if (pid === 1 || check.exclude.includes(pid)) return `${file} names ${pid}, which is not a service's pid`;
  if (!alive(pid) || processState(pid) === 'Z') return `${file} names ${pid}, which is not running`;
  if (check.ancestor !== undefined && descendsFrom(pid, check.ancestor) === false) {
    return `${file} names ${pid}, which the service did not start (not our descendant)`;
  }
  // Kernel threads have an empty cmdline; no pidfile of a service names one.
  if (processState(pid) !== undefined && processArgv(pid) === undefined) return `${file} names ${pid}, a kernel thread`;
  const delay = writeDelayMs(pid, file);
  if (delay === null) return `${file} is gone`;
  if (delay !== undefined && delay < -startTimeSlackMs) {
    return `${file} names ${pid}, which started ${Math.round(-delay)} ms after the file was written (a recycled pid)`;
  }
  return pid;
}

/** We write child.pid within milliseconds of the fork; a larger gap is not our write. */
const adoptionWindowMs = 5000;

/**
 * The pid in our child.pid when it is still the service an earlier supervisor started:
 * alive, the same argv, and started just before the file was written. Unlike following,
 * an unknown start time (no /proc) means no.
 */
export function adoptablePid(file: string, command: string[]): number | undefined {
  const pid = readPidfile(file);
  if (pid === undefined || pid === process.pid || !alive(pid)) return undefined;
  const argv = processArgv(pid);
  if (!argv || argv.join('\0') !== command.join('\0')) return undefined;
  const delay = writeDelayMs(pid, file);
  if (delay === null || delay === undefined || delay < -startTimeSlackMs || delay > adoptionWindowMs) return undefined;
  return pid;
}

/** Start times have 10 ms resolution (clock ticks); allow that much. */
const startTimeSlackMs = 20;

/**
 * ms from pid's start to the pidfile's last write: negative when the process is younger than
 * the file (a pid recycled after the file was written); undefined when /proc cannot tell;
 * null when the file is gone.
 */
function writeDelayMs(pid: number, file: string): number | undefined | null {
  let written: number;
  try {
    written = statSync(file).mtimeMs;
  } catch {
    return null;
  }
  const started = processStartTime(pid);
  return started === undefined ? undefined : written - started;
}

/**
 * Waits up to graceMs for the pidfile to name a followable pid: a daemon's foreground
 * process may exit a moment before its child writes the pidfile, and after unicorn's USR2
 * the file names the old master until the new one rewrites it. Checks every 10 ms,
 * bounded by graceMs; resolves with the pid, or with why nothing followable turned up.
 */
export function waitForFollowablePid(
  file: string,
  check: FollowCandidateCheck,
  graceMs: number,
  isCancelled: () => boolean,
): Promise<number | string> {
  const deadline = Date.now() + graceMs;
  return new Promise((resolve) => {
    const attempt = () => {
      if (isCancelled()) return resolve('cancelled');
      const verdict = judgePidfile(file, check);
      if (typeof verdict === 'number' || Date.now() >= deadline) return resolve(verdict);
      setTimeout(attempt, 10);
    };
    attempt();
  });
}
