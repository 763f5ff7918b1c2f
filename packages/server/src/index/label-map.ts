/**
 * Graph labels ⇄ row ordinals for an index loaded from a saved graph.
 *
 * A dataset's row ordinals are dense: 0 … rowCount−1 in commit order. A snapshot writes live
 * rows only, so after a restart the rows that were replaced or deleted before the snapshot
 * are gone and every later row's ordinal moves down. The saved HNSW graphs keep the labels
 * they were built with. Rather than rebuild the graphs, the index keeps the sorted list of
 * *dead labels* — labels that no longer name a row — and maps between the two spaces:
 *
 *   ordinal(label) = label − |{d ∈ dead : d < label}|        (label not dead)
 *   label(ordinal) = the ordinal-th label that is not dead
 *
 * Both are monotonic, so a range of ordinals is a range of labels with the dead ones taken
 * out, and rows appended after the restart get labels `ordinal + |dead|`, above every dead
 * label. With no dead labels both maps are the identity (the common case, no cost).
 *
 * Dead labels are also tombstoned in (or absent from) the graphs, so a search never returns
 * one; `ordinalOf` answers −1 for them all the same.
 */
export class LabelMap {
  /** Dead labels, strictly increasing. */
  readonly dead: Uint32Array;

  /** @param dead dead labels, strictly increasing (checked). */
  constructor(dead: Uint32Array = new Uint32Array(0)) {
    for (let i = 1; i < dead.length; i++)
      if (dead[i]! <= dead[i - 1]!) throw new RangeError(`dead labels must be strictly increasing (at ${i})`);
    this.dead = dead;
  }

  /** True when labels and ordinals coincide. */
  get identity(): boolean {
    return this.dead.length === 0;
  }

  /** Number of dead labels below `label` (binary search). */
  private deadBelow(label: number): number {
    const d = this.dead;
    let lo = 0;
    let hi = d.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d[mid]! < label) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The row ordinal of `label`, or −1 when the label is dead. */
  ordinalOf(label: number): number {
    if (this.identity) return label;
    const below = this.deadBelow(label);
    if (this.dead[below] === label) return -1;
    return label - below;
  }

  /**
   * The first ordinal whose label is at or past `label`: the ordinal range of the label
   * range [a, b) is [ordinalCeil(a), ordinalCeil(b)).
   */
  ordinalCeil(label: number): number {
    return this.identity ? label : label - this.deadBelow(label);
  }

  /** The label of row `ordinal`. */
  labelOf(ordinal: number): number {
    if (this.identity) return ordinal;
    // label = ordinal + k, where k counts the dead labels d_i with d_i − i ≤ ordinal
    // (d_i − i is non-decreasing because the d_i are strictly increasing).
    const d = this.dead;
    let lo = 0;
    let hi = d.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d[mid]! - mid <= ordinal) lo = mid + 1;
      else hi = mid;
    }
    return ordinal + lo;
  }

  /** The first dead label above `label`, or Infinity. */
  nextDeadAfter(label: number): number {
    const i = this.deadBelow(label + 1);
    return i < this.dead.length ? this.dead[i]! : Number.POSITIVE_INFINITY;
  }

  /**
   * The map after the rows at `ordinals` (any order) are gone as well: their labels join
   * the dead ones. Used when a snapshot drops tombstoned rows.
   */
  withDeadOrdinals(ordinals: ArrayLike<number>): LabelMap {
    if (ordinals.length === 0) return this;
    const added = Float64Array.from(ordinals, (o) => this.labelOf(o)).sort();
    const out = new Uint32Array(this.dead.length + added.length);
    let i = 0;
    let j = 0;
    let n = 0;
    while (i < this.dead.length || j < added.length) {
      const next =
        j >= added.length || (i < this.dead.length && this.dead[i]! < added[j]!)
          ? this.dead[i++]!
          : added[j++]!;
      if (n === 0 || out[n - 1]! !== next) out[n++] = next;
    }
    return new LabelMap(out.subarray(0, n));
  }

  /**
   * `allowed`, a bitmap over ordinals (bit o of byte o >> 3), as a bitmap over labels.
   * Returns `allowed` itself when the map is the identity.
   */
  labelBitmap(allowed: Uint8Array): Uint8Array {
    if (this.identity) return allowed;
    const rowCount = allowed.length * 8;
    const out = new Uint8Array((this.labelOf(Math.max(0, rowCount - 1)) >>> 3) + 1);
    let k = 0; // dead labels below the current label
    for (let o = 0; o < rowCount; o++) {
      if (((allowed[o >>> 3] ?? 0) & (1 << (o & 7))) === 0) continue;
      while (k < this.dead.length && this.dead[k]! - k <= o) k++;
      const label = o + k;
      out[label >>> 3]! |= 1 << (label & 7);
    }
    return out;
  }
}
