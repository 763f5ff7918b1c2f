/**
 * What a snapshot file holds, as Arrow (pure: batches in, batches out, no I/O).
 *
 * One Parquet file per dataset. Columns, in this order:
 *
 * | column | type | what |
 * |---|---|---|
 * | `id` | int64, uint64 or utf8 | the user key |
 * | `vector` | fixed_size_list<float32>[dim] | so DuckDB and pandas read numbers |
 * | `metadata` | utf8 (JSON), nullable | per-row metadata: the user's own `metadata` column when the dataset has one, else null |
 * | `created_at` | timestamp[ms, UTC] | the server's commit time, or the user's column |
 * | … | as stored | every other user column, in the dataset's order |
 * | `longbow_version_hlc` | uint64 | the row's version: hybrid logical clock (format 2 on) |
 * | `longbow_version_node` | uint32 | the row's version: node tag that breaks HLC ties (format 2 on) |
 *
 * Only live rows are written (replaced and deleted rows are not). Parquet key-value
 * metadata (also visible as Arrow schema metadata) carries what a restore needs:
 *
 * | key | value |
 * |---|---|
 * | `longbow.lsn` | decimal LSN the snapshot covers: every WAL entry of this dataset up to it is in the file |
 * | `longbow.dataset` | JSON {@link SnapshotInfo}: format version, name, metric, dim, id type, added columns |
 * | `longbow.schema` | base64 of the dataset's stored Arrow schema (IPC-encapsulated), so a restore rebuilds exactly the same definition |
 * | `longbow.written_at` | when the snapshot was written, ISO 8601 UTC (absent in files written before it existed) |
 * | `longbow.deleted_ids` | format 2, when there are any: JSON `[[id, hlc, node], …]` (id and hlc as decimal strings) of the deleted-id tombstones, so an older write that arrives after a restore stays dead |
 *
 * Format 1 files (no version columns, no tombstones) still load: their rows get version
 * zero, below every logged write.
 *
 * plus the dataset's own schema metadata (`longbow.metric`, index and text settings).
 */
import { type Version, ZERO_VERSION } from '@longbow/cluster';
import { decodeEncapsulatedSchema, encapsulateSchema } from '@longbow/flight';
import { type Data, Field, makeData, type RecordBatch, Schema, Uint32, Uint64, Utf8 } from 'apache-arrow';
import type { MetricName } from '../config.ts';
import { batchOf, takeRows, valuesToData } from '../store/columns.ts';
import { type IdKey, type RowVersions, rowVersionsOf, versionAt } from '../store/dataset.ts';
import {
  CREATED_AT_COLUMN,
  type DatasetDefinition,
  defineDataset,
  ID_COLUMN,
  type IdType,
  VECTOR_COLUMN,
  VERSION_HLC_COLUMN,
  VERSION_NODE_COLUMN,
} from '../store/schema.ts';

/** Current snapshot format version (in `longbow.dataset`); 2 added row versions and tombstones. */
export const SNAPSHOT_FORMAT_VERSION = 2;
/** Format versions this build reads. */
export const READABLE_SNAPSHOT_FORMATS: readonly number[] = [1, 2];
export const METADATA_COLUMN = 'metadata';
export const LSN_KEY = 'longbow.lsn';
export const DATASET_KEY = 'longbow.dataset';
export const SCHEMA_KEY = 'longbow.schema';
export const WRITTEN_AT_KEY = 'longbow.written_at';
export const DELETED_IDS_KEY = 'longbow.deleted_ids';

/** The `longbow.dataset` JSON. */
export interface SnapshotInfo {
  version: number;
  name: string;
  metric: MetricName;
  dim: number;
  id_type: IdType;
  /** Columns the snapshot adds that the dataset does not store (dropped on restore). */
  added_columns: string[];
  /** True when `created_at` was added by the server (the user's batches do not carry it). */
  created_at_added: boolean;
  /** Live rows in the file. */
  rows: number;
}

/** A snapshot that cannot be read back: `file` names it. Start-up stops on it. */
export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
  readonly file: string;
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`snapshot ${file} is corrupt or unreadable: ${reason}`, options);
    this.file = file;
  }
}

/** The snapshot's Arrow schema for a dataset (column order above) and the added columns. */
export function snapshotSchema(def: DatasetDefinition): { schema: Schema; added: string[] } {
  const byName = new Map(def.schema.fields.map((f) => [f.name, f]));
  const added: string[] = [];
  let metadata = byName.get(METADATA_COLUMN);
  if (!metadata) {
    metadata = new Field(METADATA_COLUMN, new Utf8(), true);
    added.push(METADATA_COLUMN);
  }
  const core = [ID_COLUMN, VECTOR_COLUMN, METADATA_COLUMN, CREATED_AT_COLUMN];
  const fields = [
    byName.get(ID_COLUMN)!,
    byName.get(VECTOR_COLUMN)!,
    metadata,
    byName.get(CREATED_AT_COLUMN)!,
    ...def.schema.fields.filter((f) => !core.includes(f.name)),
    new Field(VERSION_HLC_COLUMN, new Uint64(), false),
    new Field(VERSION_NODE_COLUMN, new Uint32(), false),
  ];
  added.push(VERSION_HLC_COLUMN, VERSION_NODE_COLUMN);
  return { schema: new Schema(fields, def.schema.metadata), added };
}

/**
 * One stored batch as a snapshot batch: live rows only (`deleted`: 1 = tombstone, a copy
 * taken when the snapshot was captured), columns in snapshot order, each row with its
 * version from `versions`. Returns undefined when no row is live.
 */
export function toSnapshotBatch(
  def: DatasetDefinition,
  schema: Schema,
  batch: RecordBatch,
  deleted: Uint8Array | undefined,
  versions: RowVersions,
): RecordBatch | undefined {
  let live = batch;
  let rows: number[] | undefined;
  if (deleted) {
    rows = [];
    for (let i = 0; i < batch.numRows; i++) if (deleted[i] !== 1) rows.push(i);
    if (rows.length === 0) return undefined;
    if (rows.length < batch.numRows) live = takeRows(batch, rows);
    else rows = undefined;
  }
  const n = live.numRows;
  const hlc = new BigUint64Array(n);
  const node = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const v = versionAt(versions, rows ? rows[j]! : j);
    hlc[j] = v.hlc;
    node[j] = v.node;
  }
  const index = new Map(def.schema.fields.map((f, i) => [f.name, i]));
  const children = schema.fields.map((f) => {
    const i = index.get(f.name);
    if (i !== undefined) return live.data.children[i] as Data;
    if (f.name === VERSION_HLC_COLUMN)
      return makeData({ type: new Uint64(), length: n, nullCount: 0, data: hlc });
    if (f.name === VERSION_NODE_COLUMN)
      return makeData({ type: new Uint32(), length: n, nullCount: 0, data: node });
    return valuesToData(new Array(n).fill(null), f.type); // the added `metadata`
  });
  return batchOf(schema, n, children);
}

/**
 * The row versions of a batch read from a snapshot: its version columns (format 2), or
 * version zero for every row (format 1). Throws {@link SnapshotCorruptError} when a
 * format-2 file lacks them.
 */
export function snapshotRowVersions(file: string, info: SnapshotInfo, batch: RecordBatch): RowVersions {
  if (info.version < 2) return { kind: 'uniform', version: ZERO_VERSION };
  const hlc = batch.getChild(VERSION_HLC_COLUMN);
  const node = batch.getChild(VERSION_NODE_COLUMN);
  if (!hlc || !node || hlc.type.toString() !== 'Uint64' || node.type.toString() !== 'Uint32') {
    throw new SnapshotCorruptError(
      file,
      `format ${info.version} without uint64 ${VERSION_HLC_COLUMN} and uint32 ${VERSION_NODE_COLUMN}`,
    );
  }
  if (hlc.nullCount > 0 || node.nullCount > 0) throw new SnapshotCorruptError(file, 'a row version is null');
  return rowVersionsOf(batch.numRows, (i) => ({ hlc: hlc.get(i) as bigint, node: node.get(i) as number }));
}

/** Deleted-id tombstones as the `longbow.deleted_ids` JSON. */
export function encodeDeletedIds(entries: Iterable<readonly [IdKey | number, Version]>): string {
  const out: [string, string, number][] = [];
  for (const [id, v] of entries) out.push([String(id), v.hlc.toString(), v.node]);
  return JSON.stringify(out);
}

/** Parses `longbow.deleted_ids`; throws {@link SnapshotCorruptError} naming `file`. */
export function decodeDeletedIds(file: string, idType: IdType, raw: string | undefined): [IdKey, Version][] {
  if (raw === undefined) return [];
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (!Array.isArray(parsed)) throw new Error('not an array');
    return parsed.map((e: unknown) => {
      if (
        !Array.isArray(e) ||
        e.length !== 3 ||
        typeof e[0] !== 'string' ||
        typeof e[1] !== 'string' ||
        typeof e[2] !== 'number'
      ) {
        throw new Error(`entry ${JSON.stringify(e)} is not [id, hlc, node]`);
      }
      const id: IdKey = idType === 'utf8' ? e[0] : BigInt(e[0]);
      return [id, { hlc: BigInt(e[1]), node: e[2] >>> 0 }];
    });
  } catch (err) {
    throw new SnapshotCorruptError(file, `${DELETED_IDS_KEY} is unreadable: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The key-value metadata written with a snapshot. */
export function snapshotKeyValues(
  def: DatasetDefinition,
  lsn: bigint,
  rows: number,
  writtenAt: Date,
  deletedIds: readonly (readonly [IdKey | number, Version])[] = [],
): Map<string, string> {
  const { added } = snapshotSchema(def);
  const info: SnapshotInfo = {
    version: SNAPSHOT_FORMAT_VERSION,
    name: def.name,
    metric: def.metric,
    dim: def.dim,
    id_type: def.idType,
    added_columns: added,
    created_at_added: !def.userFields.some((f) => f.name === CREATED_AT_COLUMN),
    rows,
  };
  const kv = new Map([
    [LSN_KEY, lsn.toString()],
    [DATASET_KEY, JSON.stringify(info)],
    [SCHEMA_KEY, Buffer.from(encapsulateSchema(def.schema)).toString('base64')],
    [WRITTEN_AT_KEY, writtenAt.toISOString()],
  ]);
  if (deletedIds.length > 0) kv.set(DELETED_IDS_KEY, encodeDeletedIds(deletedIds));
  return kv;
}

/** What a restore needs from a snapshot's metadata. */
export interface SnapshotHeader {
  def: DatasetDefinition;
  lsn: bigint;
  info: SnapshotInfo;
  /** When the file was written (epoch ms); undefined for files without `longbow.written_at`. */
  writtenAtMs: number | undefined;
  /** Deleted-id tombstones (format 2; empty for format 1). */
  deletedIds: [IdKey, Version][];
}

/**
 * Reads the definition and LSN from a snapshot's key-value metadata; throws
 * {@link SnapshotCorruptError} naming `file` when they are missing or inconsistent.
 */
export function readSnapshotHeader(file: string, kv: ReadonlyMap<string, string>): SnapshotHeader {
  const lsnRaw = kv.get(LSN_KEY);
  const infoRaw = kv.get(DATASET_KEY);
  const schemaRaw = kv.get(SCHEMA_KEY);
  if (!lsnRaw || !infoRaw || !schemaRaw)
    throw new SnapshotCorruptError(file, `missing ${LSN_KEY}, ${DATASET_KEY} or ${SCHEMA_KEY} metadata`);
  if (!/^\d+$/.test(lsnRaw)) throw new SnapshotCorruptError(file, `${LSN_KEY}="${lsnRaw}" is not an LSN`);
  let info: SnapshotInfo;
  let stored: Schema;
  try {
    info = JSON.parse(infoRaw) as SnapshotInfo;
    stored = decodeEncapsulatedSchema(Buffer.from(schemaRaw, 'base64'));
  } catch (err) {
    throw new SnapshotCorruptError(file, `unreadable metadata: ${(err as Error).message}`, { cause: err });
  }
  if (!READABLE_SNAPSHOT_FORMATS.includes(info.version))
    throw new SnapshotCorruptError(
      file,
      `unknown snapshot format version ${info.version} (this build reads ${READABLE_SNAPSHOT_FORMATS.join(', ')})`,
    );
  // The user's schema is the stored one without a server-added created_at; defining the
  // dataset from it again yields the same definition the node had.
  const userFields = stored.fields.filter((f) => f.name !== CREATED_AT_COLUMN || !info.created_at_added);
  let def: DatasetDefinition;
  try {
    def = defineDataset(info.name, new Schema(userFields, stored.metadata));
  } catch (err) {
    throw new SnapshotCorruptError(file, `stored schema is invalid: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (def.dim !== info.dim || def.idType !== info.id_type || def.metric !== info.metric)
    throw new SnapshotCorruptError(file, 'stored schema disagrees with longbow.dataset');
  const writtenAtRaw = kv.get(WRITTEN_AT_KEY);
  const writtenAtMs = writtenAtRaw === undefined ? undefined : Date.parse(writtenAtRaw);
  if (writtenAtMs !== undefined && Number.isNaN(writtenAtMs))
    throw new SnapshotCorruptError(file, `${WRITTEN_AT_KEY}="${writtenAtRaw}" is not a timestamp`);
  const deletedIds = decodeDeletedIds(file, def.idType, kv.get(DELETED_IDS_KEY));
  return { def, lsn: BigInt(lsnRaw), info, writtenAtMs, deletedIds };
}

/**
 * A batch read from a snapshot, back in the dataset's stored schema (added columns dropped,
 * columns in stored order). Throws {@link SnapshotCorruptError} on a missing column or a
 * type that differs.
 */
export function fromSnapshotBatch(file: string, def: DatasetDefinition, batch: RecordBatch): RecordBatch {
  const children = def.schema.fields.map((f) => {
    const i = batch.schema.fields.findIndex((g) => g.name === f.name);
    const got = batch.schema.fields[i];
    if (!got) throw new SnapshotCorruptError(file, `column "${f.name}" is missing`);
    if (got.type.toString() !== f.type.toString())
      throw new SnapshotCorruptError(file, `column "${f.name}" has type ${got.type}, expected ${f.type}`);
    return batch.data.children[i] as Data;
  });
  return batchOf(def.schema, batch.numRows, children);
}
