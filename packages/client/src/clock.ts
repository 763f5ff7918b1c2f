/**
 * The client's clock: where back-off sleeps and the retry budget get their time. Injected
 * (LongbowClientOptions.clock) so tests can record the sleeps the client asks for and
 * advance time without waiting; the default is the real one.
 */

/** Time as the client sees it. */
export interface ClientClock {
  /** Monotonic time, ms (any origin; only differences are used). */
  nowMs(): number;
  /** Resolves after `ms` milliseconds (ms ≥ 0). */
  sleep(ms: number): Promise<void>;
}

/** `performance.now()` and `setTimeout`. */
export const realClock: ClientClock = Object.freeze({
  nowMs: () => performance.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
});
