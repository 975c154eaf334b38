// The sd_notify socket of `ready: {notify: systemd}`: a unix datagram socket in the supervise
// dir (`notify.sock`), named to the service by NOTIFY_SOCKET. Only the service's user may
// send (the file is chowned to the -u user, mode 0600), and only a member of the service is
// listened to: the kernel's SCM_CREDENTIALS give the sender's pid, checked by the caller.

import { chmodSync, chownSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { closeFd, openNotifySocket, watchNotify, type NotifyMessage, type NotifyWatch, type UserInfo } from '../native';

/** One datagram, `KEY=VALUE` per line (sd_notify(3)); later keys win. */
export function parseNotifyText(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return fields;
}

export class NotifySocket {
  readonly path: string;
  private readonly fd: number;
  private readonly watch: NotifyWatch;

  /** Throws (EADDRINUSE, ENAMETOOLONG…) when the socket cannot be made. */
  constructor(superviseDir: string, user: UserInfo | undefined, onMessage: (msg: NotifyMessage, fields: Map<string, string>) => void, log: (line: string) => void) {
    this.path = path.join(superviseDir, 'notify.sock');
    // A socket left by a supervisor killed earlier: the lock is ours, so the file is too.
    rmSync(this.path, { force: true });
    this.fd = openNotifySocket(this.path);
    try {
      chmodSync(this.path, 0o600);
      if (user !== undefined && user.uid !== process.getuid!()) chownSync(this.path, user.uid, user.gid);
      const blocked = user === undefined ? undefined : unreachableDir(path.dirname(this.path), user);
      if (blocked) log(`notify socket: ${blocked} is not searchable by user ${user!.name}: its READY=1 cannot arrive (chmod o+x, or another supervise dir)`);
      this.watch = watchNotify(this.fd, (msg) => onMessage(msg, parseNotifyText(msg.text)), (err) => log(`notify socket: ${err.message}`));
    } catch (err) {
      closeFd(this.fd);
      rmSync(this.path, { force: true });
      throw err;
    }
  }

  close(): void {
    this.watch.close();
    closeFd(this.fd);
    rmSync(this.path, { force: true });
  }
}

/** The first directory on the way to dir that user may not search (x), by its mode bits; undefined when all are. */
function unreachableDir(dir: string, user: UserInfo): string | undefined {
  if (user.uid === 0) return undefined;
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      const st = statSync(current);
      const bit = st.uid === user.uid ? 0o100 : user.groups.includes(st.gid) || st.gid === user.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) return current;
    } catch {
      return current;
    }
    if (current === path.dirname(current)) return undefined;
  }
}
