/**
 * Where snapshot files live: a directory (local.ts) or an S3 bucket (s3.ts). Both make a
 * new snapshot current atomically: a reader sees the previous file or the new one, never a
 * part of either.
 */

/** A snapshot file made available on local disk (for DuckDB); `release` cleans up. */
export interface LocalCopy {
  path: string;
  release(): Promise<void>;
}

/** The files a dataset has in a backend: its Parquet snapshot, and its saved index. */
export type SnapshotFile = 'snapshot' | 'index';

/** The storage of one node's snapshots, keyed by dataset name (and file, default snapshot). */
export interface SnapshotBackend {
  /** `local` or `s3`, for logs and stats. */
  readonly kind: 'local' | 's3';
  /** Where a dataset's snapshot lives: a path, or `s3://bucket/key` (for logs and errors). */
  locationOf(dataset: string): string;
  /** Makes `bytes` the dataset's current snapshot (or index), atomically and durably. */
  put(dataset: string, bytes: Uint8Array, file?: SnapshotFile): Promise<void>;
  /** The dataset's current snapshot (or index), or undefined when it has none. */
  get(dataset: string, file?: SnapshotFile): Promise<Uint8Array | undefined>;
  /** Names of the datasets that have a snapshot. */
  list(): Promise<string[]>;
  /** Removes the dataset's snapshot (or index), durably; no error when there is none. */
  delete(dataset: string, file?: SnapshotFile): Promise<void>;
  /** The dataset's snapshot as a local file (a temporary download for S3), or undefined. */
  localCopy(dataset: string): Promise<LocalCopy | undefined>;
  /** Releases connections (S3); optional. */
  close?(): void;
}

/** The snapshot file name of a dataset. Dataset names are already safe as file names. */
export function snapshotFileName(dataset: string): string {
  return `${dataset}.parquet`;
}

/**
 * The file name of a dataset's saved HNSW index, which sits beside its snapshot and is
 * valid for the snapshot with the same `longbow.lsn` (the index records that LSN itself).
 */
export function indexFileName(dataset: string): string {
  return `${dataset}.hnsw`;
}

export const SNAPSHOT_SUFFIX = '.parquet';

/** The name of one of a dataset's files. */
export function fileNameOf(dataset: string, file: SnapshotFile = 'snapshot'): string {
  return file === 'index' ? indexFileName(dataset) : snapshotFileName(dataset);
}
