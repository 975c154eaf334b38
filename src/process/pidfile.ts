// Pidfiles, read and written the way a reader elsewhere expects: a whole number, written
// to a temp name and renamed into place (as runit does for its status files), or into an
// empty file made ahead and exchanged with it, so nobody ever reads half of one.

import { closeSync, constants, fstatSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
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
 * For a pidfile rewritten while a new process starts (child.pid at a restart): pid is written
 * into `spare`, an empty file made ahead by makeFreshSpare, and the two names are exchanged
 * in one step. A reader sees one whole pid, as with a rename; but nothing is created or freed
 * at that moment and nothing written out (at a rename over a file, ext4 writes the new one's
 * block at once: 0.3-0.6 ms). The spare is left holding the file before, whole and never
 * written again, until makeFreshSpare removes it. Without a fresh spare (none made, or used
 * already), or where the filesystem cannot exchange, this is writePidfileAtomically.
 */
export function writePidfileIntoSpare(file: string, spare: string, pid: number): void {
  let fd: number;
  try {
    fd = openSync(spare, constants.O_WRONLY); // never created here: only an empty one is fresh
  } catch {
    return writePidfileAtomically(file, pid);
  }
  try {
    if (fstatSync(fd).size !== 0) return writePidfileAtomically(file, pid);
    writeSync(fd, `${pid}\n`, 0);
  } finally {
    closeSync(fd);
  }
  try {
    exchangeFiles(spare, file);
  } catch (err) {
    // ENOENT: no pidfile yet; EINVAL, ENOSYS: no exchange here. The spare is whole: renamed.
    if (!['ENOENT', 'EINVAL', 'ENOSYS'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    renameSync(spare, file);
  }
}

/** Off the start path: what the spare held removed, and an empty file made in its place. */
export function makeFreshSpare(spare: string): void {
  removeQuietly(spare);
  closeSync(openSync(spare, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666));
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
