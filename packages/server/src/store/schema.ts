/**
 * What a dataset's schema must look like, and the checks every incoming batch passes
 * before it is logged. All failures are LongbowErrors that name the column and the problem.
 *
 * A dataset's columns: `id` (int64, uint64 or utf8; the user key), `vector`
 * (FixedSizeList<Float32>[dim]), any attribute columns, and `created_at`
 * (timestamp[ms, UTC]) which the server adds when absent. Schema metadata
 * `longbow.metric` picks the distance metric (default l2).
 */
import {
  type DataType,
  Field,
  FixedSizeList,
  Float32,
  type RecordBatch,
  Schema,
  Timestamp,
  TimeUnit,
  Type,
} from 'apache-arrow';
import type { MetricName } from '../config.ts';
import { ErrorCode, LongbowError } from '../errors.ts';
import { parseMetric } from '../index/metric.ts';

export const ID_COLUMN = 'id';
export const VECTOR_COLUMN = 'vector';
export const CREATED_AT_COLUMN = 'created_at';
/** Snapshot columns holding each row's version (HLC, node tag); no dataset may use these names. */
export const VERSION_HLC_COLUMN = 'longbow_version_hlc';
export const VERSION_NODE_COLUMN = 'longbow_version_node';
export const RESERVED_COLUMNS: readonly string[] = [VERSION_HLC_COLUMN, VERSION_NODE_COLUMN];
export const METRIC_METADATA_KEY = 'longbow.metric';
/** Schema metadata: comma-separated utf8 columns that feed the BM25 index. */
export const TEXT_COLUMNS_METADATA_KEY = 'longbow.text_columns';
/**
 * Per-dataset index settings in schema metadata (override the node's LONGBOW_* defaults):
 * key → [field, min, max]. Values are integers except the vacuum ratio.
 */
export const INDEX_METADATA_KEYS = {
  'longbow.hnsw.m': ['m', 2, 128],
  'longbow.hnsw.ef_construction': ['efConstruction', 8, 4096],
  'longbow.hnsw.ef': ['ef', 1, 10_000],
  'longbow.index.shard_rows': ['shardRows', 1000, 1e9],
  'longbow.index.vacuum_ratio': ['vacuumRatio', 0.01, 1],
} as const;

/** Index settings a dataset's schema metadata may override. */
export interface IndexOverrides {
  m?: number;
  efConstruction?: number;
  ef?: number;
  shardRows?: number;
  vacuumRatio?: number;
}
/** Largest vector dimension accepted. */
export const MAX_DIMENSION = 65_536;
/** Dataset names: what is safe as a file name and a metric label. */
export const DATASET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** The user key's type. */
export type IdType = 'int64' | 'uint64' | 'utf8';

/** The fixed facts of a dataset, taken from its first batch. */
export interface DatasetDefinition {
  name: string;
  /** Stored schema: the user's columns, then `created_at` when the user did not send it. */
  schema: Schema;
  /** The user's columns (what batches must carry), without a server-added `created_at`. */
  userFields: Field[];
  dim: number;
  metric: MetricName;
  idType: IdType;
  /** Index settings from schema metadata (unset: the node's defaults). */
  index: IndexOverrides;
  /** utf8 columns whose text feeds the BM25 index (metadata, else every utf8 column but `id`). */
  textColumns: string[];
}

/** Throws INVALID_DESCRIPTOR unless `name` is a valid dataset name. */
export function checkDatasetName(name: string | undefined): string {
  if (!name)
    throw new LongbowError(
      ErrorCode.invalidDescriptor,
      'no dataset name: DoPut needs a PATH descriptor [dataset]',
    );
  if (!DATASET_NAME_RE.test(name)) {
    throw new LongbowError(
      ErrorCode.invalidDescriptor,
      `dataset name "${name}" is invalid: use 1-255 letters, digits, '_', '.', '-', starting with a letter or digit`,
    );
  }
  return name;
}

function idTypeOf(type: DataType): IdType | undefined {
  if (type.typeId === Type.Int) {
    const t = type as unknown as { bitWidth: number; isSigned: boolean };
    if (t.bitWidth === 64) return t.isSigned ? 'int64' : 'uint64';
  }
  if (type.typeId === Type.Utf8) return 'utf8';
  return undefined;
}

/** The vector dimension if `type` is FixedSizeList<Float32>, else undefined. */
export function vectorDimOf(type: DataType): number | undefined {
  if (type.typeId !== Type.FixedSizeList) return undefined;
  const list = type as FixedSizeList;
  const child = list.children[0]?.type;
  if (!child || child.typeId !== Type.Float || (child as Float32).precision !== 1) return undefined;
  return list.listSize;
}

/** The vector type for a dimension. */
export function vectorType(dim: number): FixedSizeList {
  return new FixedSizeList(dim, new Field('item', new Float32(), false));
}

/** The `created_at` type: timestamp in ms, UTC. */
export const CREATED_AT_TYPE = new Timestamp(TimeUnit.MILLISECOND, 'UTC');

/** Derives a dataset definition from the schema of its first batch; throws INVALID_SCHEMA. */
export function defineDataset(name: string, schema: Schema): DatasetDefinition {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  if (byName.size !== schema.fields.length)
    throw new LongbowError(ErrorCode.invalidSchema, 'duplicate column names in the schema');
  const reserved = schema.fields.find((f) => RESERVED_COLUMNS.includes(f.name));
  if (reserved) {
    throw new LongbowError(
      ErrorCode.invalidSchema,
      `column name "${reserved.name}" is reserved (snapshots store row versions under it); rename the column`,
    );
  }
  const vector = byName.get(VECTOR_COLUMN);
  if (!vector) {
    throw new LongbowError(
      ErrorCode.invalidSchema,
      `no "${VECTOR_COLUMN}" column: a batch needs vector: fixed_size_list<float32>[dim] (columns sent: ${[...byName.keys()].join(', ') || 'none'})`,
    );
  }
  const dim = vectorDimOf(vector.type);
  if (dim === undefined) {
    throw new LongbowError(
      ErrorCode.invalidSchema,
      `column "vector" has type ${vector.type}; expected fixed_size_list<float32>[dim]`,
    );
  }
  if (dim < 1 || dim > MAX_DIMENSION)
    throw new LongbowError(ErrorCode.invalidSchema, `vector dimension ${dim} is outside 1..${MAX_DIMENSION}`);
  const id = byName.get(ID_COLUMN);
  if (!id)
    throw new LongbowError(
      ErrorCode.invalidSchema,
      'no "id" column: a batch needs id: int64, uint64 or utf8',
    );
  const idType = idTypeOf(id.type);
  if (!idType)
    throw new LongbowError(
      ErrorCode.invalidSchema,
      `column "id" has type ${id.type}; expected int64, uint64 or utf8`,
    );
  const createdAt = byName.get(CREATED_AT_COLUMN);
  if (createdAt && createdAt.type.typeId !== Type.Timestamp) {
    throw new LongbowError(
      ErrorCode.invalidSchema,
      `column "created_at" has type ${createdAt.type}; expected a timestamp`,
    );
  }
  const metricRaw = schema.metadata.get(METRIC_METADATA_KEY);
  const metric = metricRaw === undefined ? 'l2' : parseMetric(metricRaw);
  if (!metric) {
    throw new LongbowError(
      ErrorCode.invalidSchema,
      `schema metadata ${METRIC_METADATA_KEY}="${metricRaw}" is not l2, cosine or dot`,
    );
  }
  const userFields = schema.fields.map((f) => new Field(f.name, f.type, f.nullable));
  const stored = createdAt
    ? userFields
    : [...userFields, new Field(CREATED_AT_COLUMN, CREATED_AT_TYPE, false)];
  const metadata = new Map([[METRIC_METADATA_KEY, metric as string]]);
  const index: IndexOverrides = {};
  for (const [key, [field, min, max]] of Object.entries(INDEX_METADATA_KEYS)) {
    const raw = schema.metadata.get(key);
    if (raw === undefined) continue;
    const value = Number(raw);
    const integer = field !== 'vacuumRatio';
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new LongbowError(
        ErrorCode.invalidSchema,
        `schema metadata ${key}="${raw}" must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`,
      );
    }
    index[field] = value;
    metadata.set(key, raw);
  }
  const textColumns = textColumnsOf(schema);
  const textRaw = schema.metadata.get(TEXT_COLUMNS_METADATA_KEY);
  if (textRaw !== undefined) metadata.set(TEXT_COLUMNS_METADATA_KEY, textRaw);
  return { name, schema: new Schema(stored, metadata), userFields, dim, metric, idType, index, textColumns };
}

function textColumnsOf(schema: Schema): string[] {
  const raw = schema.metadata.get(TEXT_COLUMNS_METADATA_KEY);
  const utf8 = schema.fields
    .filter((f) => f.type.typeId === Type.Utf8 && f.name !== ID_COLUMN)
    .map((f) => f.name);
  if (raw === undefined) return utf8;
  const names = raw
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!utf8.includes(n)) {
      throw new LongbowError(
        ErrorCode.invalidSchema,
        `${TEXT_COLUMNS_METADATA_KEY} names "${n}", which is not a utf8 column`,
      );
    }
  }
  return names;
}

function sameType(a: DataType, b: DataType): boolean {
  return a.toString() === b.toString() && a.typeId === b.typeId;
}

/**
 * Checks a batch against its dataset: same columns in the same order with the same types
 * (a different vector dimension gets its own message), no null ids or vectors, and only
 * finite vector values.
 */
export function checkBatch(def: DatasetDefinition, batch: RecordBatch): void {
  const fields = batch.schema.fields;
  const vectorField = fields.find((f) => f.name === VECTOR_COLUMN);
  if (!vectorField) {
    throw new LongbowError(
      ErrorCode.invalidSchema,
      `no "${VECTOR_COLUMN}" column in the batch for dataset "${def.name}"`,
    );
  }
  const dim = vectorDimOf(vectorField.type);
  if (dim !== undefined && dim !== def.dim) {
    throw new LongbowError(
      ErrorCode.dimensionMismatch,
      `dataset "${def.name}" has vectors of dimension ${def.dim}; the batch has dimension ${dim}`,
    );
  }
  const expected = def.userFields;
  const same =
    fields.length === expected.length &&
    fields.every((f, i) => f.name === expected[i]!.name && sameType(f.type, expected[i]!.type));
  if (!same) {
    const show = (fs: readonly Field[]) => fs.map((f) => `${f.name}: ${f.type}`).join(', ');
    throw new LongbowError(
      ErrorCode.schemaMismatch,
      `schema differs from dataset "${def.name}": expected [${show(expected)}], got [${show(fields)}]`,
    );
  }
  checkIds(batch);
  checkVectors(batch, def.dim);
}

function checkIds(batch: RecordBatch): void {
  const ids = batch.getChild(ID_COLUMN)!;
  if (ids.nullCount > 0) {
    for (let i = 0; i < ids.length; i++) {
      if (!ids.isValid(i)) throw new LongbowError(ErrorCode.invalidId, `"id" is null at row ${i}`);
    }
  }
}

/**
 * The Float32 values behind a vector column (row-major, `numRows × dim`). Arrow JS slices
 * value buffers along with their Data, so the view starts at the first row.
 */
export function vectorValues(batch: RecordBatch, dim: number): Float32Array {
  const data = batch.getChild(VECTOR_COLUMN)!.data[0]!;
  const values = data.children[0]!.values as Float32Array;
  return values.subarray(0, data.length * dim);
}

function checkVectors(batch: RecordBatch, dim: number): void {
  const column = batch.getChild(VECTOR_COLUMN)!;
  if (column.nullCount > 0) {
    for (let i = 0; i < column.length; i++) {
      if (!column.isValid(i)) throw new LongbowError(ErrorCode.invalidSchema, `"vector" is null at row ${i}`);
    }
  }
  if (column.data.length !== 1)
    throw new LongbowError(ErrorCode.malformedIpc, 'vector column arrived in several chunks');
  const child = column.data[0]!.children[0];
  const values = vectorValues(batch, dim);
  if (!child || child.values.length < batch.numRows * dim || values.length !== batch.numRows * dim) {
    throw new LongbowError(
      ErrorCode.malformedIpc,
      `vector column holds ${child?.values.length ?? 0} floats; ${batch.numRows} rows of dimension ${dim} need ${batch.numRows * dim}`,
    );
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      const row = Math.floor(i / dim);
      throw new LongbowError(
        ErrorCode.nonFiniteVector,
        `vector at row ${row} has ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'} at position ${i % dim}`,
      );
    }
  }
}
