/**
 * Test data for the cluster tests: small batches whose vectors depend only on the id, so
 * any row found anywhere can be checked.
 */
import { Field, FixedSizeList, Float32, Int64, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';

export const DIM = 4;
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
export const SCHEMA = new Schema([new Field('id', new Int64(), false), new Field('vector', VECTOR, false)]);

/** The vector of row `id`. */
export function vectorOf(id: number): number[] {
  return Array.from({ length: DIM }, (_, k) => Math.cos(id * 7 + k));
}

/** Rows `first .. first+rows-1`. */
export function batch(first: number, rows: number): RecordBatch {
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(first + i));
  const values = Float32Array.from(
    { length: rows * DIM },
    (_, k) => vectorOf(first + Math.floor(k / DIM))[k % DIM]!,
  );
  const children = [
    makeData({ type: new Int64(), length: rows, data: ids }),
    makeData({
      type: VECTOR,
      length: rows,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: rows * DIM, data: values }),
    }),
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: rows, nullCount: 0, children }),
  );
}
