// The life of `immortal.sock` as a file: a stale one left by a killed supervisor replaced, a
// new one bound private from its first instant and then given its mode and group, recognised
// as ours for as long as it is, and removed only while it is ours.
//
// "Ours" means: the file at the path is the one we bound and connections to it reach our
// listener. Device and inode name the file; a chmod, chown or link changes its ctime but
// neither of those. Inode numbers are reused as soon as freed (tmpfs at once), so whenever
// the ctime moved, a probe connection decides: it must arrive at our own listener.

import fs from 'node:fs';
import net from 'node:net';
import { listenUnix, type UnixConnection, type UnixListener } from '../native';

export interface SocketFileOptions {
  socketPath: string;
  /** Final mode of the file (bound 0600, then set to this). */
  mode: number;
  /** Group owner of the file (e.g. for mode 0o660). */
  gid?: number;
}

/** What `check()` found at the path. */
export type SocketFileCheck =
  /** Our file, unchanged since we last looked. */
  | { kind: 'ours' }
  /** Our file, but its mode, owner or links were changed from outside (kept as they are now). */
  | { kind: 'ours-changed'; mode: number; uid: number; gid: number; nlink: number }
  /** Removed, replaced by another file, or a socket whose listener is not ours. */
  | { kind: 'not-ours' }
  /** Undecided this time (our accept queue full, out of descriptors); ask again later. */
  | { kind: 'unsure' };

/** How long an existing socket may take to accept before we call it neither live nor stale. */
const LIVE_PROBE_TIMEOUT_MS = 1000;
/** Only the owner may even connect until the final mode and group are set. */
const BIND_UMASK = 0o177;

interface FileIdentity {
  dev: bigint;
  ino: bigint;
  /** Last ctime seen while the file was confirmed ours: unchanged means nothing to probe. */
  ctimeNs: bigint;
}

export class SocketFile {
  private closed = false;

  private constructor(
    readonly socketPath: string,
    private readonly listener: UnixListener,
    private readonly identity: FileIdentity,
    private readonly onConnection: (connection: UnixConnection) => void,
  ) {}

  /**
   * Replaces a stale socket at opts.socketPath, binds a new one and applies mode and group.
   * Connections arrive at onConnection with their peer credentials. Fails with EADDRINUSE
   * when another supervisor is listening there, and refuses a path that is not a socket.
   */
  static async open(opts: SocketFileOptions, onConnection: (connection: UnixConnection) => void): Promise<SocketFile> {
    await removeStaleSocket(opts.socketPath);
    const listener = listenUnix(opts.socketPath, { bindUmask: BIND_UMASK }, onConnection);
    try {
      if (opts.gid !== undefined) fs.chownSync(opts.socketPath, -1, opts.gid);
      fs.chmodSync(opts.socketPath, opts.mode);
      const stat = fs.lstatSync(opts.socketPath, { bigint: true });
      return new SocketFile(opts.socketPath, listener, { dev: stat.dev, ino: stat.ino, ctimeNs: stat.ctimeNs }, onConnection);
    } catch (err) {
      listener.close();
      unlinkQuietly(opts.socketPath);
      throw err;
    }
  }

  /** Whether the file at the path is still ours; cheap (one lstat) unless its ctime moved. */
  check(): SocketFileCheck {
    if (this.closed) return { kind: 'not-ours' };
    let stat: fs.BigIntStats;
    try {
      stat = fs.lstatSync(this.socketPath, { bigint: true });
    } catch {
      return { kind: 'not-ours' };
    }
    if (!stat.isSocket() || stat.dev !== this.identity.dev || stat.ino !== this.identity.ino) return { kind: 'not-ours' };
    if (stat.ctimeNs === this.identity.ctimeNs) return { kind: 'ours' };
    switch (this.probe()) {
      case 'ours':
        this.identity.ctimeNs = stat.ctimeNs;
        return { kind: 'ours-changed', mode: Number(stat.mode) & 0o7777, uid: Number(stat.uid), gid: Number(stat.gid), nlink: Number(stat.nlink) };
      case 'busy':
        return { kind: 'unsure' };
      case 'elsewhere':
      case 'absent':
        return { kind: 'not-ours' };
    }
  }

  /** Stops listening, then removes the file if it was still ours. Idempotent. */
  close(): void {
    if (this.closed) return;
    // Decided while still listening: the probe needs our listener to land on.
    const owned = this.check().kind;
    this.closed = true;
    this.listener.close();
    // An undecided file is left: a stale socket is replaced at the next start anyway, but a
    // successor's socket must never be removed.
    if (owned === 'ours' || owned === 'ours-changed') unlinkQuietly(this.socketPath);
  }

  /**
   * Connects to the path and sees whether the connection reaches our listener. The message
   * is a harmless request, in case another supervisor's socket answers it instead.
   */
  private probe(): 'ours' | 'elsewhere' | 'absent' | 'busy' {
    const nonce = randomHex(16);
    const { verdict, accepted } = this.listener.probe(`HEAD / HTTP/1.0\r\nX-Immortal-Probe: ${nonce}\r\n\r\n`);
    // Clients that connected meanwhile were accepted by the probe: they are served as usual.
    for (const connection of accepted) this.onConnection(connection);
    return verdict;
  }
}

/** A socket nobody answers on is left over from a killed supervisor; a live one is refused. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) {
    throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await isSocketLive(socketPath)) {
    const err = new Error(`another supervisor is listening on ${socketPath}`) as NodeJS.ErrnoException;
    err.code = 'EADDRINUSE';
    throw err;
  }
  unlinkQuietly(socketPath);
}

function isSocketLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path: socketPath });
    const timer = setTimeout(() => {
      probe.destroy();
      reject(new Error(`${socketPath} did not accept a connection within ${LIVE_PROBE_TIMEOUT_MS} ms`));
    }, LIVE_PROBE_TIMEOUT_MS);
    const settle = (live: boolean | Error) => {
      clearTimeout(timer);
      probe.destroy();
      if (live instanceof Error) reject(live);
      else resolve(live);
    };
    probe.once('connect', () => settle(true));
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') settle(false);
      // A full accept backlog still means someone is listening.
      else if (err.code === 'EAGAIN') settle(true);
      else settle(new Error(`cannot probe ${socketPath}: ${err.message}`));
    });
  });
}

function unlinkQuietly(socketPath: string): void {
  try {
    fs.unlinkSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * n random bytes as hex, read from /dev/urandom: node:crypto would cost every supervisor
 * 0.7 MiB of memory for this one nonce (docs/performance.md).
 */
function randomHex(n: number): string {
  const bytes = Buffer.alloc(n);
  const fd = fs.openSync('/dev/urandom', 'r');
  try {
    fs.readSync(fd, bytes, 0, n, null);
  } finally {
    fs.closeSync(fd);
  }
  return bytes.toString('hex');
}
