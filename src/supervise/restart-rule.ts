// The 1 s rule: no process we supervise — service or logger — is started again sooner than
// this after its previous start, so a crash loop costs at most one start a second.
//
// Tests need it shorter. No environment variable may do that (an installed package must not
// be weakened by a stray variable): the only way is code already running in the process, a
// test preload (`node --require test/fixtures/restart-rule-preload.cjs …`) that sets the
// process-global below. A detached copy inherits it through execArgv (supervise/detach.ts).

const defaultMs = 1000;

/** The key a test preload sets on globalThis (a number of ms). */
export const TEST_RESTART_HOOK = Symbol.for('immortal.test.minRestartMs');

/** 1000 ms, unless a test preload shortened it (see above). */
export function minRestartMs(): number {
  const value = (globalThis as Record<symbol, unknown>)[TEST_RESTART_HOOK];
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : defaultMs;
}
