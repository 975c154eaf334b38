// The sd_notify socket of `ready: {notify: systemd}`: a unix datagram socket in the supervise
// dir (`notify.sock`), named to the service by NOTIFY_SOCKET. Only the service's user may
// send (the file is chowned to the -u user, mode 0600), and only a member of the service is
// listened to: the kernel's SCM_CREDENTIALS give the sender's pid, checked by the caller.

import { chmodSync, chownSync, rmSync } from 'node:fs';
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
