/**
 * Column building blocks over `apache-arrow` Data: row selection ("take"), concatenation
 * (compaction), constant columns and columns built from JS values. Fixed-width types are
 * copied directly between value buffers; other types go through Arrow's builders.
 */
import {
  type Data,
  type DataType,
  type FixedSizeList,
  makeData,
  RecordBatch,
  type Schema,
  Struct,
  Type,
  Vector,
  vectorFromArray,
} from 'apache-arrow';

type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;
type TypedArrayCtor = { new (length: number): TypedArray };

const FIXED_WIDTH = new Set<Type>([
  Type.Int,
  Type.Float,
  Type.Timestamp,
  Type.Date,
  Type.Time,
  Type.Duration,
  Type.Decimal,
  Type.Interval,
]);

function takeValidity(
  data: Data,
  rows: ArrayLike<number>,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  if (data.nullCount === 0) return { nullBitmap: undefined, nullCount: 0 };
  const bitmap = new Uint8Array((rows.length + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < rows.length; i++) {
    if (data.getValid(rows[i]!)) bitmap[i >> 3]! |= 1 << (i & 7);
    else nullCount++;
  }
  return { nullBitmap: nullCount > 0 ? bitmap : undefined, nullCount };
}

function gather(values: TypedArray, stride: number, rows: ArrayLike<number>): TypedArray {
  const out = new (values.constructor as TypedArrayCtor)(rows.length * stride);
  if (stride === 1) {
    for (let i = 0; i < rows.length; i++) (out as Float64Array)[i] = (values as Float64Array)[rows[i]!]!;
  } else {
    for (let i = 0; i < rows.length; i++) {
      const from = rows[i]! * stride;
      out.set(values.subarray(from, from + stride) as never, i * stride);
    }
  }
  return out;
}

/** The rows `rows` (indexes into `data`, any order, repeats allowed) as new Data. */
export function takeData(data: Data, rows: ArrayLike<number>): Data {
  const { type } = data;
  const length = rows.length;
  const { nullBitmap, nullCount } = takeValidity(data, rows);
  if (FIXED_WIDTH.has(data.typeId) && data.values) {
    const values = gather(data.values as TypedArray, data.stride, rows);
    return makeData({ type, length, nullCount, nullBitmap, data: values } as never);
  }
  if (data.typeId === Type.FixedSizeList) {
    const size = (type as FixedSizeList).listSize;
    const childRows = new Int32Array(length * size);
    for (let i = 0; i < length; i++) {
      const base = rows[i]! * size;
      for (let j = 0; j < size; j++) childRows[i * size + j] = base + j;
    }
    const child = takeData(data.children[0]!, childRows);
    return makeData({ type, length, nullCount, nullBitmap, child } as never);
  }
  if (data.typeId === Type.Dictionary && data.dictionary) {
    const indices = gather(data.values as TypedArray, 1, rows);
    return makeData({
      type,
      length,
      nullCount,
      nullBitmap,
      data: indices,
      dictionary: data.dictionary,
    } as never);
  }
  const vector = new Vector([data]);
  const values = Array.from(rows, (r) => (vector.isValid(r) ? plain(vector.get(r)) : null));
  return valuesToData(values, type);
}

/**
 * A cell as plain JS for the builders: nested lists arrive as Vectors and structs as rows,
 * which `vectorFromArray` does not rebuild correctly (a list<utf8> cell came back as empty
 * strings), so they are turned into arrays and objects first.
 */
export function plain(value: unknown): unknown {
  if (value instanceof Vector) return Array.from(value as Iterable<unknown>, plain);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && 'toJSON' in value) {
    const obj = (value as { toJSON(): Record<string, unknown> }).toJSON();
    if (obj !== null && typeof obj === 'object' && !Array.isArray(obj))
      return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Builds Data of `type` from JS values (null for null). */
export function valuesToData(values: unknown[], type: DataType): Data {
  const vector = vectorFromArray(values as never[], type);
  if (vector.data.length !== 1)
    throw new Error(`expected one chunk building ${type}, got ${vector.data.length}`);
  return vector.data[0]!;
}

function concatBitmaps(
  parts: readonly Data[],
  length: number,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  const nullCount = parts.reduce((n, d) => n + d.nullCount, 0);
  if (nullCount === 0) return { nullBitmap: undefined, nullCount: 0 };
  const bitmap = new Uint8Array((length + 7) >> 3);
  let at = 0;
  for (const d of parts) {
    for (let i = 0; i < d.length; i++, at++) if (d.getValid(i)) bitmap[at >> 3]! |= 1 << (at & 7);
  }
  return { nullBitmap: bitmap, nullCount };
}

function concatTyped(parts: readonly TypedArray[]): TypedArray {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const out = new (parts[0]!.constructor as TypedArrayCtor)(length);
  let at = 0;
  for (const p of parts) {
    out.set(p as never, at);
    at += p.length;
  }
  return out;
}

/** One column's Data pieces as one Data of `type` (rows in order). */
export function concatData(parts: readonly Data[], type: DataType): Data {
  const length = parts.reduce((n, d) => n + d.length, 0);
  const { nullBitmap, nullCount } = concatBitmaps(parts, length);
  if (FIXED_WIDTH.has(type.typeId) && parts.every((d) => d.values)) {
    const data = concatTyped(parts.map((d) => (d.values as TypedArray).subarray(0, d.length * d.stride)));
    return makeData({ type, length, nullCount, nullBitmap, data } as never);
  }
  if (type.typeId === Type.FixedSizeList) {
    const size = (type as FixedSizeList).listSize;
    const childType = (type as FixedSizeList).children[0]!.type;
    const children = parts.map((d) => d.children[0]!.slice(0, d.length * size));
    const child = concatData(children, childType);
    return makeData({ type, length, nullCount, nullBitmap, child } as never);
  }
  if (type.typeId === Type.Utf8 || type.typeId === Type.Binary) {
    const offsets = new Int32Array(length + 1);
    const chunks: Uint8Array[] = [];
    let row = 0;
    let base = 0;
    for (const d of parts) {
      const o = d.valueOffsets as Int32Array;
      const start = o[0]!;
      for (let i = 0; i < d.length; i++) offsets[++row] = base + o[i + 1]! - start;
      const bytes = (d.values as Uint8Array).subarray(start, o[d.length]!);
      chunks.push(bytes);
      base += bytes.length;
    }
    const data = concatTyped(chunks);
    return makeData({ type, length, nullCount, nullBitmap, valueOffsets: offsets, data } as never);
  }
  // Anything else (lists, structs, dictionaries, …) through the builders.
  const vector = new Vector(parts as Data[]);
  const values = Array.from({ length }, (_, i) => (vector.isValid(i) ? plain(vector.get(i)) : null));
  return valuesToData(values, type);
}

/** A batch of the given columns. */
export function batchOf(schema: Schema, length: number, children: Data[]): RecordBatch {
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }),
  );
}

/** The rows `rows` of `batch`, all columns (or only `columns`, in that order). */
export function takeRows(batch: RecordBatch, rows: ArrayLike<number>): RecordBatch {
  const children = batch.schema.fields.map((_, i) => takeData(batch.data.children[i]!, rows));
  return batchOf(batch.schema, rows.length, children);
}

/** A column of `length` copies of a 64-bit value (e.g. a timestamp in ms). */
export function constantInt64Data(type: DataType, length: number, value: bigint): Data {
  return makeData({ type, length, nullCount: 0, data: new BigInt64Array(length).fill(value) } as never);
}
