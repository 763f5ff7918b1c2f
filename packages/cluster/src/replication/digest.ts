/**
 * Anti-entropy digests: a Merkle tree of id → version per shard replica (Dynamo §4.7;
 * Cassandra's repair; Weaviate's hashtree), compared top-down so two replicas that agree
 * exchange one root and two that differ in a few ids exchange a few paths.
 *
 * Shape: a complete binary tree of depth `d` (default 10: 1,024 leaves). An id falls in the
 * leaf given by the top `d` bits of its {@link keyHash}, so a leaf is a range of the key
 * hash space. A leaf's hash is the XOR of its entries' 64-bit hashes (two 32-bit lanes) and
 * an inner node's the XOR of its children: XOR is order-independent and self-inverse, so an
 * update is O(1) (`leaf ^= h(old) ^ h(new)`) and replicas that applied the same changes in
 * any order have equal trees. An entry's hash covers its id, version and tombstone flag,
 * mixed with MurmurHash3's finalizer; two replicas with different entries have equal roots
 * with probability about 2^-64.
 */
import type { Version } from '../versions/version.ts';
import { fmix32, keyHash, type RowKey } from './shard-key.ts';

export const DEFAULT_DIGEST_DEPTH = 10;
export const MAX_DIGEST_DEPTH = 20;

/** The leaf of `id` in a tree of depth `depth`. */
export function leafOf(id: RowKey, depth: number): number {
  return depth === 0 ? 0 : keyHash(id) >>> (32 - depth);
}

/** The 64-bit hash of one (id, version, tombstone) entry as two unsigned 32-bit lanes. */
export function entryHash(id: RowKey, version: Version, deleted: boolean): [number, number] {
  const k = keyHash(id);
  const lo = Number(version.hlc & 0xffffffffn);
  const hi = Number((version.hlc >> 32n) & 0xffffffffn);
  const a = fmix32(k ^ fmix32(lo ^ fmix32(hi ^ 0x1b873593)));
  const b = fmix32(
    a ^ fmix32((version.node >>> 0) ^ (deleted ? 0x5bd1e995 : 0) ^ fmix32((k + 0x6b43a9b5) >>> 0)),
  );
  return [a, b];
}

/** One shard replica's digest tree, kept up to date entry by entry. */
export class ShardDigest {
  readonly depth: number;
  /** Leaf hashes, two lanes a leaf. */
  private readonly leaves: Uint32Array;
  /** levels[l] = hashes of level l (0 = root), built lazily from the leaves. */
  private levels: Uint32Array[] | undefined;

  constructor(depth: number = DEFAULT_DIGEST_DEPTH) {
    if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DIGEST_DEPTH) {
      throw new RangeError(`digest depth must be an integer in [0, ${MAX_DIGEST_DEPTH}], got ${depth}`);
    }
    this.depth = depth;
    this.leaves = new Uint32Array(2 << depth);
  }

  /** Folds in a change of `id` from `before` to `after` (either undefined when absent). */
  update(
    id: RowKey,
    before: { version: Version; deleted: boolean } | undefined,
    after: { version: Version; deleted: boolean } | undefined,
  ): void {
    const leaf = leafOf(id, this.depth) * 2;
    if (before) {
      const [a, b] = entryHash(id, before.version, before.deleted);
      this.leaves[leaf]! ^= a;
      this.leaves[leaf + 1]! ^= b;
    }
    if (after) {
      const [a, b] = entryHash(id, after.version, after.deleted);
      this.leaves[leaf]! ^= a;
      this.leaves[leaf + 1]! ^= b;
    }
    this.levels = undefined;
  }

  /** The hashes (two lanes each) of the nodes `indices` of level `level` (0 = root, depth = leaves). */
  nodes(level: number, indices: readonly number[]): Uint32Array {
    if (!Number.isInteger(level) || level < 0 || level > this.depth) {
      throw new RangeError(`level ${level} outside [0, ${this.depth}]`);
    }
    const hashes = this.level(level);
    const out = new Uint32Array(indices.length * 2);
    indices.forEach((i, j) => {
      if (!Number.isInteger(i) || i < 0 || i >= 1 << level)
        throw new RangeError(`node ${i} outside level ${level}`);
      out[j * 2] = hashes[i * 2]!;
      out[j * 2 + 1] = hashes[i * 2 + 1]!;
    });
    return out;
  }

  /** The root hash as 16 hex digits (equal roots: equal replicas, up to 2^-64). */
  root(): string {
    const r = this.level(0);
    return r[0]!.toString(16).padStart(8, '0') + r[1]!.toString(16).padStart(8, '0');
  }

  private level(level: number): Uint32Array {
    if (!this.levels) {
      const levels: Uint32Array[] = new Array(this.depth + 1);
      levels[this.depth] = this.leaves;
      for (let l = this.depth - 1; l >= 0; l--) {
        const below = levels[l + 1]!;
        const cur = new Uint32Array(2 << l);
        for (let i = 0; i < 1 << l; i++) {
          cur[i * 2] = below[i * 4]! ^ below[i * 4 + 2]!;
          cur[i * 2 + 1] = below[i * 4 + 1]! ^ below[i * 4 + 3]!;
        }
        levels[l] = cur;
      }
      this.levels = levels;
    }
    return this.levels[level]!;
  }
}

/**
 * One top-down comparison of a local digest with a remote one, as a sequence of requests:
 * ask {@link next} which remote nodes to fetch, fetch them (a DoExchange `digest` round
 * trip, or a direct call in a simulation), pass the hashes to {@link receive}; when `next`
 * returns undefined, {@link differingLeaves} are the leaves whose entries must be synced.
 * Round trips: at most depth + 1; hashes sent: O(differences × depth).
 */
export class DigestComparison {
  private readonly local: ShardDigest;
  private level = 0;
  private pending: number[] = [0];
  private result: number[] | undefined;

  /** @throws RangeError when the remote's depth differs (compare trees of one shape). */
  constructor(local: ShardDigest, remoteDepth: number) {
    if (remoteDepth !== local.depth) {
      throw new RangeError(`digest depth ${local.depth} here, ${remoteDepth} remote`);
    }
    this.local = local;
  }

  /** The remote nodes to fetch next, or undefined when the comparison is done. */
  next(): { level: number; indices: number[] } | undefined {
    if (this.result) return undefined;
    return { level: this.level, indices: this.pending };
  }

  /** Takes the remote hashes of the nodes {@link next} asked for, in that order. */
  receive(remote: Uint32Array): void {
    if (this.result) throw new Error('digest comparison already done');
    if (remote.length !== this.pending.length * 2) {
      throw new RangeError(`expected ${this.pending.length} hashes, got ${remote.length / 2}`);
    }
    const mine = this.local.nodes(this.level, this.pending);
    const differing = this.pending.filter(
      (_, j) => mine[j * 2] !== remote[j * 2] || mine[j * 2 + 1] !== remote[j * 2 + 1],
    );
    if (differing.length === 0 || this.level === this.local.depth) {
      this.result = this.level === this.local.depth ? differing : [];
      return;
    }
    this.level++;
    this.pending = differing.flatMap((i) => [i * 2, i * 2 + 1]);
  }

  /** Leaves that differ (empty when the replicas agree). Valid once {@link next} is undefined. */
  differingLeaves(): number[] {
    if (!this.result) throw new Error('digest comparison not finished');
    return this.result;
  }
}

/** Runs a comparison against a remote that answers synchronously; returns the differing leaves. */
export function compareDigests(local: ShardDigest, remote: ShardDigest): number[] {
  const cmp = new DigestComparison(local, remote.depth);
  for (let step = cmp.next(); step; step = cmp.next()) cmp.receive(remote.nodes(step.level, step.indices));
  return cmp.differingLeaves();
}
