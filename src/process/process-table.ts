// A snapshot of every live process from /proc: what the fallback membership (no cgroup)
// and the resource accounting read. Linux only; elsewhere the table is empty.

import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessEntry {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** utime + stime + cutime + cstime, in seconds: reaped children's CPU counts too. */
  cpuSeconds: number;
  /** Resident set in bytes. */
  rssBytes: number;
  /** Start time in clock ticks since boot: with the pid, names one process (pids are reused). */
  startTicks: number;
}

const clockTicksPerSecond = 100; // USER_HZ, fixed for /proc on every Linux ABI
const pageSize = 4096;

/** Live processes (zombies left out: pid 1 here may never reap what it inherits). */
export function readProcessTable(): ProcessEntry[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const entries: ProcessEntry[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const entry = readEntry(Number(name));
    if (entry) entries.push(entry);
  }
  return entries;
}

/** One process, or undefined when it is gone, a zombie or a kernel thread. */
export function readEntry(pid: number): ProcessEntry | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Fields after "pid (comm) ": comm may hold spaces and ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgrp, session] = [fields[0], Number(fields[1]), Number(fields[2]), Number(fields[3])];
  // Kernel threads have no memory map (rss 0) and descend from kthreadd (pid 2).
  if (state === 'Z' || state === 'X' || pid === 2 || ppid === 2) return undefined;
  const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return {
    pid, ppid, pgrp, session,
    cpuSeconds: ticks / clockTicksPerSecond,
    rssBytes: Number(fields[21]) * pageSize,
    startTicks: Number(fields[19]),
  };
}

/** Whether pid's environment (as it was at exec) holds the exact NAME=VALUE entry. */
export function environHas(pid: number, entry: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
  } catch {
    return false;
  }
}
