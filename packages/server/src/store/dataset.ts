/**
 * One dataset in memory: its record batches, the id → row map that makes `id` an upsert
 * key, tombstones for replaced and deleted rows, and its vector index.
 *
 * Rows get ordinals 0, 1, 2, … in commit (LSN) order; an ordinal is also the row's label
 * in the HNSW index. A row is *live* until its id is written again (upsert) or deleted;
 * then it is a tombstone: skipped by scans, marked deleted in the index.
 *
 * Last writer wins: every row and every delete carries a {@link Version} (`@longbow/cluster`
 * versions: the coordinator's hybrid logical clock). A write replaces the live row of its
 * id only when its version is higher; a delete removes it only when the delete's version
 * is higher, and leaves a *deleted-id tombstone* (id → version) so that an older write
 * arriving later (a replica catching up, a re-sent batch) stays dead. A stale write is
 * stored like any other and born a tombstone, so ordinals stay dense and the log and the
 * store agree row for row. Rows of one batch with the same id: the later one wins ties.
 * Applying the same entries again, in any order, ends in the same live rows.
 */
import { compareVersions, type Version } from '@longbow/cluster';
import type { Data, RecordBatch, Vector } from 'apache-arrow';
import type { ShardedIndex } from '../index/sharded-index.ts';
import { Bm25Index } from '../text/bm25.ts';
import { batchOf, constantInt64Data } from './columns.ts';
import {
  CREATED_AT_COLUMN,
  CREATED_AT_TYPE,
  type DatasetDefinition,
  ID_COLUMN,
  vectorValues,
} from './schema.ts';

/** A user key: bigint for int64/uint64, string for utf8. */
export type IdKey = bigint | string;

/**
 * The id map's key for a user key: integers in the safe range as numbers (Map lookups on
 * BigInt keys cost several times more; they dominated ingest profiles), others unchanged.
 */
function mapKey(key: IdKey | number): number | bigint | string {
  if (typeof key === 'bigint' && key <= 9007199254740991n && key >= -9007199254740991n) return Number(key);
  return key;
}

/**
 * The versions of a stored batch's rows: one for all (a batch written by one coordinator
 * in one entry, the common case) or one per row (hlc and node tag arrays, row order).
 */
export type RowVersions =
  | { kind: 'uniform'; version: Version }
  | { kind: 'rows'; hlc: BigUint64Array; node: Uint32Array };

/** The version of row `offset` of a batch. */
export function versionAt(versions: RowVersions, offset: number): Version {
  if (versions.kind === 'uniform') return versions.version;
  return { hlc: versions.hlc[offset]!, node: versions.node[offset]! };
}

/** Per-row versions for `rows` rows, from a function of the row. */
export function rowVersionsOf(rows: number, versionOf: (row: number) => Version): RowVersions {
  if (rows === 0) return { kind: 'uniform', version: versionOf(0) };
  const first = versionOf(0);
  let uniform = true;
  const hlc = new BigUint64Array(rows);
  const node = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = i === 0 ? first : versionOf(i);
    hlc[i] = v.hlc;
    node[i] = v.node;
    if (v.hlc !== first.hlc || v.node !== first.node) uniform = false;
  }
  return uniform ? { kind: 'uniform', version: first } : { kind: 'rows', hlc, node };
}

/** One committed batch and its tombstones. */
export interface StoredBatch {
  batch: RecordBatch;
  /** Ordinal of the batch's first row. */
  firstRow: number;
  /** One byte per row, 1 = tombstone; allocated on the first tombstone. */
  deleted: Uint8Array | undefined;
  deletedCount: number;
  /** The vector values, row-major (a view of the batch's buffer). */
  vectors: Float32Array;
  /** Bytes of the batch's buffers. */
  byteLength: number;
  /** The rows' versions. */
  versions: RowVersions;
}

/** Where a row lives. */
export interface RowRef {
  stored: StoredBatch;
  /** Row index inside the stored batch. */
  offset: number;
}

/** One dataset. Created by the Store; mutated only by committed WAL entries. */
export class Dataset {
  readonly def: DatasetDefinition;
  /**
   * Committed batches in ordinal order. Appends push; compaction swaps in a new array
   * (never splices this one), so a reader that took the array keeps a consistent list.
   */
  batches: StoredBatch[] = [];
  /** Ordinals assigned so far (live rows and tombstones). */
  rowCount = 0;
  /** Rows that are live. */
  liveCount = 0;
  /** Bytes of all stored batches (tombstoned rows included until compaction). */
  byteLength = 0;
  /** LSN of the last entry applied. */
  lastLsn = 0n;
  index: ShardedIndex | undefined;
  /** BM25 index over the text columns; undefined when the dataset has none. */
  readonly text: Bm25Index | undefined;
  private readonly ids = new Map<number | bigint | string, number>();
  /** Deleted ids and the version of their delete (see the module comment). */
  private readonly deletedIds = new Map<number | bigint | string, Version>();
  private readonly firstRows: number[] = [];

  constructor(def: DatasetDefinition) {
    this.def = def;
    this.text = def.textColumns.length > 0 ? new Bm25Index() : undefined;
  }

  get name(): string {
    return this.def.name;
  }

  /** Rows that are tombstones (replaced or deleted, not yet compacted away). */
  get tombstoneCount(): number {
    return this.rowCount - this.liveCount;
  }

  /** Deleted-id tombstones held (ids deleted and not written since). */
  get deletedIdCount(): number {
    return this.deletedIds.size;
  }

  /**
   * Appends a committed batch (already checked against the definition) whose rows carry
   * `versions`. Adds `created_at` from `timestampMs` when the user did not send it. Per id,
   * the higher version wins (module comment): returns the new rows' first ordinal, the
   * earlier rows that became tombstones (`replaced`) and the new rows born tombstones
   * because a higher version of their id exists (`stale`).
   */
  append(
    batch: RecordBatch,
    lsn: bigint,
    timestampMs: number,
    versions: RowVersions,
  ): { firstRow: number; replaced: number[]; stale: number[] } {
    const stored = this.withCreatedAt(batch, timestampMs);
    const firstRow = this.rowCount;
    const entry: StoredBatch = {
      batch: stored,
      firstRow,
      deleted: undefined,
      deletedCount: 0,
      vectors: vectorValues(stored, this.def.dim),
      byteLength: stored.data.byteLength,
      versions,
    };
    this.batches.push(entry);
    this.firstRows.push(firstRow);
    this.rowCount += stored.numRows;
    this.liveCount += stored.numRows;
    this.byteLength += entry.byteLength;
    this.lastLsn = lsn;
    const replaced: number[] = [];
    const stale: number[] = [];
    const ids = stored.getChild(ID_COLUMN)!;
    // Integer ids straight from the value buffer: Vector.get per row dominated the
    // profile of ingest (8% of the main thread on glove100).
    const values =
      ids.data.length === 1 && this.def.idType !== 'utf8'
        ? (ids.data[0]!.values as BigInt64Array)
        : undefined;
    const checkDeleted = this.deletedIds.size > 0;
    for (let i = 0; i < stored.numRows; i++) {
      const key = mapKey((values ? values[i] : ids.get(i)) as IdKey);
      const ordinal = firstRow + i;
      const previous = this.ids.get(key);
      if (previous !== undefined) {
        const order = compareVersions(versionAt(versions, i), this.versionOf(previous));
        // A row of this same batch loses ties to a later one: the batch's own order.
        if (order > 0 || (order === 0 && previous >= firstRow)) {
          this.tombstone(previous);
          replaced.push(previous);
          this.ids.set(key, ordinal);
        } else {
          this.tombstone(ordinal);
          stale.push(ordinal);
        }
        continue;
      }
      const dead = checkDeleted ? this.deletedIds.get(key) : undefined;
      if (dead !== undefined) {
        if (compareVersions(versionAt(versions, i), dead) <= 0) {
          this.tombstone(ordinal);
          stale.push(ordinal);
          continue;
        }
        this.deletedIds.delete(key);
      }
      this.ids.set(key, ordinal);
    }
    if (this.text) this.indexText(stored, firstRow);
    return { firstRow, replaced, stale };
  }

  /** The version of a row (live or not). */
  versionOf(ordinal: number): Version {
    const { stored, offset } = this.locate(ordinal);
    return versionAt(stored.versions, offset);
  }

  /**
   * Deletes ids at the versions `versionOf(i)` (i = position in `keys`): a live row goes
   * only when the delete's version is higher than the row's; every deleted id keeps a
   * tombstone at the highest delete version seen. Returns the ordinals that became
   * tombstones.
   */
  deleteIds(keys: readonly IdKey[], lsn: bigint, versionOf: (i: number) => Version): number[] {
    const removed: number[] = [];
    keys.forEach((userKey, i) => {
      const key = mapKey(userKey);
      const version = versionOf(i);
      const ordinal = this.ids.get(key);
      if (ordinal !== undefined) {
        if (compareVersions(version, this.versionOf(ordinal)) <= 0) return; // a newer write stands
        this.ids.delete(key);
        this.tombstone(ordinal);
        removed.push(ordinal);
      }
      this.raiseTombstone(key, version);
    });
    this.lastLsn = lsn;
    return removed;
  }

  /**
   * Forgets deleted-id tombstones whose version's HLC is below `hlcBefore` (older than the
   * tombstone grace period); returns how many went.
   */
  purgeDeletedIds(hlcBefore: bigint): number {
    let n = 0;
    for (const [key, v] of this.deletedIds) {
      if (v.hlc < hlcBefore) {
        this.deletedIds.delete(key);
        n++;
      }
    }
    return n;
  }

  /** The deleted-id tombstones (id → version of its delete), a copy: what a snapshot keeps. */
  deletedIdEntries(): [number | bigint | string, Version][] {
    return [...this.deletedIds];
  }

  /**
   * Installs deleted-id tombstones read from a snapshot (start-up, after the rows, before
   * WAL replay). A tombstone of an id that is live with a higher version is dropped.
   */
  restoreDeletedIds(entries: Iterable<readonly [IdKey, Version]>): void {
    for (const [id, version] of entries) {
      const key = mapKey(id);
      const ordinal = this.ids.get(key);
      if (ordinal !== undefined && compareVersions(this.versionOf(ordinal), version) >= 0) continue;
      this.raiseTombstone(key, version);
    }
  }

  /** Keeps `key`'s deleted-id tombstone at the highest delete version seen (never lowers it). */
  private raiseTombstone(key: number | bigint | string, version: Version): void {
    const dead = this.deletedIds.get(key);
    if (dead === undefined || compareVersions(version, dead) > 0) this.deletedIds.set(key, version);
  }

  private indexText(batch: RecordBatch, firstRow: number): void {
    const columns = this.def.textColumns.map((c) => batch.getChild(c)!);
    for (let i = 0; i < batch.numRows; i++) {
      let text = '';
      for (const col of columns) {
        const v = col.get(i) as string | null;
        if (v) text = text ? `${text} ${v}` : v;
      }
      this.text!.add(firstRow + i, text);
    }
  }

  /**
   * Live rows with ordinals in [from, to): their labels (ascending) and vectors (row-major),
   * for rebuilding an index shard.
   */
  liveRows(from: number, to: number): { labels: number[]; vectors: Float32Array } {
    const dim = this.def.dim;
    const labels: number[] = [];
    const chunks: Float32Array[] = [];
    for (const stored of this.batches) {
      const start = Math.max(from, stored.firstRow);
      const end = Math.min(to, stored.firstRow + stored.batch.numRows);
      if (start >= end) continue;
      for (let o = start; o < end; o++) {
        const offset = o - stored.firstRow;
        if (stored.deleted?.[offset] === 1) continue;
        labels.push(o);
        chunks.push(stored.vectors.subarray(offset * dim, (offset + 1) * dim));
      }
    }
    const vectors = new Float32Array(labels.length * dim);
    chunks.forEach((c, i) => {
      vectors.set(c, i * dim);
    });
    return { labels, vectors };
  }

  private tombstone(ordinal: number): void {
    const { stored, offset } = this.locate(ordinal);
    stored.deleted ??= new Uint8Array(stored.batch.numRows);
    if (stored.deleted[offset] === 1) return;
    stored.deleted[offset] = 1;
    stored.deletedCount++;
    this.liveCount--;
  }

  private withCreatedAt(batch: RecordBatch, timestampMs: number): RecordBatch {
    if (batch.schema.fields.some((f) => f.name === CREATED_AT_COLUMN)) {
      return batchOf(this.def.schema, batch.numRows, batch.data.children as Data[]);
    }
    const createdAt = constantInt64Data(CREATED_AT_TYPE, batch.numRows, BigInt(timestampMs));
    return batchOf(this.def.schema, batch.numRows, [...(batch.data.children as Data[]), createdAt]);
  }

  /**
   * Compaction (store/compaction.ts): replaces the adjacent stored batches [from, to) with
   * `merged`, which holds their rows in the same order. Ordinals, the id map and index
   * labels stay valid; the replaced batches' tombstones, as they are now, carry over.
   */
  replaceBatches(from: number, to: number, merged: RecordBatch): void {
    const old = this.batches.slice(from, to);
    const rows = old.reduce((n, b) => n + b.batch.numRows, 0);
    if (old.length !== to - from || rows !== merged.numRows)
      throw new RangeError(`merged batch of ${merged.numRows} rows does not replace batches ${from}..${to}`);
    let deleted: Uint8Array | undefined;
    let deletedCount = 0;
    for (const b of old) {
      if (!b.deleted) continue;
      deleted ??= new Uint8Array(rows);
      deleted.set(b.deleted, b.firstRow - old[0]!.firstRow);
      deletedCount += b.deletedCount;
    }
    const entry: StoredBatch = {
      batch: merged,
      firstRow: old[0]!.firstRow,
      deleted,
      deletedCount,
      vectors: vectorValues(merged, this.def.dim),
      byteLength: merged.data.byteLength,
      versions: mergeVersions(old),
    };
    this.byteLength += entry.byteLength - old.reduce((n, b) => n + b.byteLength, 0);
    this.batches = [...this.batches.slice(0, from), entry, ...this.batches.slice(to)];
    this.firstRows.splice(from, to - from, entry.firstRow);
  }

  /** The batch and offset of an ordinal (binary search over batch starts). */
  locate(ordinal: number): RowRef {
    let lo = 0;
    let hi = this.firstRows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.firstRows[mid]! <= ordinal) lo = mid;
      else hi = mid - 1;
    }
    const stored = this.batches[lo];
    if (!stored || ordinal < stored.firstRow || ordinal >= stored.firstRow + stored.batch.numRows) {
      throw new RangeError(`row ${ordinal} does not exist in dataset "${this.name}"`);
    }
    return { stored, offset: ordinal - stored.firstRow };
  }

  /** True when the row is live (not replaced or deleted). */
  isLive(ordinal: number): boolean {
    if (ordinal < 0 || ordinal >= this.rowCount) return false;
    const { stored, offset } = this.locate(ordinal);
    return stored.deleted?.[offset] !== 1;
  }

  /** The live row with this id, if any. */
  ordinalOf(key: IdKey): number | undefined {
    return this.ids.get(mapKey(key));
  }

  /** The value of `column` in a row (undefined for an unknown column). */
  cell(ordinal: number, column: string): unknown {
    const { stored, offset } = this.locate(ordinal);
    return (stored.batch.getChild(column) as Vector | null)?.get(offset);
  }

  /**
   * The live rows matching `match`, as a bitmap over ordinals (bit set = qualifies) and
   * their number ({@link ordinalsOf} lists them).
   */
  matchingRows(match: (batch: RecordBatch) => (row: number) => boolean): {
    bits: Uint8Array;
    count: number;
  } {
    const bits = new Uint8Array((this.rowCount + 7) >> 3);
    let count = 0;
    for (const stored of this.batches) {
      const test = match(stored.batch);
      const deleted = stored.deleted;
      const first = stored.firstRow;
      for (let i = 0; i < stored.batch.numRows; i++) {
        if ((deleted !== undefined && deleted[i] === 1) || !test(i)) continue;
        const ordinal = first + i;
        bits[ordinal >> 3]! |= 1 << (ordinal & 7);
        count++;
      }
    }
    return { bits, count };
  }

  /** The ordinals whose bit is set in `bits`, ascending. */
  static ordinalsOf(bits: Uint8Array): number[] {
    const out: number[] = [];
    for (let byte = 0; byte < bits.length; byte++) {
      const b = bits[byte]!;
      if (b === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) out.push((byte << 3) | bit);
    }
    return out;
  }

  /** The vector of a row (a view of the stored batch). */
  vectorOf(ordinal: number): Float32Array {
    const { stored, offset } = this.locate(ordinal);
    return stored.vectors.subarray(offset * this.def.dim, (offset + 1) * this.def.dim);
  }
}

/** The versions of adjacent batches as the versions of their merged batch. */
function mergeVersions(batches: readonly StoredBatch[]): RowVersions {
  const first = batches[0]!.versions;
  if (
    first.kind === 'uniform' &&
    batches.every(
      (b) =>
        b.versions.kind === 'uniform' &&
        b.versions.version.hlc === first.version.hlc &&
        b.versions.version.node === first.version.node,
    )
  ) {
    return first;
  }
  const rows = batches.reduce((n, b) => n + b.batch.numRows, 0);
  const hlc = new BigUint64Array(rows);
  const node = new Uint32Array(rows);
  let at = 0;
  for (const b of batches) {
    const n = b.batch.numRows;
    if (b.versions.kind === 'uniform') {
      hlc.fill(b.versions.version.hlc, at, at + n);
      node.fill(b.versions.version.node, at, at + n);
    } else {
      hlc.set(b.versions.hlc, at);
      node.set(b.versions.node, at);
    }
    at += n;
  }
  return { kind: 'rows', hlc, node };
}
