/**
 * The index saved beside a snapshot: a restart loads the graphs instead of rebuilding them,
 * searches agree, rows written after the snapshot are indexed on top; with tombstones in the
 * snapshot (row ordinals change) the index file is not written and the graphs are rebuilt.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
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

function batch(ids: number[]): RecordBatch {
  const values = Float32Array.from(ids.flatMap(vectorOf));
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

async function nearest(id: number, k = 5): Promise<number[]> {
  const t = await client.doGetTable(
    JSON.stringify({ search: { dataset: 'saved', vector: vectorOf(id), k, ef: 200 } }),
  );
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

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-index-restart-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('saved index beside the snapshot', { timeout: 60_000 }, () => {
  it('is loaded at restart when the snapshot has no tombstones, and rows after it are indexed on top', async (t) => {
    t.after(() => stop().catch(() => {}));
    await start();
    await client.doPut(pathDescriptor('saved'), SCHEMA, [batch(range(0, 1500)), batch(range(1500, 2500))]);
    await caughtUp();
    await client.doActionJson('force_snapshot', { dataset: 'saved' });
    assert.ok(logs.some((l) => l.msg === 'index saved' && l.dataset === 'saved'));
    await fs.access(path.join(root, 'snapshots', 'saved.hnsw'));
    await client.doPut(pathDescriptor('saved'), SCHEMA, [batch(range(2500, 2700))]); // only in the WAL
    await caughtUp();
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

  it('is not used when the snapshot dropped tombstoned rows: the graphs are rebuilt', async (t) => {
    t.after(() => stop().catch(() => {}));
    await start();
    await client.doActionJson('delete', { dataset: 'saved', ids: [10, 11] });
    await client.doActionJson('force_snapshot', { dataset: 'saved' });
    await assert.rejects(fs.access(path.join(root, 'snapshots', 'saved.hnsw')));
    await stop();
    logs = [];
    await start();
    assert.equal(logs.find((l) => l.msg === 'snapshot loaded' && l.dataset === 'saved')?.index, 'rebuilt');
    await caughtUp();
    const hits = await nearest(10, 3);
    assert.ok(!hits.includes(10) && !hits.includes(11));
    assert.equal((await nearest(1200, 1))[0], 1200);
    await stop();
  });
});
