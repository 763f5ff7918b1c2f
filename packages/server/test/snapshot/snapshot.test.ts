/**
 * Snapshots end to end in one process: force_snapshot writes Parquet with live rows only,
 * the WAL is truncated behind it, a restart loads the snapshot and replays only what it
 * does not cover, deletes and drops survive, a corrupt snapshot stops start-up, and
 * query_analytics runs DuckDB over the file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import {
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import pino from 'pino';
import type { NodeConfig } from '../../src/config.ts';
import { LongbowNode } from '../../src/node.ts';
import { SnapshotCorruptError } from '../../src/snapshot/format.ts';
import { decodeParquet } from '../../src/snapshot/parquet.ts';
import { Compactor } from '../../src/store/compaction.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';

const DIM = 8;
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const SCHEMA = new Schema(
  [
    new Field('id', new Int64(), false),
    new Field('vector', VECTOR, false),
    new Field('text', new Utf8(), true),
    new Field('price', new Float64(), true),
  ],
  new Map([['longbow.metric', 'cosine']]),
);

/** A row's values depend on its id and a version, so any row can be rebuilt for checks. */
function vectorOf(id: number, version = 0): number[] {
  return Array.from({ length: DIM }, (_, j) => Math.fround(Math.sin(id * 7 + j + version * 101)));
}

function batch(ids: number[], version = 0): RecordBatch {
  const values = Float32Array.from(ids.flatMap((id) => vectorOf(id, version)));
  const children = [
    makeData({ type: new Int64(), length: ids.length, data: BigInt64Array.from(ids, BigInt) }),
    makeData({
      type: VECTOR,
      length: ids.length,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: values.length, data: values }),
    }),
    vectorFromArray(
      ids.map((id) => (id % 5 === 0 ? null : `row ${id} v${version}`)),
      new Utf8(),
    ).data[0]!,
    vectorFromArray(
      ids.map((id) => id * 0.5 + version),
      new Float64(),
    ).data[0]!,
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: ids.length, nullCount: 0, children }),
  );
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

let root: string;
let node: LongbowNode | undefined;
let client: FlightClient;

function config(extra: Partial<NodeConfig> = {}): NodeConfig {
  return testNodeConfig(root, { walSegmentBytes: 1024 * 1024, nodeId: 'snapshot-test', ...extra });
}

async function start(extra: Partial<NodeConfig> = {}): Promise<void> {
  node = await LongbowNode.start(config(extra), pino({ level: 'silent' }));
  client = new FlightClient(node.dataAddress());
}

async function stop(): Promise<void> {
  client.close();
  await node?.stop();
  node = undefined;
}

/** Stops without the shutdown snapshot: what start-up sees after a crash (WAL fsynced). */
async function stopWithoutSnapshot(): Promise<void> {
  client.close();
  const n = node!;
  await n.ctx.snapshots!.close();
  n.ctx.snapshots!.finalSnapshot = async () => {};
  await n.stop();
  node = undefined;
}

async function put(dataset: string, b: RecordBatch): Promise<void> {
  await client.doPut(pathDescriptor(dataset), SCHEMA, [b]);
}

interface SnapshotStats {
  snapshot: { lsn: number; written_at: string | null; age_seconds: number | null; location: string } | null;
}

/** get_stats' entry for one dataset. */
async function snapshotStats(dataset: string): Promise<SnapshotStats> {
  const r = await client.doActionJson<{ datasets: Record<string, SnapshotStats> }>('get_stats', { dataset });
  return r.datasets[dataset]!;
}

async function scanIds(dataset: string): Promise<number[]> {
  const t = await client.doGetTable(JSON.stringify({ dataset, columns: ['id'] }));
  return [...t.getChild('id')!].map(Number).sort((a, b) => a - b);
}

interface SnapshotReply {
  status: string;
  lsn: number;
  datasets: { dataset: string; status: string; rows?: number; lsn: number }[];
  dropped: string[];
  wal_segments_removed: number;
}

async function walSegments(): Promise<string[]> {
  return (await fs.readdir(path.join(root, 'wal'))).filter((n) => n.endsWith('.log')).sort();
}

/**
 * `items` as every test that reads it expects: ids 0..299 written, 0..9 upserted to
 * version 1, 10..19 deleted — 290 live rows.
 */
async function seedItems(): Promise<void> {
  await put('items', batch(range(0, 300)));
  await put('items', batch(range(0, 10), 1)); // upserts: new values for ids 0..9
  await client.doActionJson('delete', { dataset: 'items', ids: range(10, 20) });
}

/** force_snapshot of every changed dataset (or of `body.dataset`). */
async function forceSnapshot(body: Record<string, unknown> = {}): Promise<SnapshotReply> {
  return client.doActionJson<SnapshotReply>('force_snapshot', body);
}

// Every test gets its own data directory and node, so each runs alone as well as in order
// (scripts/test-each.ts); the state a test needs it writes itself.
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-snapshot-'));
  await start();
});

afterEach(async () => {
  if (node) await stop();
  await fs.rm(root, { recursive: true, force: true });
});

describe('snapshots', () => {
  it('force_snapshot writes live rows only, with the values and LSN in the file', async () => {
    await seedItems();
    assert.equal((await snapshotStats('items')).snapshot, null, 'no snapshot yet');
    const startedMs = Date.now();
    const r = await client.doActionJson<SnapshotReply>('force_snapshot', {});
    const stats = (await snapshotStats('items')).snapshot!;
    assert.equal(stats.lsn, r.lsn);
    assert.equal(stats.location, path.join(root, 'snapshots', 'items.parquet'));
    const writtenMs = Date.parse(stats.written_at!);
    assert.ok(writtenMs >= startedMs - 1000 && writtenMs <= Date.now(), stats.written_at!);
    assert.ok(stats.age_seconds! >= 0 && stats.age_seconds! < 60, `age ${stats.age_seconds}`);
    assert.equal(r.status, 'ok');
    assert.deepEqual(
      r.datasets.map((d) => [d.dataset, d.status, d.rows]),
      [['items', 'ok', 290]],
    );
    const file = await fs.readFile(path.join(root, 'snapshots', 'items.parquet'));
    const { batches, keyValues, schema } = decodeParquet(file);
    assert.deepEqual(
      schema.fields.map((f) => `${f.name}: ${f.type}`),
      [
        'id: Int64',
        'vector: FixedSizeList[8]<Float32>',
        'metadata: Utf8',
        'created_at: Timestamp<MILLISECOND, UTC>',
        'text: Utf8',
        'price: Float64',
        'longbow_version_hlc: Uint64',
        'longbow_version_node: Uint32',
      ],
    );
    // Every row carries the version it was committed with (HLC of this node, its tag).
    for (const b of batches) {
      for (const hlc of b.getChild('longbow_version_hlc')!) assert.ok((hlc as bigint) > 0n);
      for (const tag of b.getChild('longbow_version_node')!) assert.notEqual(tag, 0);
    }
    assert.equal(keyValues.get('longbow.lsn'), String(r.lsn));
    assert.equal(keyValues.get('longbow.written_at'), stats.written_at);
    const rows = new Map<number, { vector: number[]; text: string | null; price: number; meta: unknown }>();
    for (const b of batches) {
      for (let i = 0; i < b.numRows; i++) {
        rows.set(Number(b.getChild('id')!.get(i)), {
          vector: [...b.getChild('vector')!.get(i)!],
          text: b.getChild('text')!.get(i),
          price: b.getChild('price')!.get(i),
          meta: b.getChild('metadata')!.get(i),
        });
      }
    }
    assert.equal(rows.size, 290);
    for (const id of range(10, 20)) assert.ok(!rows.has(id), `deleted id ${id} is in the snapshot`);
    assert.deepEqual(rows.get(3), { vector: vectorOf(3, 1), text: 'row 3 v1', price: 2.5, meta: null });
    assert.deepEqual(rows.get(123), { vector: vectorOf(123), text: 'row 123 v0', price: 61.5, meta: null });
    assert.equal(rows.get(125)!.text, null);
  });

  it('a restart loads the snapshot and replays only the WAL after it', async () => {
    await seedItems();
    await forceSnapshot();
    const snapshotBefore = (await snapshotStats('items')).snapshot;
    await put('items', batch(range(300, 320))); // after the snapshot: only in the WAL
    await client.doActionJson('delete', { dataset: 'items', ids: [300, 21] });
    const before = await client.doGetTable(JSON.stringify({ dataset: 'items' }));
    await stopWithoutSnapshot();
    await start();
    const snapshotAfter = (await snapshotStats('items')).snapshot;
    assert.deepEqual(
      [snapshotAfter?.lsn, snapshotAfter?.written_at],
      [snapshotBefore?.lsn, snapshotBefore?.written_at],
      'get_stats reports the loaded snapshot, with the time it was written',
    );
    const ids = await scanIds('items');
    const expected = [...range(0, 10), ...range(20, 320)].filter((id) => id !== 300 && id !== 21);
    assert.deepEqual(ids, expected);
    const afterTable = await client.doGetTable(JSON.stringify({ dataset: 'items' }));
    assert.equal(afterTable.numRows, before.numRows);
    const res = await client.doGetTable(
      JSON.stringify({ search: { dataset: 'items', vector: vectorOf(3, 1), k: 1 } }),
    );
    assert.equal(Number(res.getChild('id')!.get(0)), 3, 'the restored index finds the upserted row');
    // Writes keep working and keep their schema (created_at still added by the server).
    await put('items', batch([1000]));
    assert.ok((await scanIds('items')).includes(1000));
  });

  it('truncates WAL segments a snapshot covers', async () => {
    for (let i = 0; i < 10; i++) await put('bulk', batch(range(i * 5000, (i + 1) * 5000)));
    const segmentsBefore = await walSegments();
    assert.ok(segmentsBefore.length >= 3, `expected several 1 MiB segments, got ${segmentsBefore.length}`);
    const r = await client.doActionJson<SnapshotReply>('force_snapshot', {});
    assert.ok(r.wal_segments_removed >= segmentsBefore.length - 1, JSON.stringify(r));
    const segmentsAfter = await walSegments();
    assert.equal(segmentsAfter.length, segmentsBefore.length - r.wal_segments_removed);
    await stop();
    await start();
    assert.equal((await scanIds('bulk')).length, 50_000);
  });

  it('skips unchanged datasets and snapshots one dataset on request', async () => {
    await put('items', batch(range(0, 10)));
    await put('bulk', batch(range(0, 10)));
    await forceSnapshot();
    const all = await client.doActionJson<SnapshotReply>('force_snapshot', {});
    assert.deepEqual(
      all.datasets.map((d) => d.status),
      ['unchanged', 'unchanged'],
    );
    await put('bulk', batch([5]));
    const one = await client.doActionJson<SnapshotReply>('force_snapshot', { dataset: 'bulk' });
    assert.deepEqual(
      one.datasets.map((d) => [d.dataset, d.status]),
      [['bulk', 'ok']],
    );
    await assert.rejects(client.doActionJson('force_snapshot', { dataset: 'nope' }), /DATASET_NOT_FOUND/);
  });

  it('a dropped dataset stays dropped: its snapshot is deleted and it does not come back', async () => {
    await put('items', batch(range(0, 10)));
    await put('bulk', batch(range(0, 10)));
    await forceSnapshot();
    await fs.access(path.join(root, 'snapshots', 'bulk.parquet'));
    await client.doActionJson('drop_dataset', { dataset: 'bulk' });
    const r = await client.doActionJson<SnapshotReply>('force_snapshot', {});
    assert.deepEqual(r.dropped, ['bulk']);
    await assert.rejects(fs.access(path.join(root, 'snapshots', 'bulk.parquet')));
    await stop();
    await start();
    const names = (await client.listFlights()).map((i) => i.flightDescriptor?.path?.[0]);
    assert.deepEqual(names, ['items']);
  });

  it('a drop after the snapshot is replayed: the old snapshot is not resurrected', async () => {
    await put('ghost', batch(range(0, 50)));
    await client.doActionJson('force_snapshot', { dataset: 'ghost' });
    await client.doActionJson('drop_dataset', { dataset: 'ghost' });
    await put('ghost', batch(range(100, 105))); // a new dataset of the same name
    await fs.access(path.join(root, 'snapshots', 'ghost.parquet'));
    await stopWithoutSnapshot(); // start-up has to sort it out from the WAL
    await start();
    assert.deepEqual(await scanIds('ghost'), range(100, 105));
  });

  it('compaction merges small batches while the node serves; search, scan, deletes and snapshots agree', async () => {
    for (let k = 0; k < 40; k++) await put('small', batch(range(k * 25, (k + 1) * 25)));
    await client.doActionJson('delete', { dataset: 'small', ids: [3, 404] });
    const ds = node!.ctx.store.get('small')!;
    assert.equal(ds.batches.length, 40);
    const compactor = new Compactor(node!.ctx.store, { targetRows: 10_000, fanIn: 10 });
    const [merges] = await Promise.all([compactor.runOnce(), scanIds('small')]);
    assert.ok(merges >= 1);
    assert.ok(ds.batches.length <= 2, `batches: ${ds.batches.map((b) => b.batch.numRows)}`);
    const expected = range(0, 1000).filter((id) => id !== 3 && id !== 404);
    assert.deepEqual(await scanIds('small'), expected);
    const res = await client.doGetTable(
      JSON.stringify({ search: { dataset: 'small', vector: vectorOf(777), k: 1 } }),
    );
    assert.equal(Number(res.getChild('id')!.get(0)), 777);
    await client.doActionJson('delete', { dataset: 'small', ids: [777] });
    assert.ok(!(await scanIds('small')).includes(777));
    await client.doActionJson('force_snapshot', { dataset: 'small' });
    await stopWithoutSnapshot();
    await start();
    assert.deepEqual(
      await scanIds('small'),
      expected.filter((id) => id !== 777),
    );
  });

  it('a corrupt snapshot stops start-up with the file named', async () => {
    await seedItems();
    await forceSnapshot();
    await stop();
    const file = path.join(root, 'snapshots', 'items.parquet');
    const original = await fs.readFile(file);
    const bad = Buffer.from(original);
    bad[Math.floor(bad.length / 2)]! ^= 0x40;
    await fs.writeFile(file, bad);
    await assert.rejects(start(), (err: Error) => {
      assert.ok(err instanceof SnapshotCorruptError, `${err.name}: ${err.message}`);
      assert.equal(err.file, file);
      return true;
    });
    await fs.writeFile(file, original);
    await start();
    assert.equal((await scanIds('items')).length, 290);
  });
});

describe('snapshot triggers', () => {
  it('a WAL over LONGBOW_MAX_WAL_SIZE triggers a snapshot and truncation by itself', async () => {
    await stop();
    await start({ maxWalBytes: 1_500_000 });
    for (let k = 0; k < 8; k++) await put('walsize', batch(range(k * 5000, (k + 1) * 5000)));
    const file = path.join(root, 'snapshots', 'walsize.parquet');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && node!.ctx.wal.sizeBytes() > 1_500_000)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(node!.ctx.wal.sizeBytes() <= 1_500_000, `WAL still ${node!.ctx.wal.sizeBytes()} bytes`);
    await fs.access(file);
    await stopWithoutSnapshot();
    await start();
    assert.equal((await scanIds('walsize')).length, 40_000);
  });
});

describe('query_analytics', () => {
  it('runs SQL over the snapshot and returns JSON rows', async () => {
    await seedItems();
    await forceSnapshot();
    const r = await client.doActionJson<{ rows: Record<string, unknown>[]; columns: { name: string }[] }>(
      'query_analytics',
      {
        dataset: 'items',
        query:
          'SELECT count(*) AS n, min(id) AS lo, max(id) AS hi, sum(price) AS total FROM items WHERE id < 100',
      },
    );
    const ids = [...range(0, 10), ...range(20, 100)];
    const total = ids.reduce((s, id) => s + id * 0.5 + (id < 10 ? 1 : 0), 0);
    assert.deepEqual(r.rows, [{ n: ids.length, lo: 0, hi: 99, total }]);
    const v = await client.doActionJson<{ rows: { id: number; vector: number[]; text: string }[] }>(
      'query_analytics',
      { dataset: 'items', query: 'SELECT id, vector, text FROM items WHERE id = 42' },
    );
    assert.deepEqual(v.rows, [{ id: 42, vector: vectorOf(42), text: 'row 42 v0' }]);
  });

  it('is read-only and reports DuckDB errors as INVALID_ARGUMENT', async () => {
    await seedItems();
    await forceSnapshot();
    const q = (query: string) => client.doActionJson('query_analytics', { dataset: 'items', query });
    await assert.rejects(q('CREATE TABLE x AS SELECT 1'), (err: { code: number; details: string }) => {
      assert.equal(err.code, 3);
      assert.match(err.details, /^INVALID_QUERY: query_analytics is read-only/);
      return true;
    });
    await assert.rejects(q("COPY items TO '/tmp/x.csv'"), /INVALID_QUERY: .*Permission Error/);
    await assert.rejects(q('DELETE FROM items'), /INVALID_QUERY: .*delete/i); // refused by DuckDB's binder
    await assert.rejects(q('SELECT 1; SELECT 2'), /exactly one statement/);
    await assert.rejects(
      q("SELECT * FROM read_csv('/etc/passwd')"),
      /INVALID_QUERY: .*(Permission|disabled)/,
    );
    await assert.rejects(q('SELECT nope FROM items'), (err: { code: number; details: string }) => {
      assert.equal(err.code, 3);
      assert.match(err.details, /INVALID_QUERY: .*Binder Error.*nope/s);
      return true;
    });
    await assert.rejects(q('SELEC 1'), /INVALID_QUERY: .*syntax error/);
  });

  it('answers NO_SNAPSHOT for a dataset without one, DATASET_NOT_FOUND for none at all', async () => {
    await put('fresh', batch([1, 2, 3]));
    await assert.rejects(
      client.doActionJson('query_analytics', { dataset: 'fresh', query: 'SELECT 1' }),
      (err: { code: number; details: string }) => {
        assert.equal(err.code, 9); // FAILED_PRECONDITION
        assert.match(err.details, /^NO_SNAPSHOT/);
        return true;
      },
    );
    await assert.rejects(
      client.doActionJson('query_analytics', { dataset: 'none', query: 'SELECT 1' }),
      /DATASET_NOT_FOUND/,
    );
  });
});
