// When the addon may restart a service by itself, the moment its main process exits and
// before any JavaScript runs (native/prepared_restart.cc: its restart thread, or the reap() that
// collects the process; from SIGCHLD to the next clone the JavaScript path cost ~0.8 ms of cold
// code on every restart).
//
// Only where nothing between the exit and the next start needs JavaScript. What the addon
// judges at the exit itself — the 1 s rule and the backoff are due, cgroup.events says the
// cgroup is empty — it judges; anything else keeps the restart in machine.ts.

import type { Config } from '../config/config';
import { hasPreconditions } from './hooks';
import type { SupervisorOptions } from './options';

/** True when no key of config puts a step of JavaScript between an exit and the next start. */
export function restartNeedsNoJavaScript(config: Config, opts: Pick<SupervisorOptions, 'requireCheck'>): boolean {
  return config.pid.follow === undefined // the pidfile may name a successor to follow instead
    && config.postExit === undefined // runs before the next start
    && !hasPreconditions(config, opts.requireCheck) // require: and require_cmd: are asked before every start
    && config.ready === undefined // a start goes through `starting`, with its own fds and environment
    && config.retries < 0 // a limited count may end the service at this exit
    && config.listen.length === 0 // held sockets: their fds and environment are managed per start
    && config.envDir === undefined; // read at every start: an edit must reach the next run
}
