/**
 * Retry delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter", 2015): attempt n waits a uniform random time in
 * `[0, min(maxMs, baseMs · 2^n))`, so clients that failed together do not retry together.
 * Pure: the random source is injected.
 */

/** Delay before retry number `retry` (0-based), ms. `random` returns [0, 1). */
export function backoffDelayMs(
  retry: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}
