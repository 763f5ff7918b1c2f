/**
 * The client's picture of the cluster, built from a `cluster_status` answer: the ring (the
 * same ketama ring the nodes compute, via `@longbow/cluster`'s RingManager, so owner(key)
 * agrees with the servers when views agree) and each live member's data address.
 */
import { RingManager } from '@longbow/cluster';

/** The parts of the `cluster_status` result the client uses. */
export interface ClusterStatusAnswer {
  readonly node_id: string;
  readonly gossip_enabled: boolean;
  readonly routing_mode: string;
  readonly members: ReadonlyArray<{
    id: string;
    state: string;
    incarnation: number;
    data_addr: string;
    meta_addr: string;
  }>;
  readonly ring: { version: number; nodes: readonly string[]; points_per_node: number };
}

/** An immutable view: owner of a key → data address. */
export class ClusterView {
  /** Node ids on the ring, sorted. */
  readonly nodes: readonly string[];
  /** Data address per live member id. */
  readonly dataAddrs: ReadonlyMap<string, string>;
  /** The node that answered, and its ring version (for logs and tests). */
  readonly source: { nodeId: string; ringVersion: number };
  private readonly ring: RingManager;

  constructor(status: ClusterStatusAnswer) {
    this.ring = new RingManager({ pointsPerNode: status.ring.points_per_node });
    this.ring.replace(status.ring.nodes);
    this.nodes = this.ring.nodes();
    const addrs = new Map<string, string>();
    for (const m of status.members)
      if ((m.state === 'alive' || m.state === 'suspect') && m.data_addr) addrs.set(m.id, m.data_addr);
    this.dataAddrs = addrs;
    this.source = { nodeId: status.node_id, ringVersion: status.ring.version };
  }

  /** The owner's node id for `key`, or undefined on an empty ring. */
  owner(key: string): string | undefined {
    return this.ring.owner(key);
  }

  /** The owner's data address for `key`, or undefined if unknown. */
  ownerAddr(key: string): string | undefined {
    const id = this.ring.owner(key);
    return id === undefined ? undefined : this.dataAddrs.get(id);
  }
}
