// run.yml `limits:` as native spawn takes them. Applied in the child between fork and exec,
// as root before the credential change (native/spawn_child.cc): a hard limit can then be
// raised above the supervisor's, and the kernel keeps rlimits across setuid, so the service
// runs with exactly these — what systemd's LimitNOFILE= does. After setuid, an unprivileged
// process could only lower its hard limits.
//
// Who gets them (docs/limits.md): the service, and require_cmd and post_exit, which run "like
// the service" (its user, cwd, environment). Not the logger: it is the supervisor's helper,
// and a `nofile: 16` meant for the service must not starve the process writing its log.

import type { Config } from '../config/config';
import type { ResourceLimit } from '../native';

export function rlimitsOf(config: Config): ResourceLimit[] {
  return Object.entries(config.limits).map(([resource, { soft, hard }]) => ({ resource, soft, hard }));
}
