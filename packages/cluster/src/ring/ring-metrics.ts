/**
 * Measurements of a ring against the ideal: load spread over nodes (coefficient of
 * variation of the share of keys each owns) and the fraction of keys that move when the node
 * set changes (ideal: 1/(N+1) on a join to N nodes, 1/N on a leave from N).
 */

/** Owner lookup; a RingManager's `owner` bound to it qualifies. */
export type OwnerOf = (key: string) => string | undefined;

/** Coefficient of variation (stddev / mean) of keys per node over `nodes`. */
export function loadCv(ownerOf: OwnerOf, nodes: readonly string[], keys: readonly string[]): number {
  const counts = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const k of keys) {
    const o = ownerOf(k);
    if (o !== undefined) counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  const values = [...counts.values()];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return Math.sqrt(variance) / mean;
}

/** Fraction of `keys` whose owner differs between `before` and `after` (`before` computed first). */
export function movedFraction(before: ReadonlyMap<string, string | undefined>, after: OwnerOf): number {
  let moved = 0;
  for (const [k, o] of before) if (after(k) !== o) moved++;
  return moved / before.size;
}

/** Snapshot of owners, for {@link movedFraction}. */
export function ownersOf(ownerOf: OwnerOf, keys: readonly string[]): Map<string, string | undefined> {
  return new Map(keys.map((k) => [k, ownerOf(k)]));
}
