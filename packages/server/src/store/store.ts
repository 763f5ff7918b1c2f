/**
 * The vector store: every dataset of the node, changed only by committed WAL entries.
 *
 * Write path (commit/committer.ts drives it, for live writes and replay alike):
 * `preparePut` checks a batch synchronously and fixes the dataset's definition on its first
 * batch, so concurrent streams are checked against the same schema; the committer appends
 * to the WAL in the same tick, and the WAL's `onDurable` callback hands the entry *as
 * logged* to {@link Store.applyEntry}, in LSN order, before the client is acknowledged.
 * Replay calls `applyEntry` with the same entries read back from disk, so the live state
 * and the replayed state come from the same bytes through the same code.
 */
import os from 'node:os';
import path from 'node:path';
import { type Version, ZERO_VERSION } from '@longbow/cluster';
import type { RecordBatch } from 'apache-arrow';
import type { NodeConfig } from '../config.ts';
import { ErrorCode, LongbowError } from '../errors.ts';
import type { IndexPool } from '../index/index-pool.ts';
import { SavedIndexError } from '../index/saved-index.ts';
import { ShardedIndex, type ShardedIndexParams } from '../index/sharded-index.ts';
import { ROW_VERSION_BYTES, rowVersionAt, type WalEntry, WalOp } from '../wal/entry.ts';
import { Dataset, type IdKey, type RowVersions, rowVersionsOf } from './dataset.ts';
import { decodeBatchRecord, decodeDeleteRecord } from './records.ts';
import { checkBatch, type DatasetDefinition, defineDataset } from './schema.ts';

/** Store settings, from NodeConfig. */
export type StoreConfig = Pick<
  NodeConfig,
  'hnswM' | 'hnswEfConstruction' | 'maxMemoryBytes' | 'indexShardRows' | 'indexVacuumRatio'
>;

/** Shards smaller than this are not vacuumed: rebuilding them costs more than tombstones do. */
const VACUUM_MIN_ROWS = 1000;

/** All datasets of one node. */
export class Store {
  private readonly datasets = new Map<string, Dataset>();
  /** Definitions of datasets, including ones whose first batch is not yet committed. */
  private readonly definitions = new Map<string, DatasetDefinition>();
  private readonly pool: IndexPool;
  private config: StoreConfig;
  private readonly onIndexEvent: (dataset: string, shard: number, phase: 'start' | 'done') => void;

  /** @param onIndexEvent vacuum progress, for logs and metrics. */
  constructor(pool: IndexPool, config: StoreConfig, onIndexEvent: Store['onIndexEvent'] = () => {}) {
    this.pool = pool;
    this.config = config;
    this.onIndexEvent = onIndexEvent;
  }

  /** Changes `LONGBOW_MAX_MEMORY` for later writes (SIGHUP); 0 = unlimited. */
  setMemoryLimit(bytes: number): void {
    this.config = { ...this.config, maxMemoryBytes: bytes };
  }

  /** A dataset by name, or undefined. */
  get(name: string): Dataset | undefined {
    return this.datasets.get(name);
  }

  /** A dataset by name; throws DATASET_NOT_FOUND. */
  require(name: string): Dataset {
    const ds = this.datasets.get(name);
    if (!ds) throw new LongbowError(ErrorCode.datasetNotFound, `dataset "${name}" does not exist`);
    return ds;
  }

  /** Every dataset, by name. */
  list(): Dataset[] {
    return [...this.datasets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Bytes held by all datasets. */
  byteLength(): number {
    let n = 0;
    for (const ds of this.datasets.values()) n += ds.byteLength;
    return n;
  }

  /**
   * Checks a batch for `name` and returns its definition (fixing it if this is the
   * dataset's first batch). Synchronous: append to the WAL in the same tick.
   */
  preparePut(name: string, batch: RecordBatch): DatasetDefinition {
    let def = this.definitions.get(name);
    const isNew = !def;
    def ??= defineDataset(name, batch.schema);
    checkBatch(def, batch);
    const limit = this.config.maxMemoryBytes;
    if (limit > 0) {
      const used = this.byteLength();
      const incoming = batch.data.byteLength;
      if (used + incoming > limit) {
        throw new LongbowError(
          ErrorCode.memoryLimit,
          `memory limit reached: datasets hold ${used} bytes, the batch needs ${incoming} more, LONGBOW_MAX_MEMORY is ${limit}`,
        );
      }
    }
    if (isNew) this.definitions.set(name, def);
    return def;
  }

  /** Applies a committed put. Creates the dataset on its first batch. */
  private applyPut(
    name: string,
    batch: RecordBatch,
    lsn: bigint,
    timestampMs: number,
    versions: RowVersions,
  ): number {
    let ds = this.datasets.get(name);
    if (!ds) {
      let def = this.definitions.get(name);
      if (!def) {
        def = defineDataset(name, batch.schema);
        this.definitions.set(name, def);
      }
      ds = new Dataset(def);
      this.datasets.set(name, ds);
      this.attachIndex(ds);
    }
    const { firstRow, replaced, stale } = ds.append(batch, lsn, timestampMs, versions);
    const stored = ds.batches.at(-1)!;
    ds.index?.add(firstRow, stored.batch.numRows, stored.vectors.slice());
    ds.index?.delete(stale.length > 0 ? [...replaced, ...stale] : replaced);
    return stored.batch.numRows - stale.length;
  }

  /** Applies a committed delete. Unknown datasets are ignored (deletes are idempotent). */
  private applyDelete(name: string, keys: IdKey[], lsn: bigint, entry: WalEntry): number {
    const ds = this.datasets.get(name);
    if (!ds) return 0;
    const removed = ds.deleteIds(keys, lsn, (i) => rowVersionAt(entry, i));
    ds.index?.delete(removed);
    return removed.length;
  }

  /** Applies a committed drop: the dataset and its index are gone. */
  private applyDrop(name: string): boolean {
    const ds = this.datasets.get(name);
    this.definitions.delete(name);
    if (!ds) return false;
    this.datasets.delete(name);
    ds.index?.drop();
    return true;
  }

  /**
   * Installs a dataset loaded from a snapshot (start-up, before WAL replay): `batches` are
   * in `def.schema` (created_at included) and hold live rows only; `lsn` is the LSN the
   * snapshot covers. Replaces any dataset of that name. With `savedIndex` (the index file
   * saved beside the snapshot) the graphs are loaded instead of rebuilt when the file
   * matches the dataset's index settings and `lsn`; otherwise — or when it is damaged — the
   * index is rebuilt from the rows and `reason` says why. `versions` (one per batch) and
   * `deletedIds` are the rows' versions and the deleted-id tombstones the snapshot kept.
   */
  async restore(
    def: DatasetDefinition,
    batches: RecordBatch[],
    lsn: bigint,
    savedIndex?: Uint8Array,
    versions?: readonly RowVersions[],
    deletedIds: Iterable<readonly [IdKey, Version]> = [],
  ): Promise<{ ds: Dataset; index: 'loaded' | 'rebuilt'; reason?: string }> {
    if (versions && versions.length !== batches.length) {
      throw new Error(`restore: ${versions.length} row-version sets for ${batches.length} batches`);
    }
    this.applyDrop(def.name);
    this.definitions.set(def.name, def);
    const ds = new Dataset(def);
    this.datasets.set(def.name, ds);
    // Format-1 snapshots carry no versions: their rows get version zero, below every logged write.
    batches.forEach((batch, i) => {
      ds.append(batch, lsn, 0, versions?.[i] ?? { kind: 'uniform', version: ZERO_VERSION });
    });
    ds.restoreDeletedIds(deletedIds);
    ds.lastLsn = lsn;
    let reason: string | undefined;
    if (savedIndex) {
      try {
        ds.index = await ShardedIndex.deserialize(
          this.pool,
          this.indexParams(ds),
          savedIndex,
          lsn,
          path.join(os.tmpdir(), 'longbow-index'),
          (from, to) => ds.liveRows(from, to),
          (shard, phase) => this.onIndexEvent(ds.name, shard, phase),
        );
      } catch (err) {
        if (!(err instanceof SavedIndexError)) throw err;
        reason = err.message;
      }
    }
    const loaded = ds.index !== undefined;
    if (!loaded) this.attachIndex(ds);
    // A loaded graph skips the rows it holds and indexes the rest (rows queued when saved).
    for (const stored of ds.batches)
      ds.index!.add(stored.firstRow, stored.batch.numRows, stored.vectors.slice());
    return { ds, index: loaded ? 'loaded' : 'rebuilt', reason };
  }

  /**
   * Applies one committed WAL entry, live or replayed: the only way rows, deletes and drops
   * reach the store. Returns, for a put, the rows that are live after last-writer-wins; for
   * a delete, the rows it removed; for a drop, 1 when the dataset existed, else 0. Throws
   * when the record cannot be decoded or its per-row versions do not match its rows (a
   * broken invariant: the entry was checked before it was logged).
   */
  applyEntry(entry: WalEntry): number {
    switch (entry.op) {
      case WalOp.put: {
        const batch = decodeBatchRecord(entry.record);
        checkRowVersions(entry, batch.numRows);
        const versions = entry.rowVersions
          ? rowVersionsOf(batch.numRows, (i) => rowVersionAt(entry, i))
          : ({ kind: 'uniform', version: entry.version } as const);
        return this.applyPut(entry.dataset, batch, entry.lsn, entry.timestampMs, versions);
      }
      case WalOp.delete: {
        const keys = decodeDeleteRecord(entry.record);
        checkRowVersions(entry, keys.length);
        return this.applyDelete(entry.dataset, keys, entry.lsn, entry);
      }
      case WalOp.dropDataset:
        return this.applyDrop(entry.dataset) ? 1 : 0;
    }
  }

  /**
   * Forgets deleted-id tombstones whose version is below `hlcBefore` in every dataset
   * (after `LONGBOW_TOMBSTONE_GRACE`); returns how many went.
   */
  purgeDeletedIds(hlcBefore: bigint): number {
    let n = 0;
    for (const ds of this.datasets.values()) n += ds.purgeDeletedIds(hlcBefore);
    return n;
  }

  /** The index settings of a dataset: its schema metadata over the node's defaults. */
  private indexParams(ds: Dataset): ShardedIndexParams {
    const o = ds.def.index;
    return {
      metric: ds.def.metric,
      dim: ds.def.dim,
      m: o.m ?? this.config.hnswM,
      efConstruction: o.efConstruction ?? this.config.hnswEfConstruction,
      shardRows: o.shardRows ?? this.config.indexShardRows,
      vacuumRatio: o.vacuumRatio ?? this.config.indexVacuumRatio,
      vacuumMinRows: VACUUM_MIN_ROWS,
    };
  }

  private attachIndex(ds: Dataset): void {
    ds.index = new ShardedIndex(
      this.pool,
      this.indexParams(ds),
      (from, to) => ds.liveRows(from, to),
      (shard, phase) => this.onIndexEvent(ds.name, shard, phase),
    );
  }
}

function checkRowVersions(entry: WalEntry, rows: number): void {
  const bytes = entry.rowVersions?.byteLength;
  if (bytes !== undefined && bytes !== rows * ROW_VERSION_BYTES)
    throw new Error(`WAL entry ${entry.lsn} has ${bytes} bytes of row versions for ${rows} rows`);
}
