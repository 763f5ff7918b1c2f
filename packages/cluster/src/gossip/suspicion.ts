/**
 * Lifeguard dynamic suspicion timeout, Dadgar et al. 2018 (arXiv:1707.00788) §IV.B, as in
 * memberlist's suspicion.go.
 *
 * A suspicion starts with a long timeout (`maxMs`) that shrinks towards `minMs` as other
 * members independently confirm it:
 *
 *     timeout(c) = max(minMs, maxMs - (maxMs - minMs) * log(c + 1) / log(k + 1))
 *
 * where c is the count of distinct confirmers (the original suspecter excluded) and k the
 * count expected. A slow node that alone suspects a healthy peer thus waits the longest,
 * which is the time the peer needs to refute.
 */
export class Suspicion {
  /** When the suspicion started (ms). */
  readonly startMs: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly expectedConfirmations: number;
  private readonly confirmers = new Set<string>();

  /**
   * @param fromId the member that raised the suspicion; it cannot confirm it again.
   * @param expectedConfirmations k; 0 or a `maxMs` equal to `minMs` gives a fixed timeout.
   */
  constructor(fromId: string, startMs: number, minMs: number, maxMs: number, expectedConfirmations: number) {
    this.startMs = startMs;
    this.minMs = minMs;
    this.maxMs = Math.max(minMs, maxMs);
    this.expectedConfirmations = expectedConfirmations;
    this.confirmers.add(fromId);
  }

  /** Count of distinct confirmations so far. */
  get confirmationCount(): number {
    return this.confirmers.size - 1;
  }

  /** Records a confirmation; returns true when it came from a member not heard before. */
  confirm(fromId: string): boolean {
    if (this.confirmationCount >= this.expectedConfirmations || this.confirmers.has(fromId)) return false;
    this.confirmers.add(fromId);
    return true;
  }

  /** Current timeout (ms from `startMs`). */
  timeoutMs(): number {
    const k = this.expectedConfirmations;
    if (k < 1) return this.minMs;
    const c = this.confirmationCount;
    const frac = Math.log(c + 1) / Math.log(k + 1);
    return Math.max(this.minMs, Math.floor(this.maxMs - (this.maxMs - this.minMs) * frac));
  }

  /** Absolute time at which the suspect is declared dead. */
  deadlineMs(): number {
    return this.startMs + this.timeoutMs();
  }
}

/**
 * Minimum suspicion timeout, memberlist's `suspicionTimeout`:
 * `suspicionMult * max(1, log10(max(1, n))) * probeIntervalMs`.
 */
export function suspicionMinTimeoutMs(
  suspicionMult: number,
  memberCount: number,
  probeIntervalMs: number,
): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, memberCount)));
  return Math.floor(suspicionMult * nodeScale * probeIntervalMs);
}
