// The 1 s rule: no process we supervise — service or logger — is started again sooner than
// this after its previous start, so a crash loop costs at most one start a second.

const defaultMs = 1000;

/** 1000 ms; only tests shorten it (IMMORTAL_TEST_RESTART_MS), and the default is tested apart. */
export function minRestartMs(): number {
  const value = Number(process.env.IMMORTAL_TEST_RESTART_MS);
  return Number.isFinite(value) && value > 0 ? value : defaultMs;
}
