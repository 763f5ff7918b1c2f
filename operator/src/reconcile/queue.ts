/**
 * A work queue of cluster keys (`namespace/name`) with the guarantees controllers need:
 * - a key is never processed by two workers at once (a key added while in flight runs
 *   again after the current pass);
 * - adding a queued key again is a no-op (events collapse);
 * - failures come back with exponential backoff per key (base × 2^failures, capped),
 *   reset after a success;
 * - bounded: at most one entry and one timer per key.
 */

/** Backoff settings in milliseconds. */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Delay before retry number `failures` (1-based). Pure. */
export function backoffDelayMs(failures: number, options: BackoffOptions): number {
  return Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, failures - 1));
}

/** The queue. `process` returns an optional requeue delay; a throw counts as a failure. */
export class WorkQueue {
  readonly #pending = new Set<string>();
  readonly #running = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #process: (key: string) => Promise<number | undefined>;
  readonly #onError: (key: string, error: unknown, retryInMs: number) => void;
  readonly #backoff: BackoffOptions;
  #stopped = false;
  #idle: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;

  /** Creates a queue; call `run()` to start the worker loop. */
  constructor(
    process: (key: string) => Promise<number | undefined>,
    onError: (key: string, error: unknown, retryInMs: number) => void,
    backoff: BackoffOptions = { baseMs: 500, maxMs: 60_000 },
  ) {
    this.#process = process;
    this.#onError = onError;
    this.#backoff = backoff;
  }

  /** Queues a key now (collapses with an existing entry). */
  add(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#dirty.add(key);
      return;
    }
    this.#pending.add(key);
    this.#wake?.();
  }

  /** Queues a key after `delayMs` (an earlier timer for the key is replaced). */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timers.get(key));
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.add(key);
      }, delayMs),
    );
  }

  /** Runs the single worker loop until `stop()`; resolves when the last pass has finished. */
  run(): Promise<void> {
    this.#idle = this.#loop();
    return this.#idle;
  }

  /** Stops taking work; resolves once the pass in flight (if any) has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#wake?.();
    await this.#idle;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const key = this.#pending.values().next().value;
      if (key === undefined) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      this.#pending.delete(key);
      this.#running.add(key);
      try {
        const requeueMs = await this.#process(key);
        this.#failures.delete(key);
        if (requeueMs !== undefined) this.addAfter(key, requeueMs);
      } catch (error) {
        const failures = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, failures);
        const delay = backoffDelayMs(failures, this.#backoff);
        this.#onError(key, error, delay);
        this.addAfter(key, delay);
      } finally {
        this.#running.delete(key);
        if (this.#dirty.delete(key)) this.add(key);
      }
    }
  }
}
