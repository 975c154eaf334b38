// cgroup2: where a service's cgroup lives, and what it holds. Linux only; every function
// answers "not here" (undefined, false) elsewhere so callers fall back to tracking members.
//
// Layout (docs/reliability.md): the supervisor stays in the cgroup it was started in (its
// "base"); the services go below a directory of their own that holds no process:
//
//   <base>/immortal/            no process here, so controllers can be enabled for its
//   <base>/immortal/<service>/  children (the no-internal-process rule); one per service
//
// `cgroup.procs` lists live members only (a zombie has left its cgroup), so an empty file
// means nothing of the service runs.

import { accessSync, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { kill } from '../native';

/** Mount point of the cgroup2 hierarchy, from /proc/self/mountinfo (never a fixed path). */
export function findCgroup2Mount(mountinfo = readOptional('/proc/self/mountinfo')): string | undefined {
  for (const line of mountinfo?.split('\n') ?? []) {
    // id parent major:minor root mountpoint options [optional…] - fstype source super-options
    const [left, right] = line.split(' - ');
    if (right === undefined || right.split(' ')[0] !== 'cgroup2') continue;
    return unescapeMountPath(left.split(' ')[4]);
  }
  return undefined;
}

/** The cgroup2 path of pid ("/" at the root), from /proc/<pid>/cgroup's `0::` line. */
export function cgroupOf(pid: number | 'self'): string | undefined {
  const line = readOptional(`/proc/${pid}/cgroup`)?.split('\n').find((l) => l.startsWith('0::'));
  return line?.slice(3);
}

/**
 * Where this supervisor's services get their cgroups, or undefined when it cannot manage
 * cgroups (not root, no cgroup2, not writable, or IMMORTAL_CGROUP=off: the switch that
 * forces the fallback, for hosts where cgroups belong to someone else and for tests).
 */
export function serviceCgroupTree(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || env.IMMORTAL_CGROUP === 'off') return undefined;
  const mount = findCgroup2Mount();
  const own = cgroupOf('self');
  if (mount === undefined || own === undefined) return undefined;
  // A supervisor that is itself a service (immortal under immortaldir) nests its tree in
  // its own cgroup: stopping that service as a whole then stops what it supervises too.
  const tree = path.join(mount, own, 'immortal');
  try {
    mkdirSync(tree, { recursive: true });
    accessSync(path.join(tree, 'cgroup.procs'), constants.W_OK);
    return tree;
  } catch {
    return undefined;
  }
}

/** One service's cgroup directory. */
export class ServiceCgroup {
  constructor(readonly dir: string) {}

  /** Creates (or reuses) tree/<name>. */
  static open(tree: string, name: string): ServiceCgroup {
    const dir = path.join(tree, name);
    mkdirSync(dir, { recursive: true });
    return new ServiceCgroup(dir);
  }

  /** The directory, open for spawn to start the child inside it (native cgroupFd). */
  openForJoin(): number {
    return openSync(this.dir, constants.O_RDONLY | constants.O_DIRECTORY);
  }

  /** Live pids in the cgroup (its descendants' cgroups included). */
  pids(): number[] {
    // The question after every exit is "anything left?", and the answer is mostly no:
    // cgroup.events says so for the whole subtree in one read, where listing takes a read
    // of cgroup.procs and a directory walk for the sub-cgroups.
    if (this.populated() === false) return [];
    const pids = this.ownPids();
    for (const child of this.childDirs()) pids.push(...new ServiceCgroup(child).pids());
    return pids;
  }

  /**
   * KILL everything at once, also processes forked while we iterate: cgroup.kill (Linux
   * 5.14) does it in the kernel; older kernels get a loop until the list stays empty.
   */
  killAll(): void {
    try {
      writeFileSync(path.join(this.dir, 'cgroup.kill'), '1');
      return;
    } catch {
      // no cgroup.kill: fall through to signalling one by one
    }
    for (let round = 0; round < 100 && this.killEach() > 0; round++);
  }

  /** SIGKILL to every member one by one; how many were still there. */
  private killEach(): number {
    let count = 0;
    for (const pid of this.pids()) {
      try {
        kill(pid, 'SIGKILL');
        count++;
      } catch {
        // gone between the read and the signal
      }
    }
    return count;
  }

  /** CPU seconds of every member since the cgroup was made (cpu.stat exists without the cpu controller). */
  cpuSeconds(): number | undefined {
    const usage = readOptional(path.join(this.dir, 'cpu.stat'))?.match(/^usage_usec (\d+)$/m);
    return usage ? Number(usage[1]) / 1e6 : undefined;
  }

  /** memory.current, present only where the memory controller is enabled for this cgroup. */
  memoryBytes(): number | undefined {
    const text = readOptional(path.join(this.dir, 'memory.current'));
    return text === undefined ? undefined : Number(text.trim());
  }

  /** Removes the directory once empty; false while members remain (EBUSY). */
  remove(): boolean {
    try {
      for (const child of this.childDirs()) rmdirSync(child);
      rmdirSync(this.dir);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  /** cgroup.events' `populated`: whether a live process is in this cgroup or below; undefined without the file. */
  private populated(): boolean | undefined {
    const flag = readOptional(path.join(this.dir, 'cgroup.events'))?.match(/^populated ([01])$/m);
    return flag ? flag[1] === '1' : undefined;
  }

  private ownPids(): number[] {
    const text = readOptional(path.join(this.dir, 'cgroup.procs')) ?? '';
    return text.split('\n').filter(Boolean).map(Number);
  }

  /** Sub-cgroups a service made for itself (systemd-like services, containers). */
  private childDirs(): string[] {
    const dirs: string[] = [];
    for (const entry of readDirOptional(this.dir)) if (entry.isDirectory()) dirs.push(path.join(this.dir, entry.name));
    return dirs;
  }
}

/** Closes an fd from openForJoin once the spawn no longer needs it. */
export function closeJoinFd(fd: number): void {
  closeSync(fd);
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readDirOptional(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
