// Durations exactly as the Go immortal prints them in `up`/`down`: `[Nd][Nh][Nm]S.Ds`.
// The original rounds to the nearest decisecond (it adds half a decisecond, then truncates)
// and leaves out a day/hour/minute unit whose value is zero, even between non-zero units:
// 2 days and 1 second is `2d1.0s`, not `2d0h0m1.0s`. Operators parse this, so keep it byte-exact.

const DECISECOND_MS = 100;
const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Formats an elapsed time in milliseconds; negative or non-finite values count as 0. */
export function formatDuration(elapsedMs: number): string {
  const clamped = Number.isFinite(elapsedMs) && elapsedMs > 0 ? Math.floor(elapsedMs) : 0;
  let rest = clamped + DECISECOND_MS / 2;
  const days = Math.floor(rest / DAY_MS);
  rest %= DAY_MS;
  const hours = Math.floor(rest / HOUR_MS);
  rest %= HOUR_MS;
  const minutes = Math.floor(rest / MINUTE_MS);
  rest %= MINUTE_MS;
  const seconds = Math.floor(rest / SECOND_MS);
  rest %= SECOND_MS;
  const deciseconds = Math.floor(rest / DECISECOND_MS);

  let text = '';
  if (days > 0) text += `${days}d`;
  if (hours > 0) text += `${hours}h`;
  if (minutes > 0) text += `${minutes}m`;
  return `${text}${seconds}.${deciseconds}s`;
}

/** Time from `since` to `now` (both Date.now() values), formatted. */
export function formatSince(since: number, now: number): string {
  return formatDuration(now - since);
}
