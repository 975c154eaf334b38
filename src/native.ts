// The single import point for the C++ addon. Everything that touches a raw pid goes
// through here; the addon itself checks nothing user-facing and reports errno-coded errors.

import path from 'node:path';
import { signalName, signalNumber } from './process/signal-names';

export interface SpawnOptions {
  /** Program to execute; without a '/', it is searched in `searchPath` like execvp. */
  file: string;
  argv: string[];
  /** Full environment as KEY=VALUE strings. */
  env: string[];
  /** PATH used to resolve `file` (the child's PATH, not ours). */
  searchPath?: string;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Supplementary groups; applied (setgroups) only together with uid/gid. */
  groups?: number[];
  /** New session and process group (the service's pgid is then its pid). */
  setsid?: boolean;
  umask?: number;
  /** stdio[i] becomes fd i in the child; -1 means /dev/null. Entries past 2 are passed as-is. */
  stdio?: number[];
  /** Also return a pidfd for the child (Linux >= 5.3), else pidfd is -1. */
  pidfd?: boolean;
  /** An open cgroup.procs: the child writes its own pid to it before exec (joins that cgroup). */
  cgroupProcsFd?: number;
}

export interface SpawnResult {
  pid: number;
  pidfd: number;
}

export interface ExitStatus {
  pid: number;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** Signal name (SIGTERM…), or null on a normal exit. */
  signal: string | null;
}

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** All groups of the user (primary included), from getgrouplist. */
  groups: number[];
}

export interface PeerCred {
  uid: number;
  gid: number;
  /** -1 where the platform cannot tell. */
  pid: number;
}

export interface ExitWatch {
  /** Stops watching; idempotent. A closed watch never calls back and holds no event-loop ref. */
  close(): void;
}

/** How exit of a pid is observed: 'pidfd' (Linux), 'kqueue' (BSD/macOS) or 'poll' (kill(pid,0) timer). */
export type WatchMode = 'pidfd' | 'kqueue' | 'poll';

interface Addon {
  spawn(opts: Required<Omit<SpawnOptions, 'uid' | 'gid' | 'umask'>> & { uid: number; gid: number; umask: number }): SpawnResult;
  lookupUser(nameOrUid: string | number): UserInfo;
  watchExit(pid: number, mode: string, pollIntervalMs: number, cb: () => void): ExitWatch;
  watchModes(): string[];
  reap(pid: number): { pid: number; code: number; signal: number } | null;
  kill(pid: number, sig: number): void;
  killpg(pgid: number, sig: number): void;
  alive(pid: number): boolean;
  flock(fd: number): void;
  setSubreaper(): boolean;
  peerCred(fd: number): PeerCred;
  pipe(): [number, number];
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const addon: Addon = require('node-gyp-build')(path.join(__dirname, '..'));

export { signalName, signalNumber } from './process/signal-names';

/**
 * fork + exec (on Linux clone(CLONE_VM|CLONE_VFORK): no page tables copied). Exec-side
 * failures (ENOENT, EACCES, chdir, setuid…) are thrown here, synchronously, as an Error with
 * code, syscall and path; the failed child is already reaped. On success the child is
 * inside execve: /proc/<pid>/cmdline may read empty for a moment longer.
 */
export function spawn(opts: SpawnOptions): SpawnResult {
  return addon.spawn({
    file: opts.file,
    argv: opts.argv,
    env: opts.env,
    searchPath: opts.searchPath ?? '',
    cwd: opts.cwd ?? '',
    uid: opts.uid ?? -1,
    gid: opts.gid ?? -1,
    groups: opts.groups ?? [],
    setsid: opts.setsid ?? false,
    umask: opts.umask ?? -1,
    stdio: opts.stdio ?? [-1, -1, -1],
    pidfd: opts.pidfd ?? false,
    cgroupProcsFd: opts.cgroupProcsFd ?? -1,
  });
}

/** getpwnam_r / getpwuid_r + getgrouplist. Unknown user: Error with code 'ENOUSER'. */
export function lookupUser(nameOrUid: string | number): UserInfo {
  return addon.lookupUser(nameOrUid);
}

/** The modes this build and kernel support, best first; 'poll' is always last. */
export function watchModes(): WatchMode[] {
  return addon.watchModes() as WatchMode[];
}

let defaultWatchMode: WatchMode | undefined;

/**
 * The mode watchExit uses unless told otherwise. IMMORTAL_WATCH=poll forces the fallback
 * (tests and the latency benchmark use it to compare both paths).
 */
export function preferredWatchMode(): WatchMode {
  if (defaultWatchMode === undefined) {
    const forced = process.env.IMMORTAL_WATCH as WatchMode | undefined;
    const modes = watchModes();
    defaultWatchMode = forced && modes.includes(forced) ? forced : modes[0];
  }
  return defaultWatchMode;
}

export interface WatchOptions {
  mode?: WatchMode;
  /** Interval of the 'poll' fallback. */
  pollIntervalMs?: number;
}

/**
 * Calls cb once when pid exits; works for pids that are not our children.
 * A pid that is already gone calls back on the next tick (never synchronously).
 */
export function watchExit(pid: number, cb: () => void, opts: WatchOptions = {}): ExitWatch {
  const mode = opts.mode ?? preferredWatchMode();
  try {
    return addon.watchExit(pid, mode, opts.pollIntervalMs ?? 100, cb);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    let closed = false;
    const timer = setImmediate(() => { if (!closed) cb(); });
    return { close() { closed = true; clearImmediate(timer); } };
  }
}

function toExitStatus(raw: { pid: number; code: number; signal: number }): ExitStatus {
  return raw.signal > 0
    ? { pid: raw.pid, code: null, signal: signalName(raw.signal) }
    : { pid: raw.pid, code: raw.code, signal: null };
}

/** waitpid(pid, WNOHANG); pid -1 reaps any child. null when nothing has exited. */
export function reap(pid: number): ExitStatus | null {
  const raw = addon.reap(pid);
  return raw === null ? null : toExitStatus(raw);
}

export function kill(pid: number, sig: string | number): void {
  addon.kill(pid, signalNumber(sig));
}

export function killpg(pgid: number, sig: string | number): void {
  addon.killpg(pgid, signalNumber(sig));
}

/** kill(pid, 0): true when the pid exists (EPERM counts as alive). */
export function alive(pid: number): boolean {
  return addon.alive(pid);
}

/** Non-blocking exclusive flock; throws EWOULDBLOCK/EAGAIN when someone else holds it. */
export function flock(fd: number): void {
  addon.flock(fd);
}

let subreaper = false;

/** Become the reaper of orphaned descendants (Linux, FreeBSD); false where unsupported. */
export function setSubreaper(): boolean {
  subreaper = addon.setSubreaper() || subreaper;
  return subreaper;
}

/** Whether setSubreaper() succeeded: then every process our children fork stays our descendant. */
export function isSubreaper(): boolean {
  return subreaper;
}

/** Credentials of the process at the other end of a connected unix socket. */
export function peerCred(fd: number): PeerCred {
  return addon.peerCred(fd);
}

/** pipe2(O_CLOEXEC): [readFd, writeFd]. */
export function pipe(): [number, number] {
  return addon.pipe();
}
