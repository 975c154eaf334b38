// When the new instance of an overlapped upgrade counts as ready to take over: the one
// decision the readiness work (issue 14, `ready:`) plugs into. Without `ready:`, SPEC §8 says
// once it has run 1 s — the same second as the restart rule: a start that survives it is
// taken as a real start, not a crash at boot.

import type { Config } from '../config/config';

/** Without `ready:`: running this long makes the new instance ready. */
export const UPGRADE_SETTLE_MS = 1000;

export interface ReadinessWait {
  /** Resolves when the instance is ready; rejects with the reason it never will be (not ready in time). */
  ready: Promise<void>;
  /** The upgrade ended otherwise (the instance exited, the supervisor stops): drop timers and probes. */
  cancel(): void;
}

/** Waits until `pid`, started from `config`, is ready to serve. */
export function waitUntilReady(_pid: number, _config: Config): ReadinessWait {
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, UPGRADE_SETTLE_MS);
  });
  return { ready, cancel: () => clearTimeout(timer) };
}
