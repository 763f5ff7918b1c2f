/**
 * Where a shard's replicas live: placement over the *ring members* at a topology epoch
 * (DESIGN.md, "Replication and sharding"), not over the members gossip finds alive.
 *
 * Shard `s` of dataset `d` lives on `successors("d/s", RF)` of a ketama ring built from the
 * ring members (the first point clockwise from the key's MD5, then the next distinct nodes
 * clockwise; Karger et al. 1997, as Dynamo and Cassandra place replicas). A node that is
 * down stays a replica: liveness decides where requests go and whether hints are kept,
 * never who owns what. The ring changes only with the epoch, by an explicit topology step.
 */
import type HashRing from 'hashring';
import { DEFAULT_POINTS_PER_NODE, ketamaRing } from '../ring/ring-manager.ts';

/** The agreed cluster layout at one epoch. */
export interface Topology {
  /** Increases by one with every topology change (decided by a majority of `members`). 0 = no ring yet. */
  readonly epoch: number;
  /** Ring members: node ids that joined and were not decommissioned. Order does not matter. */
  readonly members: readonly string[];
}

/** An empty topology: no ring formed yet. */
export const EMPTY_TOPOLOGY: Topology = Object.freeze({ epoch: 0, members: Object.freeze([]) });

/** Default shards of a new dataset: one per ring member (at least one). */
export function defaultShardCount(members: number): number {
  return Math.max(1, members);
}

/** Default replication factor of a new dataset: min(3, ring members), at least one. */
export function defaultReplicationFactor(members: number): number {
  return Math.max(1, Math.min(3, members));
}

/** The key a shard is placed by on the ring: `"<dataset>/<shard>"`. */
export function shardKey(dataset: string, shard: number): string {
  return `${dataset}/${shard}`;
}

/** Replica placement for one topology epoch. Immutable; build a new one for a new epoch. */
export class Placement {
  readonly epoch: number;
  /** Ring members, sorted. */
  readonly members: readonly string[];
  private readonly ring: HashRing | undefined;
  private readonly cache = new Map<string, readonly string[]>();

  /** @param pointsPerNode ketama points a member, a positive multiple of 4 (default 640). */
  constructor(topology: Topology, pointsPerNode: number = DEFAULT_POINTS_PER_NODE) {
    this.epoch = topology.epoch;
    this.members = Object.freeze([...new Set(topology.members)].sort());
    this.ring = this.members.length > 0 ? ketamaRing(this.members, pointsPerNode) : undefined;
  }

  /**
   * The replicas of shard `shard` of `dataset`, primary first: `min(rf, members)` distinct
   * node ids, the same on every node at this epoch. Empty on an empty ring.
   */
  replicas(dataset: string, shard: number, rf: number): readonly string[] {
    if (!this.ring || rf <= 0) return [];
    const key = shardKey(dataset, shard);
    const count = Math.min(rf, this.members.length);
    const cached = this.cache.get(key);
    if (cached && cached.length >= count) return cached.slice(0, count);
    const nodes = Object.freeze(this.ring.range(key, count, true) as string[]);
    this.cache.set(key, nodes);
    return nodes;
  }

  /** The shards of `dataset` (of `shards`) that `node` holds a replica of, ascending. */
  shardsOn(node: string, dataset: string, shards: number, rf: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < shards; s++) if (this.replicas(dataset, s, rf).includes(node)) out.push(s);
    return out;
  }
}
