// The one place that calls waitpid. A SIGCHLD watcher (a libuv signal handle in the addon,
// never sigaction) reaps every exited child and hands each status to whoever registered that pid;
// a pid nobody registered is an orphan adopted as subreaper: reaped and dropped, so no
// zombie survives. Nothing in a supervisor process may use child_process: its children would
// be reaped here and libuv would never learn their status.

import { reap, watchChildExits, type ExitStatus } from '../native';

type ExitHandler = (status: ExitStatus) => void;

const handlers = new Map<number, ExitHandler>();
let installed = false;
let orphanCount = 0;
// The SIGCHLD watch is unref'd (native/reap.cc): while a registered child runs, this keeps the
// loop alive, or a process with nothing else to wait on would exit before its child's status arrives.
let keepAlive: NodeJS.Timeout | undefined;

function updateKeepAlive(): void {
  if (handlers.size > 0 && keepAlive === undefined) {
    keepAlive = setInterval(() => {}, 2 ** 31 - 1);
  } else if (handlers.size === 0 && keepAlive !== undefined) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

/**
 * Calls onExit once with the exit status of child pid. Register right after spawn,
 * in the same tick: the status is only delivered from the event loop.
 */
export function onChildExit(pid: number, onExit: ExitHandler): void {
  install();
  handlers.set(pid, onExit);
  updateKeepAlive();
  // The child may have exited before the handler existed; pick it up on the next turn.
  setImmediate(reapExited);
}

/** Stops waiting for pid; its status, when it comes, is treated as an orphan's. */
export function forgetChild(pid: number): void {
  handlers.delete(pid);
  updateKeepAlive();
}

/** Whether pid is a child we wait for (the service, a helper, the logger), not an orphan. */
export function isRegisteredChild(pid: number): boolean {
  return handlers.has(pid);
}

/** Orphans reaped since start (grandchildren re-parented to us as subreaper). */
export function orphansReaped(): number {
  return orphanCount;
}

function install(): void {
  if (installed) return;
  installed = true;
  // Reaped in the addon as the signal arrives, not after Node's emit (native/reap.cc).
  watchChildExits(deliver);
}

/** Reaps until nothing more has exited; signals coalesce, so one SIGCHLD may mean many. */
export function reapExited(): void {
  for (;;) {
    const status = reap(-1);
    if (status === null) return;
    deliver(status);
  }
}

function deliver(status: ExitStatus): void {
  const handler = handlers.get(status.pid);
  if (handler === undefined) {
    orphanCount++;
    return;
  }
  handlers.delete(status.pid);
  try {
    handler(status);
  } finally {
    // After the handler, which registers a restart's next child: the keep-alive timer is
    // then left as it is rather than cleared and set again (0.1 ms at every restart).
    updateKeepAlive();
  }
}
