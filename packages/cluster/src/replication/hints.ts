/**
 * Hinted handoff (Dynamo §4.6; Cassandra's hints): a coordinator that could not get a write
 * to a replica keeps it as a *hint* for that replica and replays it when the replica is
 * back. Hints are an extra copy, never a vote: they do not count toward W.
 *
 * This is the bounded, pure bookkeeping: hints per target in arrival order, a cap per target
 * (`maxPerTarget`; a target that overflows is marked `needsRepair`, and anti-entropy, not
 * hints, brings it up to date, as Cassandra stops hinting after `max_hint_window`), and the
 * counters the metrics export. Durability is the host's: the node keeps hints in a log of
 * its own beside the WAL and calls {@link HintLog.add} again on replay.
 */

/** One hint: a change for `target`'s replica of `dataset`/`shard`. `payload` is opaque here. */
export interface Hint<P = unknown> {
  readonly target: string;
  readonly dataset: string;
  readonly shard: number;
  readonly payload: P;
}

/** Totals since creation, for `longbow_hints_*`. */
export interface HintCounters {
  stored: number;
  replayed: number;
  /** Dropped because the target's queue was full (the target then needs anti-entropy). */
  dropped: number;
}

export class HintLog<P = unknown> {
  readonly maxPerTarget: number;
  readonly counters: HintCounters = { stored: 0, replayed: 0, dropped: 0 };
  private readonly queues = new Map<string, Hint<P>[]>();
  private readonly overflowed = new Set<string>();

  /** @param maxPerTarget hints kept per target before it is marked for repair instead (≥ 1). */
  constructor(maxPerTarget = 100_000) {
    if (!Number.isInteger(maxPerTarget) || maxPerTarget < 1)
      throw new RangeError(`maxPerTarget must be ≥ 1, got ${maxPerTarget}`);
    this.maxPerTarget = maxPerTarget;
  }

  /** Keeps a hint; returns false (and marks the target for repair) when its queue is full. */
  add(hint: Hint<P>): boolean {
    let q = this.queues.get(hint.target);
    if (!q) {
      q = [];
      this.queues.set(hint.target, q);
    }
    if (q.length >= this.maxPerTarget) {
      this.counters.dropped++;
      this.overflowed.add(hint.target);
      return false;
    }
    q.push(hint);
    this.counters.stored++;
    return true;
  }

  /** Targets with hints waiting, sorted. */
  targets(): string[] {
    return [...this.queues.keys()].filter((t) => this.queues.get(t)!.length > 0).sort();
  }

  /** Hints waiting for `target`. */
  pending(target: string): number {
    return this.queues.get(target)?.length ?? 0;
  }

  /** Whether `target` has hints waiting for `dataset`/`shard` (then it is not chosen for `one` reads of it). */
  hasPending(target: string, dataset: string, shard: number): boolean {
    return this.queues.get(target)?.some((h) => h.dataset === dataset && h.shard === shard) ?? false;
  }

  /** The oldest `max` hints for `target`, still kept until {@link HintLog.delivered}. */
  peek(target: string, max: number): readonly Hint<P>[] {
    return (this.queues.get(target) ?? []).slice(0, max);
  }

  /** Drops the oldest `count` hints of `target`: the target made them durable. */
  delivered(target: string, count: number): void {
    const q = this.queues.get(target);
    if (!q || count <= 0) return;
    const n = Math.min(count, q.length);
    q.splice(0, n);
    this.counters.replayed += n;
    if (q.length === 0) this.queues.delete(target);
  }

  /** Targets whose hints overflowed since the last {@link HintLog.repaired}: they need anti-entropy. */
  needsRepair(): string[] {
    return [...this.overflowed].sort();
  }

  /** Anti-entropy brought `target` up to date; its overflow mark goes. */
  repaired(target: string): void {
    this.overflowed.delete(target);
  }

  /** Forgets every hint for `target` (it left the ring, or was rebuilt from its peers). */
  discard(target: string): void {
    this.queues.delete(target);
    this.overflowed.delete(target);
  }
}
