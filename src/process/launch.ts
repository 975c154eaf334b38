// Turning a Config into processes: the service itself, and the short helper commands
// (require_cmd, post_exit) that run with the service's user, cwd and environment.
// Everything goes through native.spawn so the reaper sees every exit.

import type { Config } from '../config/config';
import { buildEnvironment } from './environment';
import { lookupUser, prepareRestart, spawn, type ExitStatus, type LogCopier, type SpawnOptions, type UserInfo } from '../native';
import type { JoinOptions, ServiceMembers } from './members';
import { onChildExit } from './reaper';
import type { HeldSockets } from './held-sockets';
import { rlimitsOf } from './rlimits';

export interface LaunchContext {
  config: Config;
  /** The -u user, resolved once at start-up. */
  user?: UserInfo;
  stdoutFd: number;
  stderrFd: number;
  /** Who the service's processes are: the service's spawn joins it (cgroup, marker). */
  members?: ServiceMembers;
  /** `listen:` sockets, passed to the service's starts as fds 3, 4… (held-sockets.ts). */
  heldSockets?: Pick<HeldSockets, 'fds' | 'environment'>;
  /** The log copiers of stdoutFd/stderrFd: a prepared restart ends their run (ServiceOutput.copiers). */
  copiers?: readonly LogCopier[];
}

/** Resolves -u; the config layer already refused unknown users and non-root callers. */
export function resolveUser(config: Config): UserInfo | undefined {
  if (config.user === undefined) return undefined;
  // `-u 1001` is a uid, as config.ts looked it up; by name it would be "unknown user: 1001".
  return lookupUser(/^\d+$/.test(config.user) ? Number(config.user) : config.user);
}

function pathOf(env: string[]): string {
  const entry = env.find((kv) => kv.startsWith('PATH='));
  return entry === undefined ? '/usr/local/bin:/usr/bin:/bin' : entry.slice(5);
}

/** What one start of the service adds (readiness: NOTIFY_SOCKET, a notification fd). */
export interface SpawnExtras {
  env?: string[];
  /** fd number in the child → our fd (closed in the child if absent; gaps are /dev/null). */
  fds?: Map<number, number>;
}

/**
 * The supervisor's own environment, copied at the first start. process.env is not a plain
 * object: every key read calls into Node, which cost a quarter of a millisecond per restart.
 * It no longer changes by then (detach.ts and config-handover.ts remove theirs at start-up).
 */
let ownEnvironment: Record<string, string | undefined> | undefined;

/**
 * Without an envdir a service's environment is the same at every start: it is built from
 * ownEnvironment, the -u user and run.yml's `env:`, kept per `env:` object (an upgrade's
 * reread brings a new one into the Config it updates in place). Rebuilt, it was 31 KB of
 * short-lived arrays and strings at every restart, four fifths of what a restart allocated,
 * and once the start-up memory is released each new 4 KiB of V8's young generation is a
 * page fault. With an envdir it is built fresh, so edits apply at the next start (envdir's rule).
 */
const fixedEnvironments = new WeakMap<Config['env'], { user?: UserInfo; env: string[] }>();

function environmentOf({ config, user }: LaunchContext): string[] {
  const fixed = config.envDir === undefined ? fixedEnvironments.get(config.env) : undefined;
  if (fixed !== undefined && fixed.user === user) return fixed.env;
  const env = buildEnvironment(config, (ownEnvironment ??= { ...process.env }), user);
  if (config.envDir === undefined) fixedEnvironments.set(config.env, { user, env });
  return env;
}

/** The service itself joins its members; require_cmd and post_exit are helpers, not members. */
function spawnWithContext(ctx: LaunchContext, argv: string[], join?: JoinOptions, extras?: SpawnExtras, service = false): number {
  return spawn(spawnOptions(ctx, argv, join, extras, service)).pid;
}

function spawnOptions(ctx: LaunchContext, argv: string[], join?: JoinOptions, extras?: SpawnExtras, service = false): SpawnOptions {
  // Only the service gets the held sockets (systemd's protocol); require_cmd and post_exit do not.
  const sockets = service ? ctx.heldSockets : undefined;
  const env = [...environmentOf(ctx), ...(join?.env ?? []), ...(sockets?.environment() ?? []),
    ...(extras?.env ?? [])];
  // Held sockets are fds 3, 4… (LISTEN_FDS counts from 3); readiness fds (notify fd:N) go where they ask.
  const stdio = [-1, ctx.stdoutFd, ctx.stderrFd, ...(sockets?.fds() ?? [])];
  for (const [target, fd] of extras?.fds ?? []) {
    while (stdio.length < target) stdio.push(-1);
    stdio[target] = fd;
  }
  // `-u self` without root: nothing to change, and setgroups would fail with EPERM.
  const switchUser = ctx.user !== undefined && ctx.user.uid !== process.getuid!();
  return {
    file: argv[0],
    argv,
    env,
    searchPath: pathOf(env),
    cwd: ctx.config.cwd,
    uid: switchUser ? ctx.user!.uid : undefined,
    gid: switchUser ? ctx.user!.gid : undefined,
    groups: switchUser ? ctx.user!.groups : undefined,
    // Own session and process group: stopping the service signals the whole group,
    // and a terminal's Ctrl-C reaches only the supervisor, which then stops it in order.
    setsid: true,
    stdio,
    // LISTEN_PID must be the child's own pid: written by the child itself, before exec.
    pidEnv: sockets?.fds().length ? 'LISTEN_PID' : undefined,
    // Joined before exec: not one instruction of the service runs outside its cgroup.
    cgroupFd: join?.cgroupFd,
    // run.yml `limits:`, also for require_cmd and post_exit (process/rlimits.ts says why).
    rlimits: rlimitsOf(ctx.config),
  };
}

/** Starts the service; throws the spawn error (ENOENT, EACCES, chdir…) synchronously. */
export function spawnService(ctx: LaunchContext, onExit: (status: ExitStatus) => void, extras?: SpawnExtras): number {
  const join = ctx.members?.joinOptions();
  let pid: number;
  try {
    pid = spawnWithContext(ctx, ctx.config.command, join, extras, true);
  } finally {
    if (join) ctx.members!.joined(join);
  }
  onChildExit(pid, onExit);
  ctx.members?.claim(pid);
  return pid;
}

/**
 * Hands the service's next start to the addon, to run the moment `pid` is reaped if `waitMs`
 * have passed and its cgroup is empty (native.prepareRestart; supervise/prepared-restart.ts
 * says when). Only a service in a cgroup: false, and nothing prepared, without one.
 */
export function prepareServiceRestart(ctx: LaunchContext, pid: number, waitMs: number): boolean {
  const join = ctx.members?.joinOptions();
  if (join?.cgroupFd === undefined) return false;
  try {
    prepareRestart(pid, spawnOptions(ctx, ctx.config.command, join, undefined, true), waitMs, ctx.copiers ?? []);
  } finally {
    ctx.members!.joined(join);
  }
  return true;
}

/** The addon started the service again (a prepared restart): its exit is waited for like spawnService's. */
export function restartedService(ctx: LaunchContext, pid: number, onExit: (status: ExitStatus) => void): void {
  onChildExit(pid, onExit);
  ctx.members?.claim(pid);
}

/** Runs `sh -c command` like the service would run, resolving with its exit status. */
export function runShellCommand(ctx: LaunchContext, command: string): { pid: number; done: Promise<ExitStatus> } {
  const pid = spawnWithContext(ctx, ['/bin/sh', '-c', command]);
  const done = new Promise<ExitStatus>((resolve) => onChildExit(pid, resolve));
  return { pid, done };
}
