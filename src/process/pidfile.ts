// Pidfiles, read and written the way a reader elsewhere expects: a whole number, written
// to a temp name and renamed into place (as runit does for its status files), or, for
// child.pid, into a spare swapped with it in one step, so nobody ever reads half of one.

import { closeSync, constants, ftruncateSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { exchangeFiles } from '../native';

/** Largest pid any kernel hands out (Linux pid_max is at most 2^22). */
const maxPid = 4194304;

/** The pid in a pidfile, or undefined for missing, empty, partial or garbage content. */
export function readPidfile(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
  // A half-written "1234\n" read as "12" is caught later: the caller re-reads the file
  // after arming the exit watch, and a kernel thread or an older process fails the checks.
  const match = /^\s*(\d{1,7})\s*$/.exec(text);
  if (!match) return undefined;
  const pid = Number(match[1]);
  return pid > 0 && pid <= maxPid ? pid : undefined;
}

/** Written to a temp name and renamed: a reader never sees half a pidfile. */
export function writePidfileAtomically(file: string, pid: number): void {
  const temp = `${file}.new`;
  writeFileSync(temp, `${pid}\n`);
  renameSync(temp, file);
}

/**
 * As writePidfileAtomically, for a pidfile rewritten on every restart (child.pid): pid is
 * written into `spare` and the two names are swapped (exchangeFiles), so no inode is created
 * or freed while the new process starts; `spare` keeps the previous pid for next time. The
 * spare is never truncated to zero: on ext4 that makes close() start writing the file out.
 * Where no swap is possible (no file yet, a filesystem without it) the spare is renamed.
 */
export function writePidfileSwapping(file: string, spare: string, pid: number): void {
  const text = `${pid}\n`;
  const fd = openSync(spare, constants.O_WRONLY | constants.O_CREAT, 0o666);
  try {
    writeSync(fd, text, 0);
    ftruncateSync(fd, text.length);
  } finally {
    closeSync(fd);
  }
  try {
    exchangeFiles(spare, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EINVAL' && code !== 'ENOSYS') throw err;
    renameSync(spare, file);
  }
}

/** Removes file, if it is there. */
export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Removes file only while it still names pid (a successor may have rewritten it). */
export function removePidfileIfOurs(file: string, pid: number): void {
  try {
    if (readPidfile(file) === pid) unlinkSync(file);
  } catch {
    // already gone
  }
}
