/**
 * Which shard of a dataset a row belongs to: `shardOf(id, S) = hash(id) mod S`.
 *
 * The hash is part of the storage format (a row must land on the same shard on every node
 * and in every version), so it is written here, spelled out, and never changed:
 *
 * - an integer id (int64, given as a number in the safe range or a bigint) is split into
 *   its two's-complement 32-bit halves `lo`, `hi`, and hashed as
 *   `fmix32(lo ^ fmix32(hi ^ SEED))`;
 * - a string id is hashed as `fmix32(fnv1a32(utf8 bytes) ^ SEED)`;
 *
 * where `fmix32` is MurmurHash3's 32-bit finalizer (Appleby 2011), an avalanche mixer, so
 * consecutive integer ids spread evenly over the shards, and `SEED` = 0x9747b28c. The mixer
 * matters: `id mod S` would put every id of a dataset keyed by `i * S` on one shard.
 */

const SEED = 0x9747b28c;
const encoder = new TextEncoder();

/** MurmurHash3's fmix32: every input bit affects every output bit. Unsigned 32-bit result. */
export function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a 32-bit over bytes (Fowler, Noll, Vo). Unsigned 32-bit result. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A row id as the store holds it: an int64 (number in the safe range or bigint) or a string. */
export type RowKey = number | bigint | string;

/** The 32-bit hash of a row id that {@link shardOf} reduces; also the Merkle digest's bucket hash. */
export function keyHash(id: RowKey): number {
  if (typeof id === 'string') return fmix32(fnv1a32(encoder.encode(id)) ^ SEED);
  let lo: number;
  let hi: number;
  if (typeof id === 'number') {
    if (!Number.isSafeInteger(id)) throw new RangeError(`row id ${id} is not an integer in the safe range`);
    lo = (id % 2 ** 32) >>> 0;
    hi = Math.floor(id / 2 ** 32) | 0;
  } else {
    const u = BigInt.asUintN(64, id);
    lo = Number(u & 0xffffffffn);
    hi = Number(u >> 32n);
  }
  return fmix32(lo ^ fmix32(hi ^ SEED));
}

/**
 * The shard of row `id` in a dataset of `shards` shards: an integer in [0, shards).
 * @throws RangeError when `shards` is not a positive integer.
 */
export function shardOf(id: RowKey, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1)
    throw new RangeError(`shards must be a positive integer, got ${shards}`);
  if (shards === 1) return 0;
  return keyHash(id) % shards;
}
