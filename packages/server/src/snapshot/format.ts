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
 *
 * plus the dataset's own schema metadata (`longbow.metric`, index and text settings).
 */
import { decodeEncapsulatedSchema, encapsulateSchema } from '@longbow/flight';
import { type Data, Field, type RecordBatch, Schema, Utf8 } from 'apache-arrow';
import type { MetricName } from '../config.ts';
import { batchOf, takeRows, valuesToData } from '../store/columns.ts';
import {
  CREATED_AT_COLUMN,
  type DatasetDefinition,
  defineDataset,
  ID_COLUMN,
  type IdType,
  VECTOR_COLUMN,
} from '../store/schema.ts';

/** Current snapshot format version (in `longbow.dataset`). */
export const SNAPSHOT_FORMAT_VERSION = 1;
export const METADATA_COLUMN = 'metadata';
export const LSN_KEY = 'longbow.lsn';
export const DATASET_KEY = 'longbow.dataset';
export const SCHEMA_KEY = 'longbow.schema';
export const WRITTEN_AT_KEY = 'longbow.written_at';

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
  ];
  return { schema: new Schema(fields, def.schema.metadata), added };
}

/**
 * One stored batch as a snapshot batch: live rows only (`deleted`: 1 = tombstone, a copy
 * taken when the snapshot was captured), columns in snapshot order. Returns undefined when
 * no row is live.
 */
export function toSnapshotBatch(
  def: DatasetDefinition,
  schema: Schema,
  batch: RecordBatch,
  deleted: Uint8Array | undefined,
): RecordBatch | undefined {
  let live = batch;
  if (deleted) {
    const rows: number[] = [];
    for (let i = 0; i < batch.numRows; i++) if (deleted[i] !== 1) rows.push(i);
    if (rows.length === 0) return undefined;
    if (rows.length < batch.numRows) live = takeRows(batch, rows);
  }
  const index = new Map(def.schema.fields.map((f, i) => [f.name, i]));
  const children = schema.fields.map((f) => {
    const i = index.get(f.name);
    if (i !== undefined) return live.data.children[i] as Data;
    return valuesToData(new Array(live.numRows).fill(null), f.type); // the added `metadata`
  });
  return batchOf(schema, live.numRows, children);
}

/** The key-value metadata written with a snapshot. */
export function snapshotKeyValues(
  def: DatasetDefinition,
  lsn: bigint,
  rows: number,
  writtenAt: Date,
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
  return new Map([
    [LSN_KEY, lsn.toString()],
    [DATASET_KEY, JSON.stringify(info)],
    [SCHEMA_KEY, Buffer.from(encapsulateSchema(def.schema)).toString('base64')],
    [WRITTEN_AT_KEY, writtenAt.toISOString()],
  ]);
}

/** What a restore needs from a snapshot's metadata. */
export interface SnapshotHeader {
  def: DatasetDefinition;
  lsn: bigint;
  info: SnapshotInfo;
  /** When the file was written (epoch ms); undefined for files without `longbow.written_at`. */
  writtenAtMs: number | undefined;
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
  if (info.version !== SNAPSHOT_FORMAT_VERSION)
    throw new SnapshotCorruptError(file, `unknown snapshot format version ${info.version}`);
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
  return { def, lsn: BigInt(lsnRaw), info, writtenAtMs };
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
