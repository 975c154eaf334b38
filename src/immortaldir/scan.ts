// What is in an immortaldir directory right now: every regular `*.yml`, by service name
// (its basename), with a digest of its content so an unchanged file costs nothing.
//
// The directory is looked at every 5 s (watch-dir.ts) for as long as immortaldir runs. First
// by changed(): one native call that signs the whole listing (native/dir_signature.cc), so an
// idle directory costs no object per file. Then, when something changed, by scan(), where a
// file is read and digested only when its own stat changed (inode, size, mtime, ctime).
// File times can be as coarse as a clock tick, so two writes of the same length within one
// tick may leave the same stat behind: a file changed less than RACY_MS ago never counts as
// unchanged (git's "racy clean" rule).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { dirSignature } from '../native';
import { sha256Hex } from '../process/sha256';

export interface ServiceFile {
  /** Basename without .yml: the supervise dir name and the name `require:` uses. */
  name: string;
  file: string;
  hash: string;
}

/** Younger than this, a file's stat does not vouch for its content. */
const RACY_MS = 2000;

interface Seen {
  /** dev, inode, size, mtime and ctime: any write, rename over or chmod changes it. */
  signature: string;
  hash: string;
}

export class ServiceDirScanner {
  private seen = new Map<string, Seen>();
  /** The directory's signature when the last scan began; undefined before the first. */
  private scanned: string | undefined;
  /** The signature changed() took, for the scan() that follows it. */
  private latest: string | undefined;

  /** racyMs: tests only (0: trust every stat at once). */
  constructor(private readonly dir: string, private readonly racyMs = RACY_MS) {}

  /** Whether scan() could find anything new: a file came, went or changed, or changed too recently to tell. */
  changed(): boolean {
    const { signature, newestChangeMs } = dirSignature(this.dir, '.yml');
    this.latest = signature;
    return signature !== this.scanned || this.racy(newestChangeMs, Date.now());
  }

  scan(): Map<string, ServiceFile> {
    // Signed before the files are read (an older signature only makes the next changed()
    // true once more): a change during the scan shows at the next changed().
    this.scanned = this.latest ?? dirSignature(this.dir, '.yml').signature;
    this.latest = undefined;
    const found = new Map<string, ServiceFile>();
    const seen = new Map<string, Seen>();
    const now = Date.now();
    for (const entry of readdirSync(this.dir)) {
      if (!entry.endsWith('.yml') || entry.startsWith('.')) continue;
      const file = path.join(this.dir, entry);
      try {
        const stat = statSync(file);
        if (!stat.isFile()) continue;
        const signature = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
        const known = this.seen.get(file);
        const settled = !this.racy(Math.max(stat.mtimeMs, stat.ctimeMs), now);
        // latin1: every byte kept as one character, whatever the encoding.
        const hash = settled && known?.signature === signature ? known.hash : sha256Hex(readFileSync(file, 'latin1'));
        seen.set(file, { signature, hash });
        const name = entry.slice(0, -'.yml'.length);
        found.set(name, { name, file, hash });
      } catch {
        // removed between readdir and read: the next scan sees it gone
      }
    }
    this.seen = seen;
    return found;
  }

  private racy(changedAtMs: number, now: number): boolean {
    return this.racyMs > 0 && now - changedAtMs <= this.racyMs;
  }
}
