/**
 * The commit path: the one place where a change is checked, versioned, logged and applied.
 *
 * Every put, upsert, delete and drop goes `check → version (HLC) → WAL append → (once
 * durable) apply the entry as logged → acknowledge`, in that order, whoever asked for it:
 * DoPut (api/ingest.ts), the delete and drop actions (api/actions.ts) and, later, a replica
 * receiving a coordinator's write. Replay at start-up hands the entries read back from the
 * WAL to the same {@link Store.applyEntry}, so a node that restarts rebuilds exactly the
 * state it acknowledged, from the same bytes through the same code (the ARIES rule that
 * the log is the truth and the store a cache of it).
 *
 * Each call does its checks and the WAL append in one synchronous step, so the dataset's
 * schema, the LSN order and the version order agree; the returned promise settles once the
 * entry is durable and applied, or rejects with a {@link LongbowError}: the check's own
 * code, or `WAL_FAILED` (UNAVAILABLE) when the WAL cannot make it durable — nothing is then
 * applied, and nothing is acknowledged.
 */
import type { HybridClock } from '@longbow/cluster';
import type { RecordBatch } from 'apache-arrow';
import { ErrorCode, LongbowError } from '../errors.ts';
import type { IdKey } from '../store/dataset.ts';
import { encodeBatchRecord, encodeDeleteRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { type WalEntry, WalOp } from '../wal/entry.ts';
import { type Wal, WalUnavailableError } from '../wal/wal.ts';

/**
 * Replays an entry read back from the WAL at start-up (before the committer exists): moves
 * the clock past its version, so new writes win over everything logged, and, unless
 * `covered` (a snapshot already holds it), applies it through the same
 * {@link Store.applyEntry} as the live path.
 */
export function replayEntry(store: Store, clock: HybridClock, entry: WalEntry, covered: boolean): void {
  clock.observe(entry.version.hlc);
  if (!covered) store.applyEntry(entry);
}

/** What a committed change did. */
export interface CommitResult {
  /** The entry's LSN. */
  lsn: bigint;
  /** put: rows live after last-writer-wins; delete: rows removed; drop: 1. */
  count: number;
}

/** Observes commits (metrics). */
export interface CommitObserver {
  /** An entry was made durable and applied; `seconds` from append to durable. */
  onCommit?(op: WalOp, seconds: number): void;
}

/** The node's committer. */
export class Committer {
  readonly clock: HybridClock;
  private readonly store: Store;
  private readonly wal: Wal;
  private readonly observer: CommitObserver;

  /**
   * @param clock issues the versions (this node's tag) and, through its wall clock, the
   *   `created_at` time of every entry; the one replay moved past every logged version
   */
  constructor(store: Store, wal: Wal, clock: HybridClock, observer: CommitObserver = {}) {
    this.store = store;
    this.wal = wal;
    this.clock = clock;
    this.observer = observer;
  }

  /**
   * Commits a put (rows of existing ids are upserts). Throws synchronously for a batch that
   * fails its checks (schema, dimension, memory limit: the store's codes).
   */
  put(dataset: string, batch: RecordBatch): Promise<CommitResult> {
    this.store.preparePut(dataset, batch);
    return this.append(WalOp.put, dataset, encodeBatchRecord(batch));
  }

  /** Commits a delete of `keys` from an existing dataset (DATASET_NOT_FOUND otherwise). */
  delete(dataset: string, keys: IdKey[]): Promise<CommitResult> {
    const ds = this.store.require(dataset);
    const idType = ds.def.schema.fields.find((f) => f.name === 'id')!.type;
    return this.append(WalOp.delete, dataset, encodeDeleteRecord(keys, idType));
  }

  /** Commits a drop of an existing dataset (DATASET_NOT_FOUND otherwise). */
  drop(dataset: string): Promise<CommitResult> {
    this.store.require(dataset);
    return this.append(WalOp.dropDataset, dataset, new Uint8Array(0));
  }

  private append(op: WalOp, dataset: string, record: Uint8Array): Promise<CommitResult> {
    const startedMs = performance.now();
    let count = 0;
    let durable: Promise<bigint>;
    try {
      durable = this.wal.append(
        { op, dataset, record, timestampMs: this.clock.physicalMs(), version: this.clock.now() },
        (entry) => {
          count = this.store.applyEntry(entry);
        },
      );
    } catch (err) {
      return Promise.reject(err);
    }
    return durable.then(
      (lsn) => {
        this.observer.onCommit?.(op, (performance.now() - startedMs) / 1000);
        return { lsn, count };
      },
      (err: unknown) => {
        if (err instanceof WalUnavailableError)
          throw new LongbowError(ErrorCode.walFailed, `${err.message}; nothing of this write was applied`, {
            cause: err,
          });
        throw err;
      },
    );
  }
}
