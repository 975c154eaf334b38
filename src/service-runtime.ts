// Everything one supervised service owns besides its process: the supervise dir and its
// lock, the log output, the control socket and the Supervisor. Shared by `immortal` (one)
// and `immortaldir` (many in one process).

import { readFileSync } from 'node:fs';
import type { Config } from './config';
import { startControlServer, type ControlServer } from './control/server';
import { resolveUser } from './launch';
import { openServiceOutput, type ServiceOutput } from './log/output';
import { removePidfileIfOurs, writePidfileAtomically } from './pidfile';
import { acquireSuperviseDir, type SuperviseDir } from './supervise-dir';
import { Supervisor, type SupervisorOptions } from './supervisor';

export interface ServiceRuntimeOptions {
  log: (line: string) => void;
  allowExit: boolean;
  exitWhenRetriesUsed: boolean;
  requireCheck?: SupervisorOptions['requireCheck'];
  failFirstStart?: boolean;
}

export interface ServiceRuntime {
  readonly supervisor: Supervisor;
  readonly output: ServiceOutput;
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
  try {
    output = openServiceOutput(config, user && { uid: user.uid, gid: user.gid });
    const supervisor = new Supervisor({
      config,
      launch: { config, user, stdoutFd: output.stdoutFd, stderrFd: output.stderrFd },
      output,
      ownerUid: process.getuid!(),
      allowExit: opts.allowExit,
      exitWhenRetriesUsed: opts.exitWhenRetriesUsed,
      requireCheck: opts.requireCheck,
      failFirstStart: opts.failFirstStart,
      log: opts.log,
      minRestartMs: testRestartMs(),
    });
    const server = await startControlServer(supervisor, {
      socketPath: dir.socketPath,
      mode: config.socket.mode,
      gid: config.socket.group === undefined ? undefined : groupId(config.socket.group),
    });
    if (config.pid.parent) writePidfileAtomically(config.pid.parent, process.pid);
    return { supervisor, output, close: () => closeAll(config, server, output!, dir) };
  } catch (err) {
    await output?.close();
    dir.release();
    throw err;
  }
}

async function closeAll(config: Config, server: ControlServer, output: ServiceOutput, dir: SuperviseDir): Promise<void> {
  await server.close();
  await output.close();
  if (config.pid.parent) removePidfileIfOurs(config.pid.parent, process.pid);
  dir.release();
}

/** Tests may shorten the 1 s rule; production never sets this, and it is tested apart. */
function testRestartMs(): number | undefined {
  const value = Number(process.env.IMMORTAL_TEST_RESTART_MS);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** A group name or number to a gid (the socket's group owner). */
export function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === group);
  if (line === undefined) throw new Error(`socket.group: unknown group "${group}"`);
  return Number(line.split(':')[2]);
}
