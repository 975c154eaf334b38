// The addon's data shapes: what native.ts passes in and gets back. Types only; the addon
// itself is loaded and called in native.ts, its single import point.

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
  /**
   * stdio[i] becomes fd i in the child; -1 means /dev/null. Entries past 2 become fd 3, 4…
   * (systemd socket passing), also when source numbers overlap the targets. At most 256.
   */
  stdio?: number[];
  /** Also return a pidfd for the child (Linux >= 5.3), else pidfd is -1. */
  pidfd?: boolean;
  /**
   * The service's cgroup directory, open (O_RDONLY | O_DIRECTORY): the child runs inside it
   * from its first instruction. Linux >= 5.7 creates it there (clone3 CLONE_INTO_CGROUP);
   * elsewhere the child writes its own pid to the directory's cgroup.procs before anything
   * else. Failure: thrown with stage 'cgroup' and path 'cgroup.procs'.
   */
  cgroupFd?: number;
  /**
   * setrlimit in the child, as root before the credential change (so a hard limit can be
   * raised; limits survive setuid). Failure: thrown with stage 'setrlimit', path = name.
   */
  rlimits?: ResourceLimit[];
  /** The child sets NAME=<its own pid> in its environment (e.g. LISTEN_PID), replacing any. */
  pidEnv?: string;
}

/** One resource limit; soft/hard -1 means unlimited (RLIM_INFINITY). */
export interface ResourceLimit {
  /** One of rlimitNames(): as core cpu data fsize memlock nofile nproc stack. */
  resource: string;
  soft: number;
  hard: number;
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
  /** From reap() only, when a restart was prepared for pid (native.prepareRestart): the pid it started… */
  restarted?: number;
  /** …or the error spawn would have thrown for it. */
  restartError?: Error;
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

/** What a socket fd is bound to (getsockname) and whether it listens (SO_ACCEPTCONN). */
export interface SocketAddress {
  family: 4 | 6 | 'unix';
  /** Numeric address, or the unix path ('' when unnamed). */
  address: string;
  /** 0 for unix sockets. */
  port: number;
  listening: boolean;
}

/** One sd_notify datagram; pid/uid/gid are -1 when the kernel attached no sender. */
export interface NotifyMessage {
  pid: number;
  uid: number;
  gid: number;
  text: string;
}

export interface NotifyWatch {
  /** Stops watching; idempotent. Close the watch before the socket's fd. */
  close(): void;
}

export interface ExitWatch {
  /** Stops watching; idempotent. A closed watch never calls back and holds no event-loop ref. */
  close(): void;
}

/** A connection accepted by a UnixListener: a connected, nonblocking, CLOEXEC fd and its peer. */
export interface UnixConnection extends PeerCred {
  fd: number;
}

/**
 * What a probe found at the listener's path: 'ours' (the connection reached this listener),
 * 'elsewhere' (another listener took it), 'absent' (nobody listens there), 'busy' (undecided:
 * queue full or out of descriptors).
 */
export type ProbeVerdict = 'ours' | 'elsewhere' | 'absent' | 'busy';

export interface UnixListener {
  /**
   * Connects to the path, sends `message`, and looks for it in this listener's queue. Other
   * connections accepted meanwhile are returned for the caller to serve.
   */
  probe(message: string): { verdict: ProbeVerdict; accepted: UnixConnection[] };
  /** Stops accepting and closes the socket at once (the file stays). Idempotent. */
  close(): void;
}

/** What a LogCopier is given (see native/log_copier.cc); every field but file may be left out. */
export interface LogCopierOptions {
  /** The log file, opened (created 0640) at once; absent: the lines only go to onEvent('lines'). */
  file?: string;
  /** A created file's owner (the -u user). */
  owner?: { uid: number; gid: number };
  /** Size rotation, in bytes; 0: none. */
  sizeBytes?: number;
  /** Age rotation, in ms; 0: none. */
  ageMs?: number;
  /** Rotated files kept (at least 1). */
  keep?: number;
  timestamp?: boolean;
  /** Also hand every whole line to onEvent('lines') (for the logger). */
  forward?: boolean;
  /** After a write error, lines are dropped this long before the next try; default 1000. */
  retryMs?: number;
  /** A line longer than this is cut into pieces of this size; default 64 KiB. */
  lineCap?: number;
}

/**
 * What the copier's thread tells the main thread: whole lines for the logger, a one-line
 * message for the supervisor's log (write errors, recovery, a failed rotation), the end.
 */
export type LogCopierEvent =
  | { kind: 'lines'; lines: Buffer }
  | { kind: 'report'; message: string }
  | { kind: 'closed' };

/** One output stream copied from its pipe to its file by a thread of its own. */
export interface LogCopier {
  /** Starts the thread (the file is open since construction). */
  start(): void;
  /** Before start() only: closes the file and the pipe's read end at once. */
  dispose(): void;
  /** The service exited: reads what is in the pipe now and ends its unfinished line. */
  endOfRun(): void;
  /** Closes and opens the file again (after an external logrotate moved it away). */
  reopen(): void;
  /** The write end is closed: reads to the end (bounded), writes it all, then 'closed'. */
  close(): void;
  /** Gives up on a close that takes too long: what is not written is counted as dropped. */
  abandon(): void;
  /** Lets the process exit while the thread is still blocked. */
  unref(): void;
  /** Lines lost to write errors. */
  droppedLines(): number;
  /** The current write error; cleared once a write succeeds again. */
  lastError(): string | undefined;
}

/** How exit of a pid is observed: 'pidfd' (Linux), 'kqueue' (BSD/macOS) or 'poll' (kill(pid,0) timer). */
export type WatchMode = 'pidfd' | 'kqueue' | 'poll';
