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

/** Services under the given roots; a missing or unreadable root simply contributes none. */
export async function discoverServices(roots: readonly string[] = superviseRoots()): Promise<DiscoveredService[]> {
  const perRoot = await Promise.all(roots.map(servicesUnder));
  return perRoot.flat();
}

async function servicesUnder(root: string): Promise<DiscoveredService[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(root);
  } catch {
    return [];
  }
  const found = await Promise.all(names.sort().map((name) => serviceAt(root, name)));
  return found.filter((service): service is DiscoveredService => service !== undefined);
}

async function serviceAt(root: string, name: string): Promise<DiscoveredService | undefined> {
  const dir = path.join(root, name);
  const socketPath = path.join(dir, SOCKET_NAME);
  try {
    // stat, not lstat, for the directory: a symlinked supervise dir is still a service.
    const [dirStat, socketStat] = await Promise.all([fs.promises.stat(dir), fs.promises.lstat(socketPath)]);
    if (!dirStat.isDirectory() || !socketStat.isSocket()) return undefined;
  } catch {
    return undefined;
  }
  return { name, dir, socketPath };
}
