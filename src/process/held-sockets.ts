// The `listen:` sockets of a service: bound by the supervisor once, before the first start
// (as root, before any start drops privileges, so a -u service can serve port 80), held for
// the service's whole life and passed to every start with systemd's protocol (fds from 3,
// LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID). While no instance runs, connections wait in the
// kernel's backlog instead of being refused.
//
// A supervisor killed -9 and started again takes the very same sockets back from the running
// service (pidfd_getfd on each socket fd of its members, matched by address), so clients never
// see the port closed; an address no member holds is bound anew. docs/zero-downtime.md.

import { chownSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { Config, ListenAddress } from '../config/config';
import { bindTcpListener, bindUnixListener, closeFd, localAddress, pidfdGetfd, type UserInfo } from '../native';

/** The kernel caps it at net.core.somaxconn; a deep queue is what holds clients during a restart. */
const BACKLOG = 4096;
/** SPEC §8: unix sockets are 0660, owned by the -u user. */
const UNIX_MODE = 0o660;

interface Held {
  address: ListenAddress;
  fd: number;
}

export class HeldSockets {
  private closed = false;

  private constructor(private readonly held: Held[]) {}

  /**
   * Takes the sockets back from `runningPids` (the service left running by an earlier
   * supervisor) and binds the rest. One error naming `listen` and the address, with every
   * socket already bound closed again: nothing is left half-open.
   */
  static open(config: Config, user: UserInfo | undefined, runningPids: number[], log: (line: string) => void): HeldSockets {
    const held: Held[] = [];
    if (config.listen.length === 0) return new HeldSockets(held);
    const taken = runningPids.length > 0 ? takeBack(config.listen, runningPids) : new Map<number, number>();
    try {
      config.listen.forEach((address, index) => {
        const fd = taken.get(index);
        if (fd !== undefined) {
          taken.delete(index);
          held.push({ address, fd });
          log(`listen: ${address.text}: taken back from the running service`);
        } else {
          held.push({ address, fd: bindAddress(config, address, user) });
        }
      });
    } catch (err) {
      for (const { fd } of held) closeFd(fd);
      for (const fd of taken.values()) closeFd(fd);
      throw err;
    }
    return new HeldSockets(held);
  }

  get count(): number {
    return this.held.length;
  }

  /** Passed as fds 3, 4…, in the order of `listen:`. */
  fds(): number[] {
    return this.held.map((socket) => socket.fd);
  }

  /** LISTEN_FDS and LISTEN_FDNAMES for a start; LISTEN_PID is set by spawn in the child. */
  environment(): string[] {
    if (this.held.length === 0) return [];
    // Names may not contain ':' (sd_listen_fds_with_names): the address with ':' made '_'.
    const names = this.held.map(({ address }) => address.text.replace(/:/g, '_'));
    return [`LISTEN_FDS=${this.held.length}`, `LISTEN_FDNAMES=${names.join(':')}`];
  }

  /**
   * Closes our copies. The unix files are removed only when the service is gone for good
   * (`removeFiles`): a service left running (exit) still serves on them.
   */
  close(removeFiles: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const { address, fd } of this.held) {
      closeFd(fd);
      if (removeFiles && address.kind === 'unix') {
        try {
          unlinkSync(address.path);
        } catch {
          // Already gone, or replaced by someone else's file we must not care about.
        }
      }
    }
  }
}

/** The file's name as the operator wrote it, for `web.yml: listen: …`. */
function label(config: Config): string {
  return config.configFile ? `${path.basename(config.configFile)}: listen` : 'listen';
}

function bindAddress(config: Config, address: ListenAddress, user: UserInfo | undefined): number {
  try {
    if (address.kind !== 'unix') return bindTcpListener(address.host, address.port, address.kind === 'tcp6' ? 6 : 4, BACKLOG);
    const fd = bindUnixListener(address.path, UNIX_MODE, BACKLOG);
    try {
      if (user) chownSync(address.path, user.uid, user.gid);
    } catch (err) {
      closeFd(fd);
      unlinkSync(address.path);
      throw err;
    }
    return fd;
  } catch (err) {
    throw new Error(`${label(config)}: ${address.text}: ${errorText(err)}`);
  }
}

function errorText(err: unknown): string {
  const { code } = err as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    EADDRINUSE: 'address already in use',
    EADDRNOTAVAIL: 'address not available on this host',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOENT: 'no such directory',
    ENOTDIR: 'not a directory',
    ENAMETOOLONG: 'path too long',
    EROFS: 'read-only file system',
  };
  return (code && known[code]) ?? code ?? (err as Error).message;
}

/**
 * The listening sockets of the running service, each taken with pidfd_getfd and matched to
 * its `listen:` entry (index → our fd). Sockets no entry wants are closed again.
 */
function takeBack(addresses: readonly ListenAddress[], pids: number[]): Map<number, number> {
  const found = new Map<number, number>();
  for (const pid of pids) {
    if (found.size === addresses.length) break;
    for (const targetFd of socketFds(pid)) {
      let fd: number;
      try {
        fd = pidfdGetfd(pid, targetFd);
      } catch {
        continue; // gone, or no pidfd_getfd here (ENOSYS): bound anew below
      }
      const index = matchingEntry(addresses, fd, found);
      if (index === undefined) closeFd(fd);
      else found.set(index, fd);
    }
  }
  return found;
}

function socketFds(pid: number): number[] {
  const dir = `/proc/${pid}/fd`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => {
    try {
      return readlinkSync(`${dir}/${name}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).map(Number);
}

function matchingEntry(addresses: readonly ListenAddress[], fd: number, found: Map<number, number>): number | undefined {
  let bound;
  try {
    bound = localAddress(fd);
  } catch {
    return undefined;
  }
  if (!bound.listening) return undefined;
  const index = addresses.findIndex((address, i) => !found.has(i) && (address.kind === 'unix'
    ? bound.family === 'unix' && bound.address === address.path
    : bound.family === (address.kind === 'tcp6' ? 6 : 4) && bound.address === address.host && bound.port === address.port && address.port !== 0));
  return index < 0 ? undefined : index;
}
