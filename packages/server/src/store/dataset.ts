/**
 * One dataset in memory: its record batches, the id → row map that makes `id` an upsert
 * key, tombstones for replaced and deleted rows, and its vector index.
 *
 * Rows get ordinals 0, 1, 2, … in commit (LSN) order; an ordinal is also the row's label
 * in the HNSW index. A row is *live* until its id is written again (upsert) or deleted;
 * then it is a tombstone: skipped by scans, marked deleted in the index.
 */
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

  /**
   * Appends a committed batch (already checked against the definition). Adds `created_at`
   * from `timestampMs` when the user did not send it. Earlier rows with the same ids become
   * tombstones; returns the new rows' first ordinal and the replaced ordinals.
   */
  append(batch: RecordBatch, lsn: bigint, timestampMs: number): { firstRow: number; replaced: number[] } {
    const stored = this.withCreatedAt(batch, timestampMs);
    const firstRow = this.rowCount;
    const entry: StoredBatch = {
      batch: stored,
      firstRow,
      deleted: undefined,
      deletedCount: 0,
      vectors: vectorValues(stored, this.def.dim),
      byteLength: stored.data.byteLength,
    };
    this.batches.push(entry);
    this.firstRows.push(firstRow);
    this.rowCount += stored.numRows;
    this.liveCount += stored.numRows;
    this.byteLength += entry.byteLength;
    this.lastLsn = lsn;
    const replaced: number[] = [];
    const ids = stored.getChild(ID_COLUMN)!;
    // Integer ids straight from the value buffer: Vector.get per row dominated the
    // profile of ingest (8% of the main thread on glove100).
    const values =
      ids.data.length === 1 && this.def.idType !== 'utf8'
        ? (ids.data[0]!.values as BigInt64Array)
        : undefined;
    for (let i = 0; i < stored.numRows; i++) {
      const key = mapKey((values ? values[i] : ids.get(i)) as IdKey);
      const previous = this.ids.get(key);
      if (previous !== undefined) {
        this.tombstone(previous);
        replaced.push(previous);
      }
      this.ids.set(key, firstRow + i);
    }
    if (this.text) this.indexText(stored, firstRow);
    return { firstRow, replaced };
  }

  /** Deletes rows by id; returns the ordinals that became tombstones (unknown ids are ignored). */
  deleteIds(keys: Iterable<IdKey>, lsn: bigint): number[] {
    const removed: number[] = [];
    for (const userKey of keys) {
      const key = mapKey(userKey);
      const ordinal = this.ids.get(key);
      if (ordinal === undefined) continue;
      this.ids.delete(key);
      this.tombstone(ordinal);
      removed.push(ordinal);
    }
    this.lastLsn = lsn;
    return removed;
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
