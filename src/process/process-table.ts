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

/** The latest full scan, shared by every caller that accepts one of a given age. */
let lastScan: { at: number; entries: ProcessEntry[] } | undefined;

/**
 * Live processes (zombies left out: pid 1 here may never reap what it inherits). `maxAgeMs`:
 * a scan that recent may be returned instead — for sampling (usage, restart_if), where 100
 * services of one immortaldir would otherwise each scan /proc; never for stopping, which
 * must see what runs now.
 */
export function readProcessTable({ maxAgeMs = 0 } = {}): ProcessEntry[] {
  const now = performance.now();
  if (lastScan && maxAgeMs > 0 && now - lastScan.at < maxAgeMs) return lastScan.entries;
  const entries = scanProcesses();
  lastScan = { at: now, entries };
  if (environEntries.size > 2 * entries.length + 1024) forgetGone(entries);
  return entries;
}

function scanProcesses(): ProcessEntry[] {
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

/** The NAME=… entries of a process's environment, per pid and start time (see below). */
const environEntries = new Map<number, { startTicks: number; entries: string[] }>();

/**
 * Whether a scanned process's environment holds the exact NAME=VALUE entry. Its `NAME=` entries
 * are remembered per pid and start time:
 * a tracked-mode sample checks every process of the host for every service's marker, and
 * re-reading each environ each time is what made sampling 100 services cost a third of a CPU
 * (bench/restart-if-cost.mjs). An exec keeps pid and start time but may change the
 * environment; the remembered one is then the first one seen, which is what membership by
 * marker asks (a member that exec'd with a cleared environment stays one). Our own spawns
 * cannot be seen before their exec: clone(CLONE_VFORK) holds this thread until then.
 */
export function environHasRemembered(process: ProcessEntry, name: string, entry: string): boolean {
  let known = environEntries.get(process.pid);
  if (known?.startTicks !== process.startTicks) {
    let environ = '';
    try {
      environ = readFileSync(`/proc/${process.pid}/environ`, 'latin1');
    } catch {
      // gone, or not ours to read: no entries
    }
    known = { startTicks: process.startTicks, entries: environ.split('\0').filter((kv) => kv.startsWith(`${name}=`)) };
    environEntries.set(process.pid, known);
  }
  return known.entries.includes(entry);
}

/** Drops the remembered environments of processes no longer in the table. */
function forgetGone(entries: ProcessEntry[]): void {
  const live = new Set(entries.map((entry) => entry.pid));
  for (const pid of environEntries.keys()) if (!live.has(pid)) environEntries.delete(pid);
}
