// What the benchmark reads from /proc (Linux only): memory of processes, processes carrying a
// marker in their environment, and a PATH lookup. Nothing here starts a process.

import fs from 'node:fs';
import path from 'node:path';

/** kB fields of /proc/<pid>/status and /proc/<pid>/smaps_rollup; undefined once the pid is gone. */
export function memoryKb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    // Anonymous pages: the process's own heap, stacks and V8 pages — what no other process
    // shares (smaps_rollup's exact count; /proc/<pid>/status RssAnon is a cached estimate).
    let anon = Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    let pss = rss;
    try {
      const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pss = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? rss);
      anon = Number(/^Anonymous:\s+(\d+) kB/m.exec(rollup)?.[1] ?? anon);
    } catch {
      // smaps_rollup needs Linux 4.14; RSS stands in for PSS
    }
    return { rss, pss, anon };
  } catch {
    return undefined;
  }
}

function readEnviron(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return undefined;
  }
}

function processState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return undefined;
  }
}

export function processName(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/**
 * Live (non-zombie) processes whose environment holds `name=value`, each with `service`: true
 * when it also holds BENCH_SERVICE=1 (a supervised service rather than a supervisor).
 */
export function markedProcesses(name, value) {
  const needle = `${name}=${value}`;
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const environ = readEnviron(pid);
    if (!environ || !environ.includes(needle)) continue;
    const state = processState(pid);
    if (state === undefined || state === 'Z' || state === 'X') continue;
    found.push({ pid, service: environ.includes('BENCH_SERVICE=1') });
  }
  return found;
}

/** Sum of RSS, PSS and anonymous RSS (kB) over the supervisor processes (marked, not services). */
export function supervisorMemory(name, value) {
  const processes = markedProcesses(name, value).filter((p) => !p.service);
  let rss = 0;
  let pss = 0;
  let anon = 0;
  const names = {};
  for (const { pid } of processes) {
    const memory = memoryKb(pid);
    if (!memory) continue;
    rss += memory.rss;
    pss += memory.pss;
    anon += memory.anon;
    const comm = processName(pid);
    names[comm] = (names[comm] ?? 0) + 1;
  }
  return { rssKb: rss, pssKb: pss, anonKb: anon, processes: processes.length, names };
}

/**
 * On-CPU nanoseconds of every thread of the supervisor processes (marked, not services), by
 * "pid/tid", from /proc/<pid>/task/<tid>/schedstat: CPU time rather than wall time, so a
 * loaded machine still compares. Every thread counts: /proc/<pid>/schedstat alone is the
 * main thread's (a Go program's work runs on others; Node's GC and libuv pool too).
 */
export function supervisorCpuSnapshot(name, value) {
  return cpuSnapshotOf(supervisorPids(name, value));
}

/** The supervisor processes (marked, not services): found once, read many times. */
export function supervisorPids(name, value) {
  return markedProcesses(name, value).filter((p) => !p.service).map((p) => p.pid);
}

/** supervisorCpuSnapshot for processes already found: a few small reads, no scan of /proc. */
export function cpuSnapshotOf(pids) {
  const snapshot = new Map();
  for (const pid of pids) {
    let tids;
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tids) {
      try {
        snapshot.set(`${pid}/${tid}`, Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
      } catch {
        // exited meanwhile
      }
    }
  }
  return snapshot;
}

/**
 * CPU nanoseconds spent between two snapshots: threads born since count from zero; a thread
 * that ended in between loses its last slice (an undercount, never a negative).
 */
export function cpuNsBetween(before, after) {
  let total = 0;
  for (const [key, ns] of after) total += Math.max(0, ns - (before.get(key) ?? 0));
  return total;
}

/** KILLs every process carrying the marker; returns how many there were. */
export function killMarked(name, value) {
  const processes = markedProcesses(name, value);
  for (const { pid } of processes) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return processes.length;
}

/** Absolute path of an executable on PATH (or the given absolute path), else undefined. */
export function which(command, extraDirs = []) {
  if (command.includes('/')) return isExecutable(command) ? command : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':'), ...extraDirs, '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Bytes of log in a file, or in a svlogd/multilog/s6-log directory: `current` plus the rotated
 * `@…` files (not their lock, state or config files).
 */
export function bytesIn(target) {
  try {
    const stat = fs.statSync(target);
    if (stat.isFile()) return stat.size;
    let total = 0;
    for (const entry of fs.readdirSync(target)) {
      if (entry !== 'current' && !entry.startsWith('@')) continue;
      try {
        const child = fs.statSync(path.join(target, entry));
        if (child.isFile()) total += child.size;
      } catch {
        // rotated away between readdir and stat
      }
    }
    return total;
  } catch {
    return 0;
  }
}
