/**
 * The snapshot format, pure: column order and the added `metadata` column, live rows only,
 * the definition rebuilt from key-value metadata (a user `created_at` and `metadata` kept
 * as theirs), and headers that are missing or inconsistent rejected with the file named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZERO_VERSION } from '@longbow/cluster';
import {
  Field,
  FixedSizeList,
  Float32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Timestamp,
  TimeUnit,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import {
  fromSnapshotBatch,
  readSnapshotHeader,
  SnapshotCorruptError,
  type SnapshotInfo,
  snapshotKeyValues,
  snapshotRowVersions,
  snapshotSchema,
  toSnapshotBatch,
} from '../../src/snapshot/format.ts';
import { type RowVersions, rowVersionsOf } from '../../src/store/dataset.ts';
import { defineDataset } from '../../src/store/schema.ts';

const UNIFORM: RowVersions = { kind: 'uniform', version: { hlc: 1n, node: 1 } };

const VECTOR = new FixedSizeList(2, new Field('item', new Float32(), false));
const TS = new Timestamp(TimeUnit.MILLISECOND, 'UTC');

function stored(schema: Schema, ids: number[]): RecordBatch {
  const n = ids.length;
  const children = schema.fields.map((f) => {
    if (f.name === 'id')
      return makeData({ type: new Int64(), length: n, data: BigInt64Array.from(ids, BigInt) });
    if (f.name === 'vector')
      return makeData({
        type: VECTOR,
        length: n,
        nullCount: 0,
        child: makeData({
          type: new Float32(),
          length: 2 * n,
          data: Float32Array.from(ids.flatMap((i) => [i, -i])),
        }),
      });
    if (f.name === 'created_at')
      return vectorFromArray(
        ids.map((i) => 1000 + i),
        TS,
      ).data[0]!;
    return vectorFromArray(
      ids.map((i) => `${f.name}-${i}`),
      new Utf8(),
    ).data[0]!;
  });
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }),
  );
}

describe('snapshot format', () => {
  const user = new Schema(
    [
      new Field('id', new Int64(), false),
      new Field('vector', VECTOR, false),
      new Field('title', new Utf8(), true),
    ],
    new Map([['longbow.metric', 'dot']]),
  );
  const def = defineDataset('docs', user);

  it('orders id, vector, metadata, created_at, then user columns; adds metadata when absent', () => {
    const { schema, added } = snapshotSchema(def);
    assert.deepEqual(
      schema.fields.map((f) => f.name),
      ['id', 'vector', 'metadata', 'created_at', 'title', 'longbow_version_hlc', 'longbow_version_node'],
    );
    assert.deepEqual(added, ['metadata', 'longbow_version_hlc', 'longbow_version_node']);
    const versions = rowVersionsOf(4, (i) => ({ hlc: 100n + BigInt(i), node: 7 }));
    const b = toSnapshotBatch(
      def,
      schema,
      stored(def.schema, [1, 2, 3, 4]),
      Uint8Array.of(0, 1, 0, 1),
      versions,
    )!;
    assert.deepEqual([...b.getChild('id')!].map(Number), [1, 3]);
    assert.deepEqual([...b.getChild('title')!], ['title-1', 'title-3']);
    assert.deepEqual([...b.getChild('metadata')!], [null, null]);
    // The live rows keep their own versions.
    assert.deepEqual([...b.getChild('longbow_version_hlc')!], [100n, 102n]);
    const info = { version: 2 } as SnapshotInfo;
    assert.deepEqual(
      snapshotRowVersions('f', info, b),
      rowVersionsOf(2, (i) => ({ hlc: [100n, 102n][i]!, node: 7 })),
    );
    assert.deepEqual(snapshotRowVersions('f', { version: 1 } as SnapshotInfo, b), {
      kind: 'uniform',
      version: ZERO_VERSION,
    });
    assert.equal(toSnapshotBatch(def, schema, stored(def.schema, [1]), Uint8Array.of(1), UNIFORM), undefined);
    const back = fromSnapshotBatch('f', def, b);
    assert.deepEqual(
      back.schema.fields.map((f) => f.name),
      ['id', 'vector', 'title', 'created_at'],
    );
    assert.deepEqual([...back.getChild('created_at')!].map(Number), [1001, 1003]);
  });

  it('rebuilds the same definition from its metadata, user metadata and created_at columns included', () => {
    const own = defineDataset(
      'own',
      new Schema([
        new Field('id', new Int64(), false),
        new Field('vector', VECTOR, false),
        new Field('metadata', new Utf8(), true),
        new Field('created_at', TS, false),
      ]),
    );
    assert.deepEqual(snapshotSchema(own).added, ['longbow_version_hlc', 'longbow_version_node']);
    for (const d of [def, own]) {
      const h = readSnapshotHeader('f', snapshotKeyValues(d, 42n, 7, new Date('2026-11-21T06:00:00.250Z')));
      assert.equal(h.lsn, 42n);
      assert.equal(h.info.rows, 7);
      assert.equal(h.writtenAtMs, Date.parse('2026-11-21T06:00:00.250Z'));
      assert.deepEqual(
        h.def.userFields.map((f) => `${f.name}: ${f.type}`),
        d.userFields.map((f) => `${f.name}: ${f.type}`),
      );
      assert.equal(h.def.schema.toString(), d.schema.toString());
      assert.equal(h.def.metric, d.metric);
    }
  });

  it('rejects missing or inconsistent metadata, naming the file', () => {
    const kv = snapshotKeyValues(def, 5n, 1, new Date());
    const broken = (change: (m: Map<string, string>) => void) => {
      const m = new Map(kv);
      change(m);
      return () => readSnapshotHeader('/snap/docs.parquet', m);
    };
    const named = (re: RegExp) => (e: SnapshotCorruptError) =>
      e instanceof SnapshotCorruptError && e.file === '/snap/docs.parquet' && re.test(e.message);
    assert.throws(
      broken((m) => m.delete('longbow.lsn')),
      named(/missing/),
    );
    assert.throws(
      broken((m) => m.set('longbow.lsn', '-1')),
      named(/not an LSN/),
    );
    assert.throws(
      broken((m) => m.set('longbow.dataset', '{')),
      named(/unreadable metadata/),
    );
    assert.throws(
      broken((m) =>
        m.set('longbow.dataset', kv.get('longbow.dataset')!.replace('"version":2', '"version":9')),
      ),
      named(/format version 9/),
    );
    assert.throws(
      broken((m) => m.set('longbow.dataset', kv.get('longbow.dataset')!.replace('"dim":2', '"dim":3'))),
      named(/disagrees/),
    );
    assert.throws(
      broken((m) => m.set('longbow.written_at', 'yesterday')),
      named(/longbow.written_at="yesterday" is not a timestamp/),
    );
    // Files from before longbow.written_at existed still load; their time is unknown.
    const old = new Map(kv);
    old.delete('longbow.written_at');
    assert.equal(readSnapshotHeader('/snap/docs.parquet', old).writtenAtMs, undefined);
  });

  it('keeps deleted-id tombstones in the metadata (format 2) and still reads format 1', () => {
    const kv = snapshotKeyValues(def, 9n, 0, new Date(0), [
      [5, { hlc: 2n ** 60n, node: 4_000_000_000 }],
      [-3n, { hlc: 1n, node: 0 }],
    ]);
    const h = readSnapshotHeader('f', kv);
    assert.deepEqual(h.deletedIds, [
      [5n, { hlc: 2n ** 60n, node: 4_000_000_000 }],
      [-3n, { hlc: 1n, node: 0 }],
    ]);
    assert.equal(h.info.version, 2);
    const v1 = new Map(kv);
    v1.delete('longbow.deleted_ids');
    v1.set('longbow.dataset', kv.get('longbow.dataset')!.replace('"version":2', '"version":1'));
    assert.deepEqual(readSnapshotHeader('f', v1).deletedIds, []);
    const v9 = new Map(kv);
    v9.set('longbow.dataset', kv.get('longbow.dataset')!.replace('"version":2', '"version":9'));
    assert.throws(
      () => readSnapshotHeader('/s/docs.parquet', v9),
      /unknown snapshot format version 9 \(this build reads 1, 2\)/,
    );
    const torn = new Map(kv);
    torn.set('longbow.deleted_ids', '[[5,1,2]]');
    assert.throws(() => readSnapshotHeader('/s/docs.parquet', torn), /longbow.deleted_ids is unreadable/);
    // A format-2 batch without its version columns is corrupt.
    const { schema } = snapshotSchema(def);
    const b = toSnapshotBatch(def, schema, stored(def.schema, [1]), undefined, UNIFORM)!;
    const stripped = new RecordBatch(
      new Schema(schema.fields.slice(0, 5)),
      makeData({
        type: new Struct(schema.fields.slice(0, 5)),
        length: 1,
        nullCount: 0,
        children: b.data.children.slice(0, 5) as never,
      }),
    );
    assert.throws(
      () => snapshotRowVersions('/s/docs.parquet', { version: 2 } as SnapshotInfo, stripped),
      /without uint64 longbow_version_hlc/,
    );
  });

  it('refuses a dataset column named like a version column', () => {
    assert.throws(
      () =>
        defineDataset(
          'x',
          new Schema([
            new Field('id', new Int64(), false),
            new Field('vector', VECTOR, false),
            new Field('longbow_version_hlc', new Int64(), true),
          ]),
        ),
      /column name "longbow_version_hlc" is reserved/,
    );
  });

  it('rejects a batch whose column type changed', () => {
    const { schema } = snapshotSchema(def);
    const b = toSnapshotBatch(def, schema, stored(def.schema, [1]), undefined, UNIFORM)!;
    const wrong = new Schema(
      schema.fields.map((f) => (f.name === 'title' ? new Field('title', new Int64(), true) : f)),
    );
    const bad = new RecordBatch(
      wrong,
      makeData({
        type: new Struct(wrong.fields),
        length: 1,
        nullCount: 0,
        children: b.data.children as never,
      }),
    );
    assert.throws(() => fromSnapshotBatch('f', def, bad), /column "title" has type Int64, expected Utf8/);
  });
});
