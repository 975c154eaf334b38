// The supervisor's stdout/stderr as a service should inherit them. Node puts a pipe or
// socket on fd 1/2 in non-blocking mode, and that flag lives on the open file description
// every child shares: a service writing faster than `immortal -n cmd | reader` reads would
// get EAGAIN and die instead of waiting. So:
//   - a pipe/FIFO is reopened through /proc/self/fd/N: a description of its own, blocking;
//   - a socket (journald, a parent's socketpair) cannot be reopened: the shared description
//     is made blocking, as runsv's stdout is; our few own log lines then write blocking too;
//   - files, terminals and /dev/null are passed as they are (never non-blocking here).

import { constants, fstatSync, openSync } from 'node:fs';

let shared: [number, number] | undefined;

/** fds to hand the service as stdout and stderr; computed once per process. */
export function inheritedStdio(): [number, number] {
  shared ??= [blockingDescriptor(1, process.stdout), blockingDescriptor(2, process.stderr)];
  return shared;
}

function blockingDescriptor(fd: number, stream: NodeJS.WriteStream): number {
  let kind: 'fifo' | 'socket' | 'other';
  try {
    const stat = fstatSync(fd);
    kind = stat.isFIFO() ? 'fifo' : stat.isSocket() ? 'socket' : 'other';
  } catch {
    return fd; // closed: the service gets EBADF like it would anyway
  }
  if (kind === 'fifo') {
    try {
      return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY);
    } catch {
      // no /proc (BSD): fall through to making the shared description blocking
    }
  }
  if (kind !== 'other') {
    (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle?.setBlocking?.(true);
  }
  return fd;
}
