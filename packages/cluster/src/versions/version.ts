/**
 * Row versions and the hybrid logical clock that issues them (pure: the physical clock is
 * injected, nothing here reads time or does I/O).
 *
 * Every row write and every delete carries a {@link Version}: the coordinator's hybrid
 * logical clock reading and a tag of the coordinating node. Replicas keep, per id, the
 * write or tombstone with the highest version (last writer wins), so replaying, re-sending
 * or reordering the same writes always ends in the same state.
 *
 * The clock follows Kulkarni, Demirbas et al., "Logical Physical Clocks and Consistent
 * Snapshots in Globally Distributed Databases" (2014), as CockroachDB and MongoDB use it:
 * a reading is `(physical ms, logical counter)`, never goes backwards, stays within the
 * clock skew of physical time, and moves past every version the node has seen
 * ({@link HybridClock.observe}), so a write coordinated after reading a row always gets a
 * higher version than that row.
 *
 * Encoding: one unsigned 64-bit integer, `physicalMs << 16 | logical` (48 bits of
 * milliseconds last until the year 10889; 16 bits allow 65,535 events per millisecond, and
 * the clock borrows the next millisecond past that). Comparing two encoded readings as
 * integers compares them as HLC timestamps.
 *
 * Ties: two nodes can read the same HLC value; the node tag (FNV-1a 32 of the node id)
 * breaks the tie, the same way on every replica. Two different node ids whose tags
 * collide *and* that write the same id at the same HLC reading would tie for real; the
 * chance is below 2^-32 per such coincidence and is accepted.
 */

/** Bits of the logical counter in an encoded reading. */
export const LOGICAL_BITS = 16n;
/** Largest logical counter before the clock borrows the next millisecond. */
export const LOGICAL_MAX = (1 << 16) - 1;
/** Largest physical time an encoded reading holds, ms since the Unix epoch. */
export const PHYSICAL_MS_MAX = 2 ** 48 - 1;

/** A row version. Ordered by `hlc`, then `node`. */
export interface Version {
  /** Encoded HLC reading (see the module comment). */
  readonly hlc: bigint;
  /** Tag of the node that coordinated the write ({@link nodeTag}); 0 for legacy entries. */
  readonly node: number;
}

/** The version below every real one (a row restored without a recorded version). */
export const ZERO_VERSION: Version = Object.freeze({ hlc: 0n, node: 0 });

/** −1, 0 or 1 as `a` is lower than, equal to or higher than `b`. */
export function compareVersions(a: Version, b: Version): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}

/** The higher of two versions (`a` when equal). */
export function maxVersion(a: Version, b: Version): Version {
  return compareVersions(a, b) >= 0 ? a : b;
}

/** Encodes a reading from its parts. Throws RangeError outside the representable range. */
export function encodeHlc(physicalMs: number, logical: number): bigint {
  if (!Number.isInteger(physicalMs) || physicalMs < 0 || physicalMs > PHYSICAL_MS_MAX)
    throw new RangeError(`HLC physical time ${physicalMs} ms is outside 0..2^48-1`);
  if (!Number.isInteger(logical) || logical < 0 || logical > LOGICAL_MAX)
    throw new RangeError(`HLC logical counter ${logical} is outside 0..${LOGICAL_MAX}`);
  return (BigInt(physicalMs) << LOGICAL_BITS) | BigInt(logical);
}

/** The parts of an encoded reading. */
export function decodeHlc(hlc: bigint): { physicalMs: number; logical: number } {
  return { physicalMs: Number(hlc >> LOGICAL_BITS), logical: Number(hlc & BigInt(LOGICAL_MAX)) };
}

/**
 * The tag of a node id: FNV-1a (32 bit) over its UTF-8 bytes, never 0 (0 marks versions
 * from before versions existed).
 */
export function nodeTag(nodeId: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(nodeId)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/**
 * A hybrid logical clock. `physicalMs` is the only input from the outside world (inject a
 * fake one in tests); readings are strictly increasing across `now` and `observe` calls.
 */
export class HybridClock {
  /** The node tag stamped on every version this clock issues. */
  readonly node: number;
  /** The wall clock the readings follow, ms since the Unix epoch (also for `created_at`). */
  readonly physicalMs: () => number;
  private last = 0n;

  /** @param nodeId this node's id; @param physicalMs wall clock, ms since the Unix epoch. */
  constructor(nodeId: string, physicalMs: () => number = Date.now) {
    this.node = nodeTag(nodeId);
    this.physicalMs = physicalMs;
  }

  /** The last reading issued or observed (0 before any). */
  get lastHlc(): bigint {
    return this.last;
  }

  /** A new version for a local event (a write this node coordinates). */
  now(): Version {
    const wall = encodeHlc(Math.min(Math.max(0, Math.floor(this.physicalMs())), PHYSICAL_MS_MAX), 0);
    this.last = wall > this.last ? wall : this.last + 1n;
    return { hlc: this.last, node: this.node };
  }

  /**
   * Moves the clock past a version seen elsewhere (a replicated write, a replayed WAL
   * entry), so every later {@link now} is higher than it.
   */
  observe(hlc: bigint): void {
    if (hlc > this.last) this.last = hlc;
  }
}
