// What a Supervisor is given: its config, how to start the service, who its members are,
// and the rules its caller (`immortal` or immortaldir) sets.

import type { Config } from '../config/config';
import type { ServiceOutput } from '../log/output';
import type { LaunchContext } from '../process/launch';
import type { ServiceMembers } from '../process/members';
import type { RequireCheck } from './hooks';

export interface SupervisorOptions {
  config: Config;
  launch: LaunchContext;
  /** Every process the service started: what a stop, a crash and re-adoption deal with. */
  members: ServiceMembers;
  output: ServiceOutput;
  /** uid besides root allowed to signal over the socket. */
  ownerUid: number;
  /** `exit` over the socket is allowed: command-line runs, or IMMORTAL_EXIT set. */
  allowExit: boolean;
  /** Finish the supervisor once retries are used up (else the service just stays down). */
  exitWhenRetriesUsed: boolean;
  /** Names from `require:` that are not up yet (empty: go ahead). */
  requireCheck?: RequireCheck;
  log: (line: string) => void;
  /** Finish when the very first start fails (default); immortaldir keeps retrying instead. */
  failFirstStart?: boolean;
  /** The 1 s rule (restart-rule.ts); only a test preload shortens it, never the environment. */
  minRestartMs?: number;
}
