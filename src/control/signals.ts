// The names accepted by `GET /signal/<name>`: one table, one row per action, every alias the
// Go immortal accepts. Names are case-sensitive as in the original (`TERM` and `term` work,
// `Term` does not).
//
// One deliberate wrinkle kept from SPEC §3: `s` and `STOP` send SIGSTOP, while `stop` means
// "down" (TERM and do not restart). The Go socket sent SIGSTOP for `stop` too and only its
// immortalctl translated `stop` to `down`; with this table curl and immortalctl agree.

import type { ServiceControl } from '../supervise/service';

type SignalAction = (service: ServiceControl) => string;

export interface SignalRow {
  /** Every name that selects this action. */
  names: readonly string[];
  /** One line for docs and `immortalctl --help`. */
  description: string;
  action: SignalAction;
}

function send(signal: string): SignalAction {
  return (service) => service.signal(signal);
}

export const SIGNAL_TABLE: readonly SignalRow[] = [
  { names: ['u', 'up', 'start'], description: 'start if not running; restart on exit from now on', action: (s) => s.up() },
  { names: ['d', 'down', 'stop'], description: 'TERM the service; do not restart it', action: (s) => s.down() },
  { names: ['o', 'once'], description: 'start if not running; do not restart after it exits', action: (s) => s.once() },
  { names: ['t', 'term', 'TERM'], description: 'send SIGTERM', action: send('SIGTERM') },
  { names: ['h', 'hup', 'HUP'], description: 'send SIGHUP', action: send('SIGHUP') },
  { names: ['i', 'int', 'INT'], description: 'send SIGINT', action: send('SIGINT') },
  { names: ['q', 'quit', 'QUIT'], description: 'send SIGQUIT', action: send('SIGQUIT') },
  { names: ['a', 'alrm', 'ALRM'], description: 'send SIGALRM', action: send('SIGALRM') },
  { names: ['c', 'cont', 'CONT'], description: 'send SIGCONT', action: send('SIGCONT') },
  { names: ['1', 'usr1', 'USR1'], description: 'send SIGUSR1', action: send('SIGUSR1') },
  { names: ['2', 'usr2', 'USR2'], description: 'send SIGUSR2', action: send('SIGUSR2') },
  { names: ['w', 'winch', 'WINCH'], description: 'send SIGWINCH', action: send('SIGWINCH') },
  { names: ['in', 'ttin', 'TTIN'], description: 'send SIGTTIN', action: send('SIGTTIN') },
  { names: ['ou', 'ttou', 'TTOU'], description: 'send SIGTTOU', action: send('SIGTTOU') },
  { names: ['s', 'STOP'], description: 'send SIGSTOP (`stop` means down)', action: send('SIGSTOP') },
  { names: ['k', 'kill', 'KILL'], description: 'send SIGKILL', action: send('SIGKILL') },
  { names: ['halt', 'restart'], description: 'TERM the service and exit the supervisor', action: (s) => s.halt() },
  { names: ['x', 'exit'], description: 'exit the supervisor, leaving the service running', action: (s) => s.exit() },
];

const ACTION_BY_NAME: ReadonlyMap<string, SignalAction> = new Map(
  SIGNAL_TABLE.flatMap((row) => row.names.map((name) => [name, row.action] as const)),
);

/** All accepted names, in table order. */
export function signalNames(): string[] {
  return SIGNAL_TABLE.flatMap((row) => [...row.names]);
}

export function isSignalName(name: string): boolean {
  return ACTION_BY_NAME.has(name);
}

/** Runs the action named `name`; returns '' or the text for `{"Err": …}`. */
export function dispatchSignal(service: ServiceControl, name: string): string {
  const action = ACTION_BY_NAME.get(name);
  if (action === undefined) return `unknown signal: ${name}`;
  return action(service);
}
