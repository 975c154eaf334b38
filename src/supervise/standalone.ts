// One `immortal` process: a single service runtime, the supervisor's own signals, and the
// exit code once the supervisor finishes.

import type { Config } from '../config/config';
import { setSubreaper } from '../native';
import { releaseStartupMemoryLater } from '../process/release-memory';
import { openServiceRuntime } from './runtime';

export interface RunOptions {
  /** Tells a waiting launcher (daemon mode) how the start went. */
  notify?: (message: string) => void;
  log: (line: string) => void;
}

/** Supervises config until halted, stopped or exited; resolves with the process exit code. */
export async function runImmortal(config: Config, opts: RunOptions): Promise<number> {
  // Daemons that double-fork stay our descendants: we reap them, nothing is left a zombie.
  setSubreaper();
  const exitAllowed = config.configFile === undefined || process.env.IMMORTAL_EXIT !== undefined;
  const runtime = await openServiceRuntime(config, {
    log: opts.log,
    allowExit: exitAllowed,
    exitWhenRetriesUsed: exitAllowed,
    // Loaded only by a service with `require:` (the socket client is not needed otherwise).
    requireCheck: (names) => (require('./require-over-sockets') as typeof import('./require-over-sockets')).requireCheckOverSockets(names),
    soleService: true,
  });
  const { supervisor } = runtime;

  const onTerm = () => supervisor.shutdown();
  const onReopen = () => runtime.output.reopen();
  const ignore = () => {}; // reload belongs to immortaldir; HUP must not kill us
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onTerm);
  process.on('SIGHUP', ignore);
  process.on('SIGUSR1', onReopen);

  supervisor.begin();
  releaseStartupMemoryLater();
  let startError: Error | undefined;
  supervisor.firstStart.then(
    () => opts.notify?.('ok'),
    (err: Error) => {
      // Reported below, once socket, lock and log are closed: the launcher's exit 1 must
      // mean nothing of this supervisor is left.
      startError = err;
    },
  );
  const reason = await supervisor.finished;

  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onTerm);
  process.off('SIGHUP', ignore);
  process.off('SIGUSR1', onReopen);
  await runtime.close();
  if (startError) opts.notify?.(`err ${startError.message}`);
  // In the foreground nobody else reports why the command could not start (ENOENT, EACCES):
  // rethrown, the CLI prints it as its one error line, after the lock and socket are gone.
  if (reason === 'start-error' && startError) throw startError;
  return reason === 'start-error' ? 1 : 0;
}
