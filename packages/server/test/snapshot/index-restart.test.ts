/**
 * The index saved beside a snapshot: a restart loads the graphs instead of rebuilding them,
 * searches agree, rows written after the snapshot are indexed on top; with tombstones in the
 * snapshot (row ordinals change) the dropped rows are saved as dead labels and the loaded
 * graphs are mapped onto the new ordinals, through a second and third restart as well.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import { Field, FixedSizeList, Float32, Int64, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import pino from 'pino';
import { LongbowNode } from '../../src/node.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';

const DIM = 8;
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const SCHEMA = new Schema(
  [new Field('id', new Int64(), false), new Field('vector', VECTOR, false)],
  new Map([['longbow.index.shard_rows', '1000']]),
);
const vectorOf = (id: number) =>
  Array.from({ length: DIM }, (_, j) => Math.fround(Math.cos(id * 3 + j * 1.7)));

function batch(ids: number[], vectorFor: (id: number) => number[] = vectorOf): RecordBatch {
  const values = Float32Array.from(ids.flatMap(vectorFor));
  const children = [
    makeData({ type: new Int64(), length: ids.length, data: BigInt64Array.from(ids, BigInt) }),
    makeData({
      type: VECTOR,
      length: ids.length,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: values.length, data: values }),
    }),
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: ids.length, nullCount: 0, children }),
  );
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

let root: string;
let node: LongbowNode;
let client: FlightClient;
let logs: Record<string, unknown>[] = [];

async function start(): Promise<void> {
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const config = testNodeConfig(root, { indexWorkers: 2, nodeId: 'index-restart' });
  node = await LongbowNode.start(config, log);
  client = new FlightClient(node.dataAddress());
}

async function stop(): Promise<void> {
  client.close();
  await node.stop(); // idempotent: a second call waits for the same shutdown
}

async function nearest(id: number, k = 5, vector = vectorOf(id)): Promise<number[]> {
  const t = await client.doGetTable(JSON.stringify({ search: { dataset: 'saved', vector, k, ef: 200 } }));
  return [...t.getChild('id')!].map(Number);
}

async function caughtUp(): Promise<void> {
  for (;;) {
    const r = await client.doActionJson<{ datasets: Record<string, { caught_up: boolean }> }>(
      'check_readiness',
    );
    if (r.datasets.saved?.caught_up) return;
    await new Promise((res) => setTimeout(res, 20));
  }
}

/**
 * `saved` with ids 0..2499 in a snapshot (index saved beside it) and 2500..2699 only in the
 * WAL, all indexed.
 */
async function seedSaved(): Promise<void> {
  await client.doPut(pathDescriptor('saved'), SCHEMA, [batch(range(0, 1500)), batch(range(1500, 2500))]);
  await caughtUp();
  await client.doActionJson('force_snapshot', { dataset: 'saved' });
  await client.doPut(pathDescriptor('saved'), SCHEMA, [batch(range(2500, 2700))]); // only in the WAL
  await caughtUp();
}

// Each test its own data directory: each runs alone as well as in order.
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-index-restart-'));
  logs = [];
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('saved index beside the snapshot', { timeout: 60_000 }, () => {
  it('is loaded at restart when the snapshot has no tombstones, and rows after it are indexed on top', async (t) => {
    t.after(() => stop().catch(() => {}));
    await start();
    await seedSaved();
    assert.ok(logs.some((l) => l.msg === 'index saved' && l.dataset === 'saved'));
    await fs.access(path.join(root, 'snapshots', 'saved.hnsw'));
    const before = await Promise.all([3, 1200, 2400, 2650].map((id) => nearest(id)));
    await stop();
    logs = [];
    await start();
    const loaded = logs.find((l) => l.msg === 'snapshot loaded' && l.dataset === 'saved');
    assert.equal(loaded?.index, 'loaded');
    await caughtUp();
    const afterRestart = await Promise.all([3, 1200, 2400, 2650].map((id) => nearest(id)));
    assert.deepEqual(afterRestart, before);
    const stats = await client.doActionJson<{
      datasets: Record<string, { records: number; index: { shards: number; indexed: number } }>;
    }>('get_stats');
    assert.equal(stats.datasets.saved!.records, 2700);
    assert.equal(stats.datasets.saved!.index.shards, 3);
    assert.equal(stats.datasets.saved!.index.indexed, 2700);
    await stop();
  });

  it('is saved with the dropped rows as dead labels and loaded onto the new ordinals', async (t) => {
    t.after(() => stop().catch(() => {}));
    await start();
    await seedSaved();
    await stop(); // as in production: the graphs come from the saved index, not the rows
    await start();
    await caughtUp();
    const moved = (id: number) => vectorOf(id + 10_000);
    await client.doActionJson('delete', { dataset: 'saved', ids: [10, 11, 1500] });
    await client.doPut(pathDescriptor('saved'), SCHEMA, [batch(range(20, 30), moved)]); // upserts
    await caughtUp();
    logs = [];
    await client.doActionJson('force_snapshot', { dataset: 'saved' });
    const saved = logs.find((l) => l.msg === 'index saved' && l.dataset === 'saved');
    assert.equal(saved?.droppedRows, 13, 'three deletes and ten replaced rows');
    // After the snapshot, only in the WAL: new rows, a delete and an upsert.
    await client.doPut(pathDescriptor('saved'), SCHEMA, [batch(range(3000, 3100))]);
    await client.doActionJson('delete', { dataset: 'saved', ids: [2600] });
    await client.doPut(pathDescriptor('saved'), SCHEMA, [batch([1200], moved)]);
    await caughtUp();
    const probes: [number, number[]][] = [
      [10, vectorOf(10)],
      [20, moved(20)],
      [25, vectorOf(25)],
      [1200, moved(1200)],
      [1501, vectorOf(1501)],
      [2600, vectorOf(2600)],
      [2650, vectorOf(2650)],
      [3050, vectorOf(3050)],
    ];
    const search = () => Promise.all(probes.map(([id, v]) => nearest(id, 5, v)));
    const before = await search();
    assert.equal(before[1]![0], 20, 'the upserted row is found by its new vector');
    assert.equal(before[4]![0], 1501);
    for (const hits of before) assert.ok(![10, 11, 1500, 2600].some((id) => hits.includes(id)));
    const records = 2700 - 3 + 100 - 1;
    const restartAndCompare = async (what: string) => {
      logs = [];
      await start();
      const loaded = logs.find((l) => l.msg === 'snapshot loaded' && l.dataset === 'saved');
      assert.equal(loaded?.index, 'loaded', `${what}: the saved graphs are used`);
      await caughtUp();
      assert.deepEqual(await search(), before, `${what}: the same answers`);
      const stats = await client.doActionJson<{
        datasets: Record<string, { records: number; rows: number; index: { indexed: number } }>;
      }>('get_stats', { dataset: 'saved' });
      const ds = stats.datasets.saved!;
      assert.equal(ds.records, records);
      // Stored rows: live ones plus those tombstoned since the snapshot; all indexed, once.
      assert.equal(ds.index.indexed, ds.rows, `${what}: every row indexed, none counted twice`);
    };
    // Restart from the forced snapshot plus the WAL after it (no shutdown snapshot).
    node.ctx.snapshots!.finalSnapshot = async () => {};
    await stop();
    await restartAndCompare('after replaying the WAL over the loaded graphs');
    // Stop normally: the shutdown snapshot saves the loaded (and grown) graphs again, with
    // the rows dropped since added to the dead labels.
    await stop();
    await restartAndCompare('after a snapshot of a loaded index');
    await stop();
  });
});
