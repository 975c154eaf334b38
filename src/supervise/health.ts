// `health:` while the service is running: a probe every `interval`; `failures` failed in a
// row and the supervisor restarts the service (graceful: TERM → KILL → start). What the
// record shows ("ok", "failing 2") and the failure counter of /metrics live here.

import type { HealthConfig } from '../config/config';
import type { LaunchContext } from '../process/launch';
import { ProbeLoop, runProbe } from './readiness';

export class HealthMonitor {
  /** Failed probes in a row; 0 after a passing one. */
  consecutive = 0;
  /** Every failed probe since the supervisor began (`immortal_health_failures_total`). */
  totalFailures = 0;
  lastError?: string;
  /** No probe answered yet in this run. */
  private answered = false;
  private loop?: ProbeLoop;

  constructor(private readonly config: HealthConfig, private readonly launch: LaunchContext) {}

  /** The service became ready: probe from one interval on. `failed` gets the reason once `failures` are reached. */
  begin(failed: (reason: string) => void): void {
    this.end();
    this.consecutive = 0;
    this.answered = false;
    const timeoutMs = this.config.timeout * 1000;
    this.loop = new ProbeLoop(() => runProbe(this.config, timeoutMs, this.launch), this.config.interval * 1000, (verdict) => {
      this.answered = true;
      if (verdict === undefined) {
        this.consecutive = 0;
        return;
      }
      this.consecutive++;
      this.totalFailures++;
      this.lastError = verdict;
      if (this.consecutive < this.config.failures) return;
      this.end();
      failed(`health: ${this.consecutive} failed probes (${verdict})`);
    }, this.config.interval * 1000);
  }

  end(): void {
    this.loop?.stop();
    this.loop = undefined;
  }

  /** For the record: "ok", "failing N", or null before the first answer or while not probing. */
  summary(): string | null {
    if (this.loop === undefined || !this.answered) return null;
    return this.consecutive === 0 ? 'ok' : `failing ${this.consecutive}`;
  }
}
