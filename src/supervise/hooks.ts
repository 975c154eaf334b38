// What runs around the service: `require:` and `require_cmd:` before a start, `post_exit`
// after a run. Each is async; its result comes back to the supervisor as an event.

import type { Config } from '../config/config';
import type { ExitStatus } from '../native';
import { runShellCommand, type LaunchContext } from '../process/launch';
import { shellExitCode } from '../process/signal-names';
import type { ExitRecord } from './service';

/** Names from `require:` that are not up yet (empty: go ahead). */
export type RequireCheck = (names: string[]) => Promise<string[]>;

/** A start must wait for `require:` or `require_cmd:`. */
export function hasPreconditions(config: Config, requireCheck: RequireCheck | undefined): boolean {
  return (config.require.length > 0 && requireCheck !== undefined) || config.requireCmd !== undefined;
}

/**
 * Asks `require:`, then runs `require_cmd:`. Resolves undefined when both hold, else the
 * status note saying what the start waits for. `require_cmd` is not run once `isCancelled`.
 */
export async function checkPreconditions(
  config: Config,
  launch: LaunchContext,
  requireCheck: RequireCheck | undefined,
  isCancelled: () => boolean,
): Promise<string | undefined> {
  if (config.require.length > 0 && requireCheck) {
    const missing = await requireCheck(config.require);
    if (missing.length > 0) return `waiting for require: ${missing.join(', ')}`;
  }
  if (config.requireCmd === undefined || isCancelled()) return undefined;
  let status: ExitStatus;
  try {
    status = await runShellCommand(launch, config.requireCmd).done;
  } catch (err) {
    return `require_cmd: ${(err as Error).message}`;
  }
  return status.code === 0 ? undefined : `waiting for require_cmd (exit ${status.code ?? status.signal})`;
}

/**
 * Runs `post_exit <code>` for the run that ended; resolves when it exits. Undefined when
 * there is none, or it could not be spawned (logged).
 */
export function startPostExit(
  config: Config,
  launch: LaunchContext,
  lastExit: ExitRecord | undefined,
  log: (line: string) => void,
): Promise<unknown> | undefined {
  if (config.postExit === undefined) return undefined;
  // 0 for a followed pid's exit, whose status only its parent saw (docs/follow.md).
  const code = (lastExit && shellExitCode(lastExit.code, lastExit.signal)) ?? 0;
  try {
    return runShellCommand(launch, `${config.postExit} ${code}`).done;
  } catch (err) {
    log(`post_exit failed: ${(err as Error).message}`);
    return undefined;
  }
}
