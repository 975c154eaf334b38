// Where supervisors live: every directory holding an `immortal.sock` socket under the user's
// ~/.immortal and under $IMMORTAL_SDIR (default /var/run/immortal), in that order, sorted by
// name within each root so output is stable. Shared by immortalctl and immortaldir.

import fs from 'node:fs';
import path from 'node:path';
import { superviseRoots } from '../supervise-dir/roots';

export const SOCKET_NAME = 'immortal.sock';

export interface DiscoveredService {
  /** The supervise directory's basename. */
  name: string;
  /** Absolute supervise directory. */
  dir: string;
  socketPath: string;
}

/**
 * Services under the given roots; a missing or unreadable root simply contributes none.
 * Synchronous inside (a few stats of local directories): fs/promises would load two more
 * internal modules into every immortalctl run (docs/performance.md).
 */
export async function discoverServices(roots: readonly string[] = superviseRoots()): Promise<DiscoveredService[]> {
  return roots.flatMap(servicesUnder);
}

function servicesUnder(root: string): DiscoveredService[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const found = names.sort().map((name) => serviceAt(root, name));
  return found.filter((service): service is DiscoveredService => service !== undefined);
}

function serviceAt(root: string, name: string): DiscoveredService | undefined {
  const dir = path.join(root, name);
  const socketPath = path.join(dir, SOCKET_NAME);
  try {
    // stat, not lstat, for the directory: a symlinked supervise dir is still a service.
    if (!fs.statSync(dir).isDirectory() || !fs.lstatSync(socketPath).isSocket()) return undefined;
  } catch {
    return undefined;
  }
  return { name, dir, socketPath };
}
