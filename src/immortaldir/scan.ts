// What is in an immortaldir directory right now: every regular `*.yml`, by service name
// (its basename), with a hash of its content so an unchanged file costs nothing.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ServiceFile {
  /** Basename without .yml: the supervise dir name and the name `require:` uses. */
  name: string;
  file: string;
  hash: string;
}

export function scanServiceDir(dir: string): Map<string, ServiceFile> {
  const found = new Map<string, ServiceFile>();
  for (const entry of readdirSync(dir)) {
    if (!entry.endsWith('.yml') || entry.startsWith('.')) continue;
    const file = path.join(dir, entry);
    try {
      if (!statSync(file).isFile()) continue;
      const hash = createHash('sha1').update(readFileSync(file)).digest('hex');
      found.set(entry.slice(0, -'.yml'.length), { name: entry.slice(0, -'.yml'.length), file, hash });
    } catch {
      // removed between readdir and read: the next scan sees it gone
    }
  }
  return found;
}
