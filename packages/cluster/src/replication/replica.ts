/**
 * The replica-side rules of a shard, in memory: last-writer-wins entries with tombstones,
 * kept alongside their {@link ShardDigest}; and the catch-up rule that decides when a
 * replica that was away may serve reads again. The node's store applies the same
 * last-writer-wins rule to Arrow batches (packages/server, `store/dataset.ts`); this model is
 * what the replication simulation runs and checks the store's rule against.
 */
import { compareVersions } from '../versions/version.ts';
import { DEFAULT_DIGEST_DEPTH, leafOf, ShardDigest } from './digest.ts';
import { type ReplicaState, requiredReplicas, type VersionedEntry } from './quorum.ts';
import type { RowKey } from './shard-key.ts';

/** One shard's replica: id → newest entry (tombstones included), with its digest. */
export class ShardReplica<T = unknown> {
  readonly digest: ShardDigest;
  private readonly entries = new Map<RowKey, VersionedEntry<T>>();

  constructor(depth: number = DEFAULT_DIGEST_DEPTH) {
    this.digest = new ShardDigest(depth);
  }

  /** Applies a change by last-writer-wins; true when it replaced the entry (newer version). */
  apply(id: RowKey, entry: VersionedEntry<T>): boolean {
    const before = this.entries.get(id);
    if (before && compareVersions(entry.version, before.version) <= 0) return false;
    this.entries.set(id, entry);
    this.digest.update(id, before, entry);
    return true;
  }

  get(id: RowKey): VersionedEntry<T> | undefined {
    return this.entries.get(id);
  }

  /** Entries held (tombstones included). */
  get size(): number {
    return this.entries.size;
  }

  /** Every (id, entry), tombstones included. */
  all(): IterableIterator<[RowKey, VersionedEntry<T>]> {
    return this.entries.entries();
  }

  /** The entries whose ids fall in `leaves` of the digest: what a `sync` sends for them. */
  entriesIn(leaves: readonly number[]): [RowKey, VersionedEntry<T>][] {
    const want = new Set(leaves);
    const out: [RowKey, VersionedEntry<T>][] = [];
    for (const [id, e] of this.entries) if (want.has(leafOf(id, this.digest.depth))) out.push([id, e]);
    return out;
  }
}

/**
 * When a replica that was away may serve reads of one shard again.
 *
 * - Back from a crash, pause or partition (`catching_up`): it kept everything it
 *   acknowledged but may lack writes taken meanwhile. A write it missed was acknowledged by
 *   W of the other RF − 1 replicas, so after syncing with RF − W of them (at W = quorum) it
 *   has seen every such write; it still counts toward quorum reads meanwhile.
 * - Back with a lost disk (`rebuilding`): an acknowledged write it held may now be on only
 *   W − 1 others, so it must sync with RF − W + 1 of the others (at W = quorum and RF = 3:
 *   both) before it counts toward any read.
 *
 * Syncs count once per distinct peer, and only those completed after the return.
 */
export class CatchUp {
  readonly rf: number;
  private stateValue: ReplicaState;
  private readonly synced = new Set<string>();

  constructor(rf: number, state: ReplicaState = 'up') {
    this.rf = rf;
    this.stateValue = state;
  }

  get state(): ReplicaState {
    return this.stateValue;
  }

  /** Peers still to sync with before the replica is `up` (0 when up). */
  get peersNeeded(): number {
    const w = requiredReplicas('quorum', this.rf);
    if (this.stateValue === 'catching_up') return Math.max(0, Math.max(1, this.rf - w) - this.synced.size);
    if (this.stateValue === 'rebuilding')
      return Math.max(0, Math.min(this.rf - 1, this.rf - w + 1) - this.synced.size);
    return 0;
  }

  /**
   * The replica came back: from a crash (`catching_up`) or with an empty disk (`rebuilding`).
   * A rebuild that a crash interrupted is still a rebuild (the node keeps that mark on disk),
   * and starts over.
   */
  returned(how: 'catching_up' | 'rebuilding'): void {
    this.synced.clear();
    this.stateValue = this.stateValue === 'rebuilding' ? 'rebuilding' : how;
    // RF = 1: no peer to catch up from (a lost disk there is lost data).
    if (this.peersNeeded === 0) this.stateValue = 'up';
  }

  /** A full sync (both directions) with `peer` finished; the replica may now be `up`. */
  syncedWith(peer: string): void {
    if (this.stateValue === 'up') return;
    this.synced.add(peer);
    if (this.peersNeeded === 0) this.stateValue = 'up';
  }
}
