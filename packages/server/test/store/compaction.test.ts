/**
 * Compaction: the merge plan (pure), column concatenation for every column kind checked
 * value by value against the inputs, and a dataset compacted under tombstones keeping its
 * ordinals, ids, live rows and later deletes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Bool,
  Dictionary,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Timestamp,
  TimeUnit,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { compactOnce, mergeBatches, planMerge } from '../../src/store/compaction.ts';
import { Dataset } from '../../src/store/dataset.ts';
import { defineDataset } from '../../src/store/schema.ts';

const DIM = 3;
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const TAGS = new List(new Field('item', new Utf8(), true));
const DICT = new Dictionary(new Utf8(), new Int32());
const SCHEMA = new Schema([
  new Field('id', new Int64(), false),
  new Field('vector', VECTOR, false),
  new Field('name', new Utf8(), true),
  new Field('price', new Float64(), true),
  new Field('flag', new Bool(), true),
  new Field('tags', TAGS, true),
  new Field('kind', DICT, true),
  new Field('when', new Timestamp(TimeUnit.MILLISECOND, 'UTC'), true),
]);

function row(id: number) {
  return {
    id: BigInt(id),
    vector: [id, id + 0.5, -id],
    name: id % 3 === 0 ? null : `name-${id}`,
    price: id % 4 === 0 ? null : id * 1.25,
    flag: id % 5 === 0 ? null : id % 2 === 0,
    tags: id % 6 === 0 ? null : [`t${id % 2}`, `u${id}`],
    kind: id % 7 === 0 ? null : ['a', 'b'][id % 2]!,
    when: id % 8 === 0 ? null : 1_700_000_000_000 + id,
  };
}

function batch(ids: number[]): RecordBatch {
  const rows = ids.map(row);
  const values = Float32Array.from(rows.flatMap((r) => r.vector));
  const children = [
    makeData({ type: new Int64(), length: ids.length, data: BigInt64Array.from(ids, BigInt) }),
    makeData({
      type: VECTOR,
      length: ids.length,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: values.length, data: values }),
    }),
    vectorFromArray(
      rows.map((r) => r.name),
      new Utf8(),
    ).data[0]!,
    vectorFromArray(
      rows.map((r) => r.price),
      new Float64(),
    ).data[0]!,
    vectorFromArray(
      rows.map((r) => r.flag),
      new Bool(),
    ).data[0]!,
    vectorFromArray(
      rows.map((r) => r.tags),
      TAGS,
    ).data[0]!,
    vectorFromArray(
      rows.map((r) => r.kind),
      DICT,
    ).data[0]!,
    vectorFromArray(
      rows.map((r) => r.when),
      new Timestamp(TimeUnit.MILLISECOND, 'UTC'),
    ).data[0]!,
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: ids.length, nullCount: 0, children }),
  );
}

function cells(b: RecordBatch, i: number) {
  const get = (name: string) => b.getChild(name)!.get(i);
  const tags = get('tags');
  return {
    id: get('id'),
    vector: [...get('vector')],
    name: get('name'),
    price: get('price'),
    flag: get('flag'),
    tags: tags === null ? null : [...tags],
    kind: get('kind'),
    when: get('when'),
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('planMerge', () => {
  const opts = { targetRows: 1000, fanIn: 10 };
  it('merges runs of small batches up to a level, small ones first', () => {
    assert.deepEqual(planMerge([30, 30, 30, 500], opts), { from: 0, to: 3, rows: 90 });
    assert.deepEqual(planMerge([100, 100, 100, 100], opts), { from: 0, to: 4, rows: 400 });
    assert.deepEqual(planMerge([600, 300, 300], opts), { from: 0, to: 2, rows: 900 });
  });
  it('leaves full batches and lone small ones alone', () => {
    assert.equal(planMerge([1000, 1000, 5], opts), undefined);
    assert.equal(planMerge([999, 999], opts), undefined);
    assert.equal(planMerge([], opts), undefined);
  });
});

describe('mergeBatches', () => {
  it('concatenates every column kind, nulls included, value for value', () => {
    const parts = [batch(range(0, 7)), batch(range(7, 8)), batch(range(8, 40))];
    const merged = mergeBatches(parts);
    assert.equal(merged.numRows, 40);
    assert.deepEqual(
      merged.schema.fields.map((f) => `${f.name}: ${f.type}`),
      SCHEMA.fields.map((f) => `${f.name}: ${f.type}`),
    );
    let at = 0;
    for (const p of parts) {
      for (let i = 0; i < p.numRows; i++, at++) assert.deepEqual(cells(merged, at), cells(p, i), `row ${at}`);
    }
  });

  it('concatenates sliced inputs (offsets not at zero)', () => {
    const sliced = batch(range(0, 20)).slice(5, 15);
    const merged = mergeBatches([sliced, batch(range(100, 103))]);
    assert.deepEqual([...merged.getChild('id')!].map(Number), [...range(5, 15), 100, 101, 102]);
    assert.deepEqual(cells(merged, 1), cells(sliced, 1));
    assert.equal(merged.getChild('name')!.get(2), 'name-7');
  });
});

describe('compaction of a dataset', () => {
  it('keeps ordinals, ids, live rows and tombstones; later deletes land in the merged batch', () => {
    const def = defineDataset('c', SCHEMA);
    const ds = new Dataset(def);
    let lsn = 0n;
    const v = (n: bigint) => ({ kind: 'uniform', version: { hlc: n, node: 1 } }) as const;
    for (let k = 0; k < 50; k++) ds.append(batch(range(k * 20, (k + 1) * 20)), ++lsn, 1000 + k, v(lsn));
    ds.append(batch(range(0, 10)), ++lsn, 2000, v(lsn)); // upserts: ids 0..9 now live in the last batch
    const deleteAt = ++lsn;
    ds.deleteIds([25n, 26n, 999n], deleteAt, () => v(deleteAt).version);
    const before = new Map(range(0, 1000).map((id) => [id, ds.ordinalOf(BigInt(id))]));
    const live = ds.liveCount;
    const rows = ds.rowCount;
    let merges = 0;
    while (compactOnce(ds, { targetRows: 400, fanIn: 4 })) merges++;
    assert.ok(merges > 0);
    assert.ok(ds.batches.length <= 4, `batches after compaction: ${ds.batches.map((b) => b.batch.numRows)}`);
    assert.equal(ds.liveCount, live);
    assert.equal(ds.rowCount, rows);
    assert.equal(ds.tombstoneCount, 13);
    for (const [id, ordinal] of before) {
      assert.equal(ds.ordinalOf(BigInt(id)), ordinal);
      if (ordinal === undefined) continue;
      assert.ok(ds.isLive(ordinal));
      assert.equal(ds.cell(ordinal, 'name'), row(id).name);
      assert.deepEqual([...(ds.cell(ordinal, 'vector') as Iterable<number>)], row(id).vector);
    }
    for (const dead of [0, 9, 25, 26]) assert.equal(ds.isLive(dead), false, `ordinal ${dead}`);
    // created_at (added by the server per batch) survives the merge.
    assert.equal(Number(ds.cell(before.get(30)!, 'created_at')), 1001);
    // A delete after compaction tombstones the row in the merged batch.
    const lastDelete = ++lsn;
    ds.deleteIds([500n], lastDelete, () => v(lastDelete).version);
    assert.equal(ds.isLive(before.get(500)!), false);
    assert.equal(ds.liveCount, live - 1);
    const sum = ds.batches.reduce((n, b) => n + b.deletedCount, 0);
    assert.equal(sum, ds.tombstoneCount);
  });
});
