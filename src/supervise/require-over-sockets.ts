// `require: [db, cache]` for a standalone immortal: a required service is up when its
// supervisor answers on its socket with a running pid. Looked up like immortalctl does:
// ~/.immortal/<name> first, then $IMMORTAL_SDIR/<name>. immortaldir checks in-process instead.

import path from 'node:path';
import { getStatus } from '../control/client';
import { superviseRoots } from '../supervise-dir/roots';

export async function requireCheckOverSockets(names: string[]): Promise<string[]> {
  const roots = superviseRoots();
  const missing: string[] = [];
  for (const name of names) {
    if (!(await anyRootHasUp(roots, name))) missing.push(name);
  }
  return missing;
}

async function anyRootHasUp(roots: string[], name: string): Promise<boolean> {
  for (const root of roots) {
    try {
      const status = await getStatus(path.join(root, name, 'immortal.sock'), 1000);
      if (status.pid > 0 && 'up' in status) return true;
    } catch {
      // not there, stale, or slow: not up
    }
  }
  return false;
}
