// Crash-loop backoff, on top of the 1 s rule: a few quick exits are restarted by that rule
// alone; after them each further quick exit doubles an extra delay, capped.

/** Quick exits restarted by the 1 s rule alone before the exponential backoff begins. */
export const freeQuickRestarts = 3;

/** Extra delay before the next start after `quickExits` quick exits in a row; 0 when capMs ≤ 0. */
export function backoffDelayMs(quickExits: number, capMs: number): number {
  const excess = quickExits - freeQuickRestarts;
  return capMs <= 0 || excess <= 0 ? 0 : Math.min(capMs, 1000 * 2 ** (excess - 1));
}
