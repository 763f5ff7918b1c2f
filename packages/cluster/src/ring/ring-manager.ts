/**
 * The consistent-hash ring of live members, kept in step with gossip membership.
 *
 * Placement is ketama over MD5 (the `hashring` package): each node owns `pointsPerNode`
 * points on a 32-bit circle, a key belongs to the first point clockwise from its hash, and
 * its replicas to the next distinct nodes clockwise. Adding or removing one of N nodes moves
 * about 1/N of the keys, all of them to or from that node (Karger et al. 1997).
 *
 * Invariants: the ring holds exactly the members that are alive or suspect (a suspect still
 * owns its keys: moving data on every suspicion would amplify false positives); it is built
 * from the sorted node ids, so every node that sees the same members computes the same
 * ring whatever order the events came in; `version` increases on every change.
 */
import { EventEmitter } from 'node:events';
import HashRing from 'hashring';
import { isLive, type Member, type MemberEvent, type MemberEventType } from '../gossip/member.ts';

/** ketama places 4 points per MD5 digest (one per 4 bytes), so points come in fours. */
export const POINTS_PER_DIGEST = 4;
/** Default points per node: cv of load ~2.5% (DESIGN.md; bench/ring.bench.ts measures it). */
export const DEFAULT_POINTS_PER_NODE = 640;

export interface RingManagerOptions {
  /** Points per node on the circle, a multiple of 4. More is more even and slower to rebuild. Default 640. */
  readonly pointsPerNode?: number;
}

/** Emitted after every change. */
export interface RingChange {
  readonly version: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly nodes: readonly string[];
}

/** What {@link RingManager.attach} needs from a membership source; a GossipNode is one. */
export interface MembershipSource {
  members(): Member[];
  on(type: MemberEventType, listener: (member: Member) => void): unknown;
  off(type: MemberEventType, listener: (member: Member) => void): unknown;
}

const EVENT_TYPES: readonly MemberEventType[] = ['join', 'update', 'leave', 'dead'];

export class RingManager extends EventEmitter<{ change: [RingChange] }> {
  readonly pointsPerNode: number;
  private readonly nodeSet = new Set<string>();
  private ring: HashRing | undefined;
  private versionValue = 0;

  constructor(opts: RingManagerOptions = {}) {
    super();
    const points = opts.pointsPerNode ?? DEFAULT_POINTS_PER_NODE;
    if (!Number.isInteger(points) || points < POINTS_PER_DIGEST || points % POINTS_PER_DIGEST !== 0) {
      throw new RangeError(
        `pointsPerNode must be a positive multiple of ${POINTS_PER_DIGEST}, got ${points}`,
      );
    }
    this.pointsPerNode = points;
  }

  /** Increases by one on every change of the node set. 0 for a ring never changed. */
  get version(): number {
    return this.versionValue;
  }

  /** Node ids on the ring, sorted. */
  nodes(): string[] {
    return [...this.nodeSet].sort();
  }

  /**
   * Follows a membership source: takes its current live members, then applies its events.
   * @returns a function that stops following.
   */
  attach(source: MembershipSource): () => void {
    const listener = (member: Member): void => {
      this.applyMember(member);
    };
    for (const t of EVENT_TYPES) source.on(t, listener);
    this.replace(
      source
        .members()
        .filter((m) => isLive(m.state))
        .map((m) => m.id),
    );
    return () => {
      for (const t of EVENT_TYPES) source.off(t, listener);
    };
  }

  /** Applies one membership event. Returns true when the ring changed. */
  apply(event: MemberEvent): boolean {
    return this.applyMember(event.member);
  }

  /** Sets the node set outright (for example from a peer's ring). Returns true when it changed. */
  replace(nodeIds: Iterable<string>): boolean {
    const next = new Set(nodeIds);
    const added = [...next].filter((id) => !this.nodeSet.has(id)).sort();
    const removed = [...this.nodeSet].filter((id) => !next.has(id)).sort();
    if (added.length === 0 && removed.length === 0) return false;
    for (const id of removed) this.nodeSet.delete(id);
    for (const id of added) this.nodeSet.add(id);
    this.rebuild(added, removed);
    return true;
  }

  /** The node that owns `key`, or undefined on an empty ring. */
  owner(key: string): string | undefined {
    return this.ring?.get(key);
  }

  /** The owner of `key` and then the next distinct nodes clockwise: up to `count` node ids. */
  successors(key: string, count: number): string[] {
    if (!this.ring || count <= 0) return [];
    return this.ring.range(key, Math.min(count, this.nodeSet.size), true);
  }

  private applyMember(member: Member): boolean {
    const live = isLive(member.state);
    if (live === this.nodeSet.has(member.id)) return false;
    const next = new Set(this.nodeSet);
    if (live) next.add(member.id);
    else next.delete(member.id);
    return this.replace(next);
  }

  private rebuild(added: string[], removed: string[]): void {
    const nodes = this.nodes();
    this.ring = nodes.length === 0 ? undefined : ketamaRing(nodes, this.pointsPerNode);
    this.versionValue++;
    this.emit('change', { version: this.versionValue, added, removed, nodes });
  }
}

/**
 * A ketama ring (MD5, `pointsPerNode` points a node) over `nodes`. The same node set gives
 * the same ring on every node, whatever its order. Used by {@link RingManager} and by the
 * replication placement.
 * @param pointsPerNode a positive multiple of {@link POINTS_PER_DIGEST}.
 */
export function ketamaRing(
  nodes: readonly string[],
  pointsPerNode: number = DEFAULT_POINTS_PER_NODE,
): HashRing {
  const digests = pointsPerNode / POINTS_PER_DIGEST;
  // An explicit per-server vnode count is used verbatim only when it differs from the
  // ring-wide default; the default path rounds `weight share * vnodes * N` down and loses
  // a digest for some N (7, 14, 28, ...). Hence default = digests + 1, never used.
  return new HashRing(Object.fromEntries([...nodes].sort().map((id) => [id, { vnodes: digests }])), 'md5', {
    'vnode count': digests + 1,
  });
}
