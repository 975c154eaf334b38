// Signal names and numbers, and an exit as the shell reports it. Pure lookups in Node's own
// table: kept apart from native.ts so status and metrics code never loads the addon.

import { constants } from 'node:os';

const signals = constants.signals as Record<string, number>;
const names = new Map<number, string>(Object.entries(signals).map(([name, num]) => [num, name]));

/** Signal number for a name like 'TERM', 'SIGTERM' or a number; throws on unknown names. */
export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number') return sig;
  const upper = sig.toUpperCase();
  const num = signals[upper.startsWith('SIG') ? upper : `SIG${upper}`];
  if (num !== undefined) return num;
  // signalName's spelling for what Node's table lacks (real-time signals: SIG34…).
  const numbered = /^SIG(\d+)$/.exec(upper);
  if (numbered) return Number(numbered[1]);
  throw new Error(`unknown signal: ${sig}`);
}

export function signalName(num: number): string {
  return names.get(num) ?? `SIG${num}`;
}

/**
 * An exit as one number, the shell's way: the code, or 128 + N when killed by signal N;
 * undefined when neither is known (a followed pid is not our child: its parent got it).
 */
export function shellExitCode(code: number | null, signal: string | null): number | undefined {
  if (code !== null) return code;
  return signal === null ? undefined : 128 + signalNumber(signal);
}
