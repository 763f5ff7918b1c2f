/**
 * Lifeguard local health awareness (LHA), Dadgar et al. 2018 (arXiv:1707.00788) §IV.A.
 *
 * A node that misses acks and nacks it should have received is more likely slow itself than
 * surrounded by failures. It keeps a score in [0, max - 1] and multiplies its probe interval
 * and probe timeout by `score + 1`, giving slow replies time to arrive instead of raising
 * false suspicions. Invariant: `0 <= score < maxMultiplier`.
 */
export class Awareness {
  private scoreValue = 0;
  private readonly maxMultiplier: number;

  /** @param maxMultiplier largest timeout multiplier (config `awarenessMaxMultiplier`); 1 disables. */
  constructor(maxMultiplier: number) {
    this.maxMultiplier = maxMultiplier;
  }

  /** Current health score; 0 is healthy. */
  get score(): number {
    return this.scoreValue;
  }

  /**
   * Adds `delta` and clamps. Lifeguard's deltas: +1 for a failed probe with no nack-capable
   * helpers, +1 per missing nack, +1 when refuting a suspicion of ourselves, -1 per
   * successful probe.
   */
  applyDelta(delta: number): void {
    this.scoreValue = Math.min(this.maxMultiplier - 1, Math.max(0, this.scoreValue + delta));
  }

  /** `timeoutMs * (score + 1)`. */
  scaleMs(timeoutMs: number): number {
    return timeoutMs * (this.scoreValue + 1);
  }
}
