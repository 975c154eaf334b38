// Everything one supervised service owns besides its process: the supervise dir and its
// lock, the log output, the control socket and the Supervisor. Shared by `immortal` (one)
// and `immortaldir` (many in one process).

import { readFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import { startControlServer, type ControlServer, type ControlServerOptions } from '../control/server';
import { resolveUser } from '../process/launch';
import { HeldSockets } from '../process/held-sockets';
import { ServiceMembers } from '../process/members';
import { applyCgroupLimits } from '../process/cgroup-limits';
import { openServiceOutput, type ServiceOutput } from '../log/output';
import { readPidfile, removePidfileIfOurs, writePidfileAtomically } from '../process/pidfile';
import { processStartTime } from '../process/proc';
import { acquireSuperviseDir } from '../supervise-dir/lock';
import { SuperviseDirWatch } from '../supervise-dir/watch';
import { MemoryWatch } from './memory-watch';
import { minRestartMs } from './restart-rule';
import { Supervisor, type SupervisorOptions } from './supervisor';

export interface ServiceRuntimeOptions {
  log: (line: string) => void;
  allowExit: boolean;
  exitWhenRetriesUsed: boolean;
  requireCheck?: SupervisorOptions['requireCheck'];
  failFirstStart?: boolean;
  /** This process supervises this service alone (`immortal`): orphans re-parented to it are the service's. */
  soleService: boolean;
}

export interface ServiceRuntime {
  readonly supervisor: Supervisor;
  readonly output: ServiceOutput;
  readonly members: ServiceMembers;
  /** The `listen:` sockets, held until close(). */
  readonly heldSockets: HeldSockets;
  /** Socket, log output, supervisor pidfile and lock, in that order; after `finished`. */
  close(): Promise<void>;
}

/**
 * Opens the service without starting it (call supervisor.begin()). Fails — with nothing
 * left behind — on a held lock, an unopenable log or socket.
 */
export async function openServiceRuntime(config: Config, opts: ServiceRuntimeOptions): Promise<ServiceRuntime> {
  const user = resolveUser(config);
  const dir = acquireSuperviseDir(config.superviseDir);
  let output: ServiceOutput | undefined;
  let server: ControlServer | undefined;
  let heldSockets: HeldSockets | undefined;
  let runningPids: number[] = [];
  let members: ServiceMembers | undefined;
  try {
    output = openServiceOutput(config, user && { uid: user.uid, gid: user.gid }, { report: opts.log });
    members = new ServiceMembers({ superviseDir: config.superviseDir, name: config.name, orphansAreMembers: opts.soleService });
    // run.yml `cgroup:` applied before anything starts, or the start is refused naming the key.
    applyCgroupLimits(config, members.cgroupDir);
    // Bound here, as root, before anything starts; taken back from a service left running.
    runningPids = config.listen.length > 0 ? members.pids() : [];
    heldSockets = HeldSockets.open(config, user, runningPids, opts.log);
    const supervisor = new Supervisor({
      config,
      launch: { config, user, stdoutFd: output.stdoutFd, stderrFd: output.stderrFd, copiers: output.copiers, members, heldSockets },
      members,
      output,
      ownerUid: process.getuid!(),
      allowExit: opts.allowExit,
      exitWhenRetriesUsed: opts.exitWhenRetriesUsed,
      requireCheck: opts.requireCheck,
      failFirstStart: opts.failFirstStart,
      log: opts.log,
      minRestartMs: minRestartMs(),
    });
    const serverOptions: Omit<ControlServerOptions, 'socketPath'> = {
      mode: config.socket.mode,
      gid: config.socket.group === undefined ? undefined : groupId(config.socket.group),
    };
    const startServer = (socketPath: string) => startControlServer(supervisor, { ...serverOptions, socketPath });
    server = await startServer(dir.socketPath);
    if (config.pid.parent) writePidfileAtomically(config.pid.parent, process.pid);
    const watch = new SuperviseDirWatch(dir, server, {
      startServer,
      restore: (recreated) => restoreChildPidfile(supervisor, recreated.dir, opts.log),
      log: opts.log,
    });
    watchMemory(config, supervisor, members);
    const sockets = heldSockets;
    return { supervisor, output, members, heldSockets, close: () => closeAll(config, watch, output!, members!, sockets) };
  } catch (err) {
    // A service left running still serves on its unix files.
    heldSockets?.close(runningPids.length === 0);
    members?.release();
    await server?.close();
    await output?.close();
    dir.release();
    throw err;
  }
}

/** run.yml `restart_if.memory`: sampled while the supervisor lives (memory-watch.ts), stopped when it finishes. */
function watchMemory(config: Config, supervisor: Supervisor, members: ServiceMembers): void {
  if (config.restartIf.memory === undefined) return;
  const memoryWatch = new MemoryWatch(config.restartIf.memory, {
    runningPid: () => (supervisor.currentState === 'running' ? supervisor.snapshot().pid : undefined),
    memoryBytes: () => members.usage().memoryBytes,
    restart: (reason) => supervisor.restartFor('memory', reason),
  });
  memoryWatch.start();
  void supervisor.finished.then(() => memoryWatch.stop());
}

async function closeAll(config: Config, watch: SuperviseDirWatch, output: ServiceOutput, members: ServiceMembers, sockets: HeldSockets): Promise<void> {
  // Empty after a stop; still in use after `exit` left the service running (kept for re-adoption).
  const gone = members.release();
  sockets.close(gone && (sockets.count === 0 || members.empty()));
  const { dir, server } = await watch.stop();
  await server?.close();
  await output.close();
  if (config.pid.parent) removePidfileIfOurs(config.pid.parent, process.pid);
  dir.release();
}

/**
 * child.pid in a recreated supervise dir: without it a supervisor killed later could not
 * re-adopt the service. Its mtime is set to the process's start time, because re-adoption
 * trusts only a pidfile written within seconds of the process's start.
 */
function restoreChildPidfile(supervisor: Supervisor, dir: string, log: (line: string) => void): void {
  const { running, fpid, pid, since } = supervisor.snapshot();
  const file = path.join(dir, 'child.pid');
  if (!running || fpid || readPidfile(file) === pid) return;
  try {
    writePidfileAtomically(file, pid);
    const startedSeconds = (processStartTime(pid) ?? since) / 1000;
    utimesSync(file, startedSeconds, startedSeconds);
  } catch (err) {
    log(`cannot write ${file}: ${(err as Error).message}`);
  }
}

/** A group name or number to a gid (the socket's group owner). */
export function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === group);
  if (line === undefined) throw new Error(`socket.group: unknown group "${group}"`);
  return Number(line.split(':')[2]);
}
