// The single import point for the C++ addon. Everything that touches a raw pid goes
// through here; the addon itself checks nothing user-facing and reports errno-coded errors.

import path from 'node:path';
import { signalName, signalNumber } from './process/signal-names';

import type {
  SpawnOptions,
  SpawnResult,
  ExitStatus,
  UserInfo,
  PeerCred,
  SocketAddress,
  NotifyMessage,
  NotifyWatch,
  ExitWatch,
  UnixConnection,
  UnixListener,
  WatchMode,
  LogCopier,
  LogCopierEvent,
  LogCopierOptions,
} from './native-types';

// Callers import every data shape from here, the addon's one door.
export type * from './native-types';

/** The flat object the addon's spawn reads: every option present, -1 or '' for "none". */
type AddonSpawnOptions = Required<Omit<SpawnOptions, 'uid' | 'gid' | 'umask' | 'cgroupFd' | 'pidEnv'>>
  & { uid: number; gid: number; umask: number; cgroupFd: number; pidEnv: string };

interface Addon {
  spawn(opts: AddonSpawnOptions): SpawnResult;
  lookupUser(nameOrUid: string | number): UserInfo;
  watchExit(pid: number, mode: string, pollIntervalMs: number, cb: (err?: Error) => void): ExitWatch;
  watchModes(): string[];
  reap(pid: number): RawExitStatus | null;
  watchChildExits(onExit: (raw: RawExitStatus) => void): void;
  kill(pid: number, sig: number): void;
  killpg(pgid: number, sig: number): void;
  alive(pid: number): boolean;
  flock(fd: number): void;
  setSubreaper(): boolean;
  trimMalloc(): boolean;
  unmapFilePages(): number;
  peerCred(fd: number): PeerCred;
  pipe(): [number, number];
  UnixListener: new (
    path: string,
    bindUmask: number,
    backlog: number,
    onConnection: (fd: number, uid: number, gid: number, pid: number) => void,
  ) => UnixListener;
  rlimitNames(): string[];
  bindTcpListener(host: string, port: number, family: number, backlog: number): number;
  bindUnixListener(path: string, mode: number, backlog: number): number;
  localPort(fd: number): number;
  localAddress(fd: number): SocketAddress;
  closeFd(fd: number): void;
  openNotifySocket(path: string): number;
  watchNotify(fd: number, onMessage: (msg: NotifyMessage) => void, onError: (err: Error) => void): NotifyWatch;
  pidfdGetfd(pid: number, targetFd: number): number;
  exec(file: string, argv: string[], env: string[]): void;
  LogCopier: new (
    readFd: number,
    opts: { file?: string; uid: number; gid: number; sizeBytes: number; ageMs: number; keep: number; timestamp: boolean; forward: boolean; retryMs: number; lineCap: number },
    onEvent: (kind: string, value?: Buffer | string) => void,
  ) => LogCopier;
  peekConnection(fd: number, into: Buffer): number;
  dirSignature(dir: string, suffix: string): { signature: string; newestChangeMs: number };
  prepareRestart(pid: number, opts: AddonSpawnOptions, waitMs: number, copiers: LogCopier[]): void;
  cancelRestart(pid: number): void;
}

interface RawExitStatus {
  pid: number;
  code: number;
  signal: number;
  restarted?: number;
  restartError?: Error;
  /** When that restart began, ms on process.hrtime()'s clock (test/fixtures/spawn-clock-preload.cjs). */
  restartedAt?: number;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const addon: Addon = require('node-gyp-build')(path.join(__dirname, '..'));

export { signalName, signalNumber } from './process/signal-names';

/**
 * The addon reads numbers without checking their type (a wrong one leaves an exception
 * pending in N-API, and the addon's own error on top of it aborts the process): pids and fds
 * are checked here, at the one door to it.
 */
function integer(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    const err = new TypeError(`${what} must be an integer, got ${String(value)}`) as NodeJS.ErrnoException;
    err.code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  return value;
}

/**
 * fork + exec (on Linux clone(CLONE_VM|CLONE_VFORK): no page tables copied). Every failure
 * in the child (exec ENOENT/EACCES, chdir, dup2, cgroup, setrlimit, setuid…) is thrown here,
 * synchronously, as an Error with code, syscall, path and `stage` (where in the child); the
 * failed child is already reaped. Bad options (unknown rlimit name, bad value, pidEnv with
 * '=', more than 256 stdio entries) are thrown before anything starts, without `stage`. On success the child is
 * inside execve: /proc/<pid>/cmdline may read empty for a moment longer.
 */
export function spawn(opts: SpawnOptions): SpawnResult {
  return addon.spawn(addonSpawnOptions(opts));
}

function addonSpawnOptions(opts: SpawnOptions): AddonSpawnOptions {
  if (typeof opts.file !== 'string' || !Array.isArray(opts.argv) || !Array.isArray(opts.env)) {
    throw new TypeError('spawn: file must be a string, argv and env arrays of strings');
  }
  for (const fd of opts.stdio ?? []) integer(fd, 'spawn: stdio entry');
  return {
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
    cgroupFd: opts.cgroupFd ?? -1,
    rlimits: opts.rlimits ?? [],
    pidEnv: opts.pidEnv ?? '',
  };
}

/**
 * Prepares the start that follows the exit of child `pid`, for the addon to run the moment
 * pid exits, before any JavaScript (native/prepared_restart.cc: its own thread, waiting on
 * pid's pidfd, or else the reap() that collects pid): if `waitMs` have passed since now and
 * cgroup.events of `opts.cgroupFd` (required; duplicated, the caller closes its own) says no
 * process is left, the copiers end the last run's output and `opts` is spawned. reap() of
 * pid then carries `restarted` (the pid) or `restartError` (what spawn would have thrown);
 * otherwise nothing was started. One per pid; the exit consumes it.
 */
export function prepareRestart(pid: number, opts: SpawnOptions, waitMs: number, copiers: readonly LogCopier[]): void {
  if (typeof waitMs !== 'number' || Number.isNaN(waitMs)) throw new TypeError('prepareRestart: waitMs must be a number');
  addon.prepareRestart(integer(pid, 'prepareRestart: pid'), addonSpawnOptions(opts), waitMs, [...copiers]);
}

/**
 * Forgets the restart prepared for pid: its exit is JavaScript's alone. Too late if pid has
 * exited and the addon's thread started it already: reap() of pid still reports that.
 */
export function cancelRestart(pid: number): void {
  addon.cancelRestart(integer(pid, 'cancelRestart: pid'));
}

/** The names spawn's `rlimits` accepts here: as core cpu data fsize memlock nofile nproc stack. */
export const RLIMIT_NAMES: readonly string[] = Object.freeze(addon.rlimitNames());

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
  /**
   * Called when watching the exit fd itself failed (a uv_poll error; not an exit). The watch
   * then goes on in 'poll' mode, so cb still comes once, when the pid is gone.
   */
  onError?: (err: Error) => void;
}

/**
 * Calls cb once when pid exits; works for pids that are not our children.
 * A pid that is already gone calls back on the next tick (never synchronously).
 */
export function watchExit(pid: number, cb: () => void, opts: WatchOptions = {}): ExitWatch {
  const mode = opts.mode ?? preferredWatchMode();
  let closed = false;
  let current: ExitWatch;
  const onEvent = (err?: Error): void => {
    if (closed) return;
    if (err === undefined) {
      closed = true;
      cb();
      return;
    }
    opts.onError?.(err);
    current = watchExit(pid, () => { closed = true; cb(); }, { ...opts, mode: 'poll' });
  };
  try {
    current = addon.watchExit(integer(pid, 'watchExit: pid'), mode, opts.pollIntervalMs ?? 100, onEvent);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    const timer = setImmediate(() => { if (!closed) { closed = true; cb(); } });
    current = { close() { clearImmediate(timer); } };
  }
  return { close() { closed = true; current.close(); } };
}

function toExitStatus(raw: RawExitStatus): ExitStatus {
  const status: ExitStatus = raw.signal > 0
    ? { pid: raw.pid, code: null, signal: signalName(raw.signal) }
    : { pid: raw.pid, code: raw.code, signal: null };
  if (raw.restarted !== undefined) status.restarted = raw.restarted;
  if (raw.restartError !== undefined) status.restartError = raw.restartError;
  return status;
}

/** waitpid(pid, WNOHANG); pid -1 reaps any child. null when nothing has exited. Runs a prepared restart (prepareRestart). */
export function reap(pid: number): ExitStatus | null {
  const raw = addon.reap(integer(pid, 'reap: pid'));
  return raw === null ? null : toExitStatus(raw);
}

/**
 * From now on each SIGCHLD reaps every exited child in the addon, at once (a prepared
 * restart included), and calls onExit with each status in turn, as reap(-1) would return
 * them. Does not keep the process alive. Once per process (native/reap.cc).
 */
export function watchChildExits(onExit: (status: ExitStatus) => void): void {
  if (typeof onExit !== 'function') throw new TypeError('watchChildExits: onExit must be a function');
  addon.watchChildExits((raw) => onExit(toExitStatus(raw)));
}

export function kill(pid: number, sig: string | number): void {
  addon.kill(integer(pid, 'kill: pid'), signalNumber(sig));
}

export function killpg(pgid: number, sig: string | number): void {
  addon.killpg(integer(pgid, 'killpg: pgid'), signalNumber(sig));
}

/** kill(pid, 0): true when the pid exists (EPERM counts as alive). */
export function alive(pid: number): boolean {
  return addon.alive(integer(pid, 'alive: pid'));
}

/** Non-blocking exclusive flock; throws EWOULDBLOCK/EAGAIN when someone else holds it. */
export function flock(fd: number): void {
  addon.flock(integer(fd, 'flock: fd'));
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

/** Gives the C heap's free pages back to the kernel (glibc malloc_trim); false where nothing was or can be. */
export function trimMalloc(): boolean {
  return addon.trimMalloc();
}

/** Unmaps the pages of read-only file mappings (code, read-only data) mapped now; → bytes. 0 outside Linux. */
export function unmapFilePages(): number {
  return addon.unmapFilePages();
}

/** Credentials of the process at the other end of a connected unix socket. */
export function peerCred(fd: number): PeerCred {
  return addon.peerCred(integer(fd, 'peerCred: fd'));
}

export interface ListenUnixOptions {
  /** umask in force during bind(): the file's mode from its first instant is 0o777 & ~umask. */
  bindUmask: number;
  backlog?: number;
}

/**
 * A listening unix stream socket bound at `path`, accepted from in the addon: each connection
 * arrives as a connected fd with its peer's credentials (SO_PEERCRED / getpeereid). Wrap the fd
 * with `new net.Socket({ fd })`, which then owns it. Bind errors are thrown (EADDRINUSE…).
 */
export function listenUnix(path: string, opts: ListenUnixOptions, onConnection: (connection: UnixConnection) => void): UnixListener {
  return new addon.UnixListener(path, opts.bindUmask, opts.backlog ?? 511, (fd, uid, gid, pid) =>
    onConnection({ fd, uid, gid, pid }));
}

/**
 * What the peer of an accepted connection (a UnixConnection's fd) has sent so far, copied
 * into `into` and left queued on the socket → bytes copied; 0 when nothing is there yet or
 * the peer closed. Other errors are thrown (code, syscall 'recv').
 */
export function peekConnection(fd: number, into: Buffer): number {
  if (!Buffer.isBuffer(into)) throw new TypeError('peekConnection: into must be a Buffer');
  return addon.peekConnection(integer(fd, 'peekConnection: fd'), into);
}

/**
 * execve(2): replaces this process (same pid) with file; returns only by throwing (code,
 * syscall 'execve', path). stdin, stdout and stderr stay open across it; every other
 * descriptor is closed (Node marks even the ones it inherited close-on-exec).
 */
export function exec(file: string, argv: string[], env: string[]): never {
  if (typeof file !== 'string' || !Array.isArray(argv) || !Array.isArray(env)) {
    throw new TypeError('exec: file must be a string, argv and env arrays of strings');
  }
  addon.exec(file, argv.map(String), env.map(String));
  throw new Error('exec: returned without an error');
}

/**
 * A copier of the read end of a pipe into a log file (and/or to onEvent('lines')) on a
 * thread of its own, which start() starts; it owns readFd from then on. Throws the file's
 * open error (code, syscall, path), and then readFd is still the caller's.
 */
export function logCopier(readFd: number, opts: LogCopierOptions, onEvent: (event: LogCopierEvent) => void): LogCopier {
  if (opts.file === undefined && !opts.forward) throw new TypeError('logCopier: a file or forward is needed');
  return new addon.LogCopier(integer(readFd, 'logCopier: readFd'), {
    file: opts.file === undefined ? undefined : String(opts.file),
    uid: opts.owner ? integer(opts.owner.uid, 'logCopier: owner.uid') : -1,
    gid: opts.owner ? integer(opts.owner.gid, 'logCopier: owner.gid') : -1,
    sizeBytes: Math.floor(opts.sizeBytes ?? 0),
    ageMs: Math.floor(opts.ageMs ?? 0),
    keep: integer(opts.keep ?? 1, 'logCopier: keep'),
    timestamp: opts.timestamp === true,
    forward: opts.forward === true,
    retryMs: integer(opts.retryMs ?? 1000, 'logCopier: retryMs'),
    lineCap: integer(opts.lineCap ?? 64 * 1024, 'logCopier: lineCap'),
  }, (kind, value) => {
    if (kind === 'lines') onEvent({ kind, lines: value as Buffer });
    else if (kind === 'report') onEvent({ kind, message: value as string });
    else onEvent({ kind: 'closed' });
  });
}

/**
 * A string that changes whenever a regular, non-hidden `*suffix` file in dir appears, goes
 * or changes (name, device, inode, size, mtime, ctime of each), and the newest of those
 * times. One call, no object per file (see native/dir_signature.cc). Throws opendir's error.
 */
export function dirSignature(dir: string, suffix: string): { signature: string; newestChangeMs: number } {
  if (typeof dir !== 'string' || typeof suffix !== 'string') throw new TypeError('dirSignature: dir and suffix must be strings');
  return addon.dirSignature(dir, suffix);
}

/** pipe2(O_CLOEXEC): [readFd, writeFd]. */
export function pipe(): [number, number] {
  return addon.pipe();
}

/**
 * A listening TCP socket for `listen:` (socket CLOEXEC, SO_REUSEADDR, IPV6_V6ONLY for
 * family 6, bind, listen) → its fd, to be passed to services as fd 3, 4… `host` is a numeric
 * address ('' = any). Errors carry code (EADDRINUSE, EACCES, EADDRNOTAVAIL, EINVAL for a bad
 * address), syscall, address and port.
 */
export function bindTcpListener(host: string, port: number, family: 4 | 6, backlog: number): number {
  return addon.bindTcpListener(String(host), integer(port, 'bindTcpListener: port'), integer(family, 'bindTcpListener: family'), integer(backlog, 'bindTcpListener: backlog'));
}

/**
 * A listening unix stream socket for `listen: unix:/path` → its fd (CLOEXEC, blocking, not
 * accepted on: it is the service's). Bound under umask 0177, then chmod to mode; a stale file
 * (connect refused) is replaced, a live one is EADDRINUSE. The owner is the caller's to set.
 */
export function bindUnixListener(socketPath: string, mode: number, backlog: number): number {
  return addon.bindUnixListener(String(socketPath), integer(mode, 'bindUnixListener: mode'), integer(backlog, 'bindUnixListener: backlog'));
}

/** The local port of a bound socket (getsockname): what port 0 became. */
export function localPort(fd: number): number {
  return addon.localPort(integer(fd, 'localPort: fd'));
}

/**
 * The address a socket fd is bound to and whether it listens: matches fds taken back from a
 * running service (pidfdGetfd) to their `listen:` entries.
 */
export function localAddress(fd: number): SocketAddress {
  return addon.localAddress(integer(fd, 'localAddress: fd'));
}

/** close(2) for an fd that is not a Node handle; EBADF is thrown. */
export function closeFd(fd: number): void {
  addon.closeFd(integer(fd, 'closeFd: fd'));
}

/**
 * The sd_notify socket (NOTIFY_SOCKET): unix SOCK_DGRAM bound at path, SO_PASSCRED,
 * nonblocking, CLOEXEC. A stale file at path is the caller's to remove; its mode and owner
 * too. ENOTSUP where datagrams carry no sender credentials (macOS).
 */
export function openNotifySocket(socketPath: string): number {
  return addon.openNotifySocket(String(socketPath));
}

/**
 * Calls onMessage for each datagram on fd (from openNotifySocket), with the sender's pid,
 * uid and gid as the kernel reports them (-1 when missing: ignore such messages). Datagrams
 * over 4096 bytes are dropped, fds passed along are closed. Holds the event loop until close().
 * onError gets receive and poll errors (after a poll error the watch has ended); by default
 * they are thrown as uncaught errors.
 */
export function watchNotify(
  fd: number,
  onMessage: (msg: NotifyMessage) => void,
  onError: (err: Error) => void = (err) => { throw err; },
): NotifyWatch {
  return addon.watchNotify(integer(fd, 'watchNotify: fd'), onMessage, onError);
}

/**
 * A close-on-exec duplicate of fd `targetFd` of process `pid` (Linux >= 5.6, pidfd_getfd;
 * ENOSYS elsewhere). Needs ptrace access to pid: root, or its owner.
 */
export function pidfdGetfd(pid: number, targetFd: number): number {
  return addon.pidfdGetfd(integer(pid, 'pidfdGetfd: pid'), integer(targetFd, 'pidfdGetfd: fd'));
}
