// Pidfiles, read and written the way a reader elsewhere expects: a whole number, written
// to a temp name and renamed into place (as runit does for its status files), so nobody
// ever reads half of one.

import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

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

/** Removes file only while it still names pid (a successor may have rewritten it). */
export function removePidfileIfOurs(file: string, pid: number): void {
  try {
    if (readPidfile(file) === pid) unlinkSync(file);
  } catch {
    // already gone
  }
}
