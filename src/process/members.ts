// A service is every process it started (SPEC §8): who those are, how to signal all of
// them, and what they use. Two ways to know:
//
// - cgroup: as root with a writable cgroup2, the child joins <tree>/<service> before exec
//   (native spawn writes its pid to cgroup.procs), and whatever it forks stays there —
//   double forks, new sessions and cleared environments included.
// - tracked: elsewhere (not root, no cgroup2, macOS, FreeBSD, IMMORTAL_CGROUP=off) the
//   supervisor, a subreaper, finds them itself in /proc: the sessions and process groups it
//   saw the service use, their descendants, processes whose environment carries the
//   service's marker, and (standalone `immortal`, one service per process) orphans
//   re-parented to it. What escapes is written in docs/reliability.md.
//
// Both carry the marker IMMORTAL_SERVICE=<supervise dir> in the service's environment: it
// lets a supervisor started after a kill -9 find the service again without child.pid.

import { sha256Hex } from './sha256';
import { closeJoinFd, ServiceCgroup, serviceCgroupTree } from './cgroup';
import { kill } from '../native';
import { environHasRemembered, readEntry, readProcessTable, type ProcessEntry } from './process-table';
import { isRegisteredChild } from './reaper';

export const markerName = 'IMMORTAL_SERVICE';
/** How old a usage sample may be when asked for again. */
const usageMaxAgeMs = 1000;

export interface Usage {
  processes: number;
  memoryBytes: number;
  cpuSeconds: number;
}

export interface JoinOptions {
  /** The service's cgroup directory, for spawn; close it with `joined()` after. */
  cgroupFd?: number;
  /** NAME=VALUE entries to add to the child's environment. */
  env: string[];
}

export interface MembersOptions {
  /** Absolute supervise dir: names the cgroup's service and is the marker's value. */
  superviseDir: string;
  /** Service name (the cgroup directory's name). */
  name: string;
  /**
   * Every orphan re-parented to this supervisor belongs to the service: true for a
   * standalone `immortal`, which supervises one service only. Our own children (the logger,
   * require_cmd, post_exit) are registered with the reaper and never count as orphans.
   */
  orphansAreMembers: boolean;
  env?: NodeJS.ProcessEnv;
}

export class ServiceMembers {
  readonly mode: 'cgroup' | 'tracked';
  private readonly cgroup?: ServiceCgroup;
  private readonly marker: string;
  /** Sessions and process groups the service was seen to use (tracked mode). */
  private readonly sessions = new Set<number>();
  private readonly groups = new Set<number>();
  private lastUsage?: { at: number; usage: Usage };

  constructor(private readonly opts: MembersOptions) {
    this.marker = `${markerName}=${opts.superviseDir}`;
    const tree = serviceCgroupTree(opts.env);
    if (tree !== undefined) {
      try {
        this.cgroup = ServiceCgroup.open(tree, cgroupName(opts.name, opts.superviseDir));
      } catch {
        // the tree is writable but this directory is not (another owner): track instead
      }
    }
    this.mode = this.cgroup ? 'cgroup' : 'tracked';
  }

  /** Where the service's cgroup is, for status and docs; undefined in tracked mode. */
  get cgroupDir(): string | undefined {
    return this.cgroup?.dir;
  }

  /** What spawn needs so the child is a member from its first instruction. */
  joinOptions(): JoinOptions {
    return { cgroupFd: this.cgroup?.openForJoin(), env: [this.marker] };
  }

  /** After spawn: the fd is no longer needed. */
  joined(join: JoinOptions): void {
    if (join.cgroupFd !== undefined) closeJoinFd(join.cgroupFd);
  }

  /**
   * A process is the service's (its main pid, a followed or adopted pid): remember its session
   * and group. Tracked mode only: a cgroup knows its members itself, and two /proc reads at
   * every start would be wasted.
   */
  claim(pid: number): void {
    if (this.cgroup) return;
    const entry = readEntry(pid);
    if (entry) this.remember(entry);
  }

  /** Live members now, the main pid included when alive. */
  pids(): number[] {
    if (this.cgroup) return this.cgroup.pids();
    return this.trackedMembers(readProcessTable()).map((entry) => entry.pid);
  }

  /** True when nothing of the service runs. */
  empty(): boolean {
    return this.pids().length === 0;
  }

  /**
   * Signals every member; how many were signalled. `already`: the pid and process group the
   * caller just signalled directly; their members must not get the signal twice (a second
   * TERM or INT means "hurry" to many programs).
   */
  signalAll(sig: string, already: { pid?: number; group?: number } = {}): number {
    let count = 0;
    for (const pid of this.pids()) {
      if (pid === already.pid) continue;
      if (already.group !== undefined && already.group > 1 && readEntry(pid)?.pgrp === already.group) continue;
      try {
        kill(pid, sig);
        count++;
      } catch {
        // gone meanwhile
      }
    }
    return count;
  }

  /** KILL every member, also those forked meanwhile (cgroup.kill where the kernel has it). */
  killAll(): void {
    if (this.cgroup) return this.cgroup.killAll();
    // Repeated: a member may fork while we go through the list.
    for (let round = 0; round < 100 && this.signalAll('SIGKILL') > 0; round++);
  }

  /**
   * Processes, resident memory and CPU seconds of the whole service. Sampled at most once a
   * second: pages, scrapes and immortalctl may ask for 200 services many times a second,
   * and a sample reads /proc for every member.
   */
  usage(): Usage {
    const now = performance.now();
    if (this.lastUsage && now - this.lastUsage.at < usageMaxAgeMs) return this.lastUsage.usage;
    const usage = this.sampleUsage();
    this.lastUsage = { at: now, usage };
    return usage;
  }

  private sampleUsage(): Usage {
    const members = this.cgroup
      ? this.cgroup.pids().map(readEntry).filter((entry): entry is ProcessEntry => entry !== undefined)
      : this.trackedMembers(readProcessTable({ maxAgeMs: usageMaxAgeMs }));
    const rss = members.reduce((sum, entry) => sum + entry.rssBytes, 0);
    const cpu = members.reduce((sum, entry) => sum + entry.cpuSeconds, 0);
    return {
      processes: members.length,
      // memory.current counts page cache too; where the controller is on, it is what limits use.
      memoryBytes: this.cgroup?.memoryBytes() ?? rss,
      // The cgroup's counter keeps the CPU of members that already exited.
      cpuSeconds: this.cgroup?.cpuSeconds() ?? cpu,
    };
  }

  /** The service is gone for good (removed, halted): drop its cgroup. False while members remain. */
  release(): boolean {
    return this.cgroup?.remove() ?? true;
  }

  private trackedMembers(table: ProcessEntry[]): ProcessEntry[] {
    const self = readEntry(process.pid);
    const orphan = (entry: ProcessEntry) => this.opts.orphansAreMembers && entry.ppid === process.pid && !isRegisteredChild(entry.pid);
    const isMember = (entry: ProcessEntry) => this.sessions.has(entry.session) || this.groups.has(entry.pgrp) || orphan(entry);
    const members = new Map<number, ProcessEntry>();
    for (const entry of table) {
      if (entry.pid === process.pid) continue;
      if (isMember(entry) || environHasRemembered(entry, markerName, this.marker)) members.set(entry.pid, entry);
    }
    // Descendants of members are members: a worker forked into a session of its own.
    for (let grew = true; grew;) {
      grew = false;
      for (const entry of table) {
        if (members.has(entry.pid) || entry.pid === process.pid) continue;
        if (members.has(entry.ppid)) {
          members.set(entry.pid, entry);
          grew = true;
        }
      }
    }
    this.forgetUnused(table);
    for (const entry of members.values()) if (entry.session !== self?.session) this.remember(entry);
    return [...members.values()];
  }

  /**
   * A session or group id nobody uses any more is forgotten: once freed, an id can be reused
   * by a stranger, who must never become a member.
   */
  private forgetUnused(table: ProcessEntry[]): void {
    const sessions = new Set(table.map((entry) => entry.session));
    const groups = new Set(table.map((entry) => entry.pgrp));
    for (const session of this.sessions) if (!sessions.has(session)) this.sessions.delete(session);
    for (const group of this.groups) if (!groups.has(group)) this.groups.delete(group);
  }

  private remember(entry: ProcessEntry): void {
    // Never our own session or group: that would make the supervisor a member of its service.
    const self = readEntry(process.pid);
    if (entry.session > 1 && entry.session !== self?.session) this.sessions.add(entry.session);
    if (entry.pgrp > 1 && entry.pgrp !== self?.pgrp) this.groups.add(entry.pgrp);
  }
}

/**
 * The cgroup's directory name: the service's name, and a digest of its supervise dir, so
 * that `web` under ~/.immortal and `web` under /var/run/immortal never share one (each would
 * stop the other's processes as its own). Stable: the next supervisor finds the same one.
 */
export function cgroupName(name: string, superviseDir: string): string {
  return `${name}.${sha256Hex(superviseDir).slice(0, 8)}`;
}
