// One `immortal` process: supervise dir and lock, control socket, log output, signals,
// and the Supervisor; tears all of it down in order when the supervisor finishes.

import { readFileSync } from 'node:fs';
import type { Config } from './config';
import { startControlServer } from './control/server';
import { resolveUser } from './launch';
import { openServiceOutput } from './log/output';
import { setSubreaper } from './native';
import { requireCheckOverSockets } from './require';
import { acquireSuperviseDir } from './supervise-dir';
import { removePidfileIfOurs, Supervisor, writePidfileAtomically, type FinishReason } from './supervisor';

export interface RunOptions {
  /** Tells a waiting launcher (daemon mode) how the start went. */
  notify?: (message: string) => void;
  log: (line: string) => void;
}

/** Supervises config until halted, stopped or exited; resolves with the process exit code. */
export async function runImmortal(config: Config, opts: RunOptions): Promise<number> {
  const user = resolveUser(config);
  const dir = acquireSuperviseDir(config.superviseDir);
  // Daemons that double-fork stay our descendants: we reap them, nothing is left a zombie.
  setSubreaper();
  if (config.pid.parent) writePidfileAtomically(config.pid.parent, process.pid);
  const output = openServiceOutput(config, user && { uid: user.uid, gid: user.gid });
  const exitAllowed = config.configFile === undefined || process.env.IMMORTAL_EXIT !== undefined;
  const supervisor = new Supervisor({
    config,
    launch: { config, user, stdoutFd: output.stdoutFd, stderrFd: output.stderrFd },
    output,
    ownerUid: process.getuid!(),
    allowExit: exitAllowed,
    exitWhenRetriesUsed: exitAllowed,
    requireCheck: requireCheckOverSockets,
    log: opts.log,
    minRestartMs: testRestartMs(),
  });
  const server = await startControlServer(supervisor, {
    socketPath: dir.socketPath,
    mode: config.socket.mode,
    gid: config.socket.group === undefined ? undefined : groupId(config.socket.group),
  });

  const onTerm = () => supervisor.shutdown();
  const onReopen = () => output.reopen();
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onTerm);
  process.on('SIGHUP', () => {}); // reload belongs to immortaldir; HUP must not kill us
  process.on('SIGUSR1', onReopen);

  supervisor.begin();
  supervisor.firstStart.then(
    () => opts.notify?.('ok'),
    (err: Error) => opts.notify?.(`err ${err.message}`),
  );
  const reason: FinishReason = await supervisor.finished;

  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onTerm);
  process.off('SIGUSR1', onReopen);
  await server.close();
  await output.close();
  if (config.pid.parent) removePidfileIfOurs(config.pid.parent, process.pid);
  dir.release();
  return reason === 'start-error' ? 1 : 0;
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
