// The supervisor's states, the data each one needs, and every transition in one table.
// machine.ts (events from timers, exits and async work) and supervisor.ts (the operator's
// commands) carry the table out: one method per event, each a `switch` over every state
// ending in `unreachable(state)`, so a state added here is a compile error until every
// event says what it does in that state. Like s6-supervise's table, any "what happens if X
// arrives while Y?" is one row to read.
//
// ── The table: state × event → next state ──────────────────────────────────────────────
//
// Events. Timers and async work come back as events into the same dispatch:
//   begin                the runtime is open (supervisor.begin())
//   start-due            the start timer fired (`wait`, the 1 s rule, backoff, a held start)
//   checked(held?)       require:/require_cmd: answered; `held` says why not yet
//   exited               our child exited (SIGCHLD) or a watched pid exited (pidfd/kqueue)
//   search-done(pid?)    the follow pidfile named a followable pid, or pid.grace ran out
//   kill-timeout         stop_timeout passed since TERM
//   drain-tick           20 ms passed: look whether the rest of the service is gone
//   post-exit-done       a post_exit command exited
//   finish-bound         stop_timeout passed while `finished` waits for post_exit
// Operator commands: up, once, down, signal, halt (and shutdown = SIGTERM/SIGINT to us),
// exit/abandon (finish, leaving the service running). The supervisor's own command:
// restart-for(cause) — a failing health probe, a silent watchdog, memory over restart_if. "✗ text" is the `Err` answered;
// `then` is what a stop leads to (down | restart | finish with a reason).
//
// new                     constructed, begin() not called yet
//   begin               → running       a process an earlier supervisor left is followed/adopted
//                                       (pidfile, child.pid, or a member of its cgroup / marker)
//                       → stopping-leftovers   members left but none to adopt: stopped first
//                       → start-due     otherwise, after `wait`
//   up, once            → new           (want noted)
//   down                → down          begin() then starts nothing
//   halt, abandon       → finished
//   signal              ✗ no running process
//
// start-due               a start is timed; `held` says why it was held back (require:)
//   start-due           → start-due     fired a few ms early: re-armed for the rest
//                       → checking-preconditions   require: or require_cmd: set
//                       → running       spawned
//                       → start-due     spawn refused (ENOENT…): 1 s rule + backoff
//                       → finished      …on the first start of `immortal` (start-error)
//   up, once            → start-due
//   down                → down          the start is cancelled
//   halt, abandon       → finished
//   signal              ✗ no running process
//
// checking-preconditions  require: / require_cmd: are asked
//   checked(held)       → start-due     again in 1 s, status says why (no backoff)
//   checked()           → running | start-due | finished     as start-due's spawn
//   up, once            → checking-preconditions
//   down                → down          the answer, when it comes, is dropped
//   halt, abandon       → finished
//   signal              ✗ no running process
//
// running                 `proc` runs: our child, a followed pid (-f) or an adopted pid
//   exited              → searching-pidfile   pid.follow set and members of the service left
//                       → stopping-leftovers  members left (no follow): stopped before anything next
//                       → start-due     want up, retries left (1 s rule + backoff); post_exit runs
//                       → start-due → running   in one step, when the addon already restarted it
//                                       as it exited (prepared-restart.ts: due, cgroup empty)
//                       → down          want down or once, or retries used up (immortaldir)
//                       → finished      retries used up (`immortal`)
//   up, once            → running       (want noted)
//   down                → stopping      then down
//   halt                → stopping      then finish
//   signal              → running       sent to proc's pid
//   restart-for(cause)  → stopping      then restart; counted by cause, reason in status
//   abandon             → finished      proc left running (child.pid kept for re-adoption)
//   notify MAINPID=pid  → running       following pid (ready: {notify: systemd}; checked as a member)
//   watchdog/health     → stopping      (restart-for) see readiness.ts, health.ts
//
// starting                `proc` runs but is not ready yet (`ready:` set; readiness.ts asks)
//   ready               → running       READY=1, a newline on fd N, or a probe passed
//   ready-timeout       → stopping      then restart (1 s rule + backoff), counted as a failed start;
//                                       then finish (start-error) on `immortal`'s first start
//   exited              → as running's exited
//   notify MAINPID=pid  → starting      following pid
//   up, once, down, halt, signal, abandon   as running (restart-for: ignored, not ready yet)
//
// searching-pidfile       proc exited, members are left; pid.follow may name its successor
//                         within pid.grace (default 3 s)
//   search-done(pid)    → running       following pid (a handover, not a crash)
//                       → stopping      …when down/halt came meanwhile (`then`)
//   search-done()       → stopping-leftovers   members still left: never two generations
//                       → as running's exited (start-due | down | finished, post_exit runs)
//                       → finished      …when halt came meanwhile (no post_exit)
//   up, once            → searching-pidfile   a pending down is cancelled
//   down, halt          → searching-pidfile   `then` noted: the daemon found is stopped too
//   signal              ✗ no running process
//   abandon             → finished
//
// stopping                TERM (and CONT) sent to proc's group; KILL at the deadline
//   exited              → draining      members of the service are left
//                       → down | start-due | finished   by `then` (restart, finish); post_exit runs
//                                       a run the addon's thread started at that exit, before
//                                       the stop cancelled it, is killed (machine.ts strayRestart)
//   kill-timeout        → stopping      KILL to the group (or the pid)
//   up, once            → stopping      then down → restart
//   down                → stopping      then restart → down
//   halt                → stopping      then finish
//   signal              → stopping      sent to the leader
//   abandon             → finished      the process is left running
//
// draining                the leader exited; the rest of the service gets until the deadline
//   drain-tick          → draining      members left, deadline not reached
//                       → down | start-due | finished   all gone, or KILLed at the deadline
//   kill-timeout        → draining      KILL to every member
//   up, once, down, halt  as stopping
//   signal              → draining      sent to the members (✗ no running process once none)
//   abandon             → finished      the members are left running
//
// stopping-leftovers      the run is over (no handover) but processes it started are left
//                         (workers of a killed master holding its port): TERM sent to all
//   drain-tick, kill-timeout, signal, abandon   as draining
//   up, once, down, halt  as stopping (`then` changes; the leftovers are stopped anyway)
//
// down                    nothing runs, nothing is timed
//   up, once            → start-due     at once
//   down                → down
//   halt, abandon       → finished
//   signal              ✗ no running process
//
// finished                done; `finished` resolves once post_exit commands are over
//   post-exit-done      → finished      the last one: `finished` resolves
//   finish-bound        → finished      `finished` resolves, post_exit or not
//   every command       ✗ supervisor is exiting (signal: ✗ no running process)
//
// Any other event in a state not listed for it is stale (the course changed while it was on
// its way: a command, a stop, an abandon) and ignored; post-exit-done then only forgets
// the finished command.
//
// ── Where the states of the next issues go ──────────────────────────────────────────────
// Add each to the `State` union below: the compiler then lists every event to decide.
// • starting (issue 14) is above; health and the watchdog need no state of their own: they
//   count while running and end in restart-for (ready-machine.ts, health.ts).
// • upgrading (issue 20, overlapped upgrade): built as an overlay on `running` (upgrade.ts),
//   not a state: during the overlap every rule of `running` holds for the old instance (its
//   exit, down, halt stop the whole service, the new instance with it, and the upgrade fails);
//   the new one's exit goes to the upgrade until the hand-over. Ready → handOver (machine.ts):
//   running {proc: next} in one `to()`, the old instance's session stopped outside the machine.
//   `upgrading {old, next}` can replace the overlay if an event ever needs to tell them apart.

import type { ExitWatch } from '../native';

/** Why the supervisor finished; `immortal` exits 1 only on start-error. */
export type FinishReason = 'halt' | 'exit' | 'shutdown' | 'retries' | 'start-error';

/** What a stop leads to once the whole service is gone. */
export type AfterStop = 'down' | 'restart' | FinishReason;

/** A stop asked for while the follow pidfile is searched: carried out once the search ends. */
export type PendingStop = 'down' | FinishReason;

/** The process the service is right now: our child, a pid we follow, or one we re-adopted. */
export interface Tracked {
  pid: number;
  kind: 'child' | 'followed' | 'adopted';
  /** pidfd/kqueue watch of a pid that is not our child. */
  watch?: ExitWatch;
  /** Descends from this supervisor; then so must any pid it hands over to (see follow.ts). */
  ours: boolean;
  /**
   * A member of the service (its cgroup, or what we track) when we began to track it: then
   * "nothing of the service is left" is known once it is gone. A daemon adopted from outside
   * (started by hand, or by a supervisor without cgroups) may hand over to processes we
   * cannot see: its pidfile is always searched.
   */
  member: boolean;
}

/** One stop, from TERM until the group is gone; shared by stopping and draining. */
export interface StopProgress {
  then: AfterStop;
  /** The process group signalled; ≤ 1 when unknown (then only the pid is signalled). */
  group: number;
  /** Date.now() of the KILL. */
  deadline: number;
  killTimer?: NodeJS.Timeout;
}

export interface New { name: 'new' }
export interface StartDue {
  name: 'start-due';
  timer?: NodeJS.Timeout;
  /** Date.now() of the start, for "Starting in 1.5 seconds". */
  dueAt: number;
  /** The same on the monotonic clock: Node may fire a timer a few ms early. */
  dueMono: number;
  /** Why the start was held back ("waiting for require: db"); shown in status. */
  held?: string;
}
export interface CheckingPreconditions { name: 'checking-preconditions'; held?: string }
export interface Running { name: 'running'; proc: Tracked }
/** Started, not ready yet; `timer` is ready.timeout. */
export interface Starting { name: 'starting'; proc: Tracked; timer?: NodeJS.Timeout }
export interface SearchingPidfile {
  name: 'searching-pidfile';
  /** The process that exited: its successor must not be it, and must descend from us if it did. */
  gone: Tracked;
  file: string;
  then?: PendingStop;
}
export interface Stopping { name: 'stopping'; proc: Tracked; stop: StopProgress }
export interface Draining { name: 'draining'; stop: StopProgress; tick?: NodeJS.Timeout }
export interface StoppingLeftovers {
  name: 'stopping-leftovers';
  stop: StopProgress;
  tick?: NodeJS.Timeout;
  /** How many processes were left when the run ended: shown in status. */
  left: number;
}
export interface Down { name: 'down' }
export interface Finished { name: 'finished'; reason: FinishReason; bound?: NodeJS.Timeout }

export type State =
  | New
  | StartDue
  | CheckingPreconditions
  | Running
  | Starting
  | SearchingPidfile
  | Stopping
  | Draining
  | StoppingLeftovers
  | Down
  | Finished;

/** The coarse state shown to immortaldir and tests; the fine states above refine it. */
export type SupervisorState = 'waiting' | 'running' | 'stopping' | 'down' | 'finished';

export function coarseState(state: State): SupervisorState {
  switch (state.name) {
    case 'new':
    case 'start-due':
    case 'checking-preconditions':
    case 'searching-pidfile':
      return 'waiting';
    case 'running':
    case 'starting': // its process runs; `ready` in the record tells the two apart
      return 'running';
    case 'stopping':
    case 'draining':
    case 'stopping-leftovers':
      return 'stopping';
    case 'down': return 'down';
    case 'finished': return 'finished';
    default: return unreachable(state);
  }
}

/** The process a state supervises, if any. */
export function trackedProcess(state: State): Tracked | undefined {
  switch (state.name) {
    case 'running':
    case 'starting':
    case 'stopping':
      return state.proc;
    case 'new':
    case 'start-due':
    case 'checking-preconditions':
    case 'searching-pidfile':
    case 'draining':
    case 'stopping-leftovers':
    case 'down':
    case 'finished':
      return undefined;
    default: return unreachable(state);
  }
}

/** Timers a state owns: cleared when it is left, unless the next state takes them over. */
export function timersOf(state: State): NodeJS.Timeout[] {
  const timers: (NodeJS.Timeout | undefined)[] = [];
  switch (state.name) {
    case 'start-due': case 'starting': timers.push(state.timer); break;
    case 'stopping': timers.push(state.stop.killTimer); break;
    case 'draining':
    case 'stopping-leftovers':
      timers.push(state.stop.killTimer, state.tick);
      break;
    case 'finished': timers.push(state.bound); break;
    case 'new':
    case 'checking-preconditions':
    case 'running':
    case 'searching-pidfile':
    case 'down':
      break;
    default: return unreachable(state);
  }
  return timers.filter((timer): timer is NodeJS.Timeout => timer !== undefined);
}

/** The `never` check closing every switch over State. */
export function unreachable(state: never): never {
  throw new Error(`supervisor: unhandled state ${(state as { name?: unknown }).name}`);
}
