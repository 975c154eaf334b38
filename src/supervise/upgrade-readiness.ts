// When the new instance of an overlapped upgrade counts as ready to take over. SPEC §8: by
// the readiness rules (issue 14) — a `ready:` probe (http, tcp, cmd) must pass within
// `ready.timeout` — and without `ready:`, once it has run 1 s: the same second as the restart
// rule, so a start that survives it is a real start, not a crash at boot.

import type { Config } from '../config/config';
import type { LaunchContext } from '../process/launch';
import { ProbeLoop, runProbe } from './readiness';

/** Without `ready:`: running this long makes the new instance ready. */
export const UPGRADE_SETTLE_MS = 1000;

export interface ReadinessWait {
  /** Resolves when the instance is ready; rejects with the reason it never will be (not ready in time). */
  ready: Promise<void>;
  /** The upgrade ended otherwise (the instance exited, the supervisor stops): drop timers and probes. */
  cancel(): void;
}

/**
 * Why this config cannot be upgraded with an overlap, or undefined. `notify:` readiness
 * speaks for the service's one main process through one socket or fd: during an overlap it
 * could not tell the new instance's READY=1 from the old one's, so it is refused rather than
 * guessed. A probe runs as written: behind held sockets both instances answer the shared
 * port, so an upgrade's probe must name something only the new instance answers (its own
 * admin port, a cmd that asks it by pid) — docs/zero-downtime.md.
 */
export function upgradeRefusal(config: Config): string | undefined {
  if (config.ready?.notify !== undefined) return 'ready.notify cannot tell two instances apart: use an http, tcp or cmd probe for upgrades';
  return undefined;
}

/** Waits until `pid`, started from `config`, is ready to serve. */
export function waitUntilReady(_pid: number, config: Config, launch: LaunchContext): ReadinessWait {
  const probe = config.ready?.probe;
  let timer: NodeJS.Timeout | undefined;
  let loop: ProbeLoop | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    if (probe === undefined) {
      timer = setTimeout(resolve, UPGRADE_SETTLE_MS);
      return;
    }
    let lastError = 'no probe answered yet';
    const timeoutMs = config.ready!.timeout * 1000;
    timer = setTimeout(() => reject(new Error(`${config.ready!.timeout} s (last probe: ${lastError})`)), timeoutMs);
    loop = new ProbeLoop(() => runProbe(probe, Math.min(timeoutMs, 5000), { ...launch, config }), config.ready!.interval * 1000, (verdict) => {
      if (verdict === undefined) return resolve();
      lastError = verdict;
    });
  });
  return {
    ready,
    cancel: () => {
      clearTimeout(timer);
      loop?.stop();
    },
  };
}
