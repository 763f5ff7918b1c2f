/**
 * An in-process node driven by the project's own Flight client (packages/flight): the
 * paths pyarrow does not exercise — our LZ4/ZSTD encoder on the way in, dictionary
 * columns, raw FlightData without a descriptor — and restart from the WAL.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FlightClient, type FlightData, IpcEncoder, pathDescriptor } from '@longbow/flight';
import {
  Dictionary,
  Field,
  FixedSizeList,
  Float32,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import pino from 'pino';
import { LongbowNode } from '../src/node.ts';
import { testNodeConfig } from './fixtures/node-config.ts';

const DIM = 6;
const TAG = new Dictionary(new Utf8(), new Int32());
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const SCHEMA = new Schema(
  [new Field('id', new Int64(), false), new Field('vector', VECTOR, false), new Field('tag', TAG, true)],
  new Map([['longbow.metric', 'dot']]),
);

function batch(first: number, rows: number): RecordBatch {
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(first + i));
  // A row's vector depends only on its id, so any row can be rebuilt for checks.
  const values = Float32Array.from({ length: rows * DIM }, (_, k) =>
    Math.cos((first + Math.floor(k / DIM)) * 13 + (k % DIM)),
  );
  const tags = vectorFromArray(
    Array.from({ length: rows }, (_, i) => ['alpha', 'beta', null][(first + i) % 3]),
    TAG,
  );
  const children = [
    makeData({ type: new Int64(), length: rows, data: ids }),
    makeData({
      type: VECTOR,
      length: rows,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: rows * DIM, data: values }),
    }),
    tags.data[0]!,
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: rows, nullCount: 0, children }),
  );
}

let dataPath: string;
let node: LongbowNode;
let client: FlightClient;

async function startNode(): Promise<void> {
  const config = testNodeConfig(dataPath, { dataPath, nodeId: 'node-test' });
  node = await LongbowNode.start(config, pino({ level: 'silent' }));
  client = new FlightClient(node.dataAddress());
}

async function stopNode(): Promise<void> {
  client.close();
  await node.stop();
}

before(async () => {
  dataPath = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-node-'));
  await startNode();
});

after(async () => {
  await stopNode();
  await fs.rm(dataPath, { recursive: true, force: true });
});

/** Writes `dict` (ids 0..199: LZ4 then ZSTD bodies) once; resolves with the parsed acks. */
async function writeDict(): Promise<{ status: string; rows: number }[]> {
  const acksLz4 = await client.doPut(pathDescriptor('dict'), SCHEMA, [batch(0, 100), batch(100, 50)], {
    compression: 'lz4',
  });
  const acksZstd = await client.doPut(pathDescriptor('dict'), SCHEMA, [batch(150, 50)], {
    compression: 'zstd',
  });
  return [...acksLz4, ...acksZstd].map((r) => JSON.parse(Buffer.from(r.appMetadata!).toString()));
}

let dictWritten: ReturnType<typeof writeDict> | undefined;
/** `dict` as the tests below read it, whichever of them runs first (or alone). */
function ensureDict(): ReturnType<typeof writeDict> {
  dictWritten ??= writeDict();
  return dictWritten;
}

describe('node with the Longbow Flight client', () => {
  it('ingests LZ4 and ZSTD bodies with dictionary columns and scans them back', async () => {
    const acks = await ensureDict();
    assert.deepEqual(
      acks.map((a) => [a.status, a.rows]),
      [
        ['ok', 100],
        ['ok', 50],
        ['ok', 50],
      ],
    );
    const table = await client.doGetTable(
      JSON.stringify({ dataset: 'dict', filters: [{ field: 'tag', op: '=', value: 'beta' }] }),
    );
    const ids = [...table.getChild('id')!].map(Number).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 3 === 1),
    );
    assert.equal(table.getChild('tag')!.get(0), 'beta');
  });

  it('answers GetFlightInfo with an endpoint whose ticket scans the dataset', async () => {
    await ensureDict();
    const info = await client.getFlightInfo(pathDescriptor('dict'));
    assert.equal(info.totalRecords, 200n);
    const endpoint = info.endpoint![0]!;
    assert.equal(endpoint.location![0]!.uri, `grpc+tcp://127.0.0.1:${node.ports.data}`);
    const table = await new FlightClient(node.metaAddress()).getSchema(pathDescriptor('dict'));
    assert.deepEqual(
      table.fields.map((f) => f.name),
      ['id', 'vector', 'tag', 'created_at'],
    );
    const scanned = await client.doGetTable(endpoint.ticket!.ticket);
    assert.equal(scanned.numRows, 200);
  });

  it('searches with the dot metric: score is the inner product', async () => {
    await ensureDict();
    const probe = batch(7, 1).getChild('vector')!.get(0)!;
    const q = [...probe];
    const res = await client.doGetTable(JSON.stringify({ search: { dataset: 'dict', vector: q, k: 3 } }));
    const scores = [...res.getChild('score')!] as number[];
    assert.ok(scores[0]! >= scores[1]! && scores[1]! >= scores[2]!);
    const top = Number(res.getChild('id')!.get(0));
    const topVec = [...batch(top, 1).getChild('vector')!.get(0)!];
    const dot = q.reduce((s, v, i) => s + v * topVec[i]!, 0);
    assert.ok(Math.abs(scores[0]! - dot) < 1e-4, `score ${scores[0]} vs dot ${dot}`);
    assert.ok(Math.abs((res.getChild('distance')!.get(0) as number) + dot) < 1e-4);
    // The search is counted by strategy in get_stats and in Prometheus.
    type Strategies = Record<string, number>;
    const stats = await client.doActionJson<{
      datasets: Record<string, { index: { shards: number; search_strategies: Strategies } }>;
    }>('get_stats', { dataset: 'dict' });
    const { shards, search_strategies: by } = stats.datasets.dict!.index;
    assert.ok(shards >= 1);
    // A shard whose graph has not absorbed the rows yet answers exactly (a race with the
    // index worker): each shard answers once, unfiltered or exact, and never filtered.
    assert.deepEqual(
      { ...by, unfiltered: 0, exact: 0 },
      { unfiltered: 0, post_filter: 0, fallback: 0, traversal_filter: 0, exact: 0 },
    );
    assert.equal(by.unfiltered! + by.exact!, shards);
    const text = await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text();
    const strategy = by.unfiltered! > 0 ? 'unfiltered' : 'exact';
    assert.match(
      text,
      new RegExp(`longbow_search_strategy_total\\{[^}]*strategy="${strategy}"[^}]*\\} ${by[strategy]}\n`),
    );
  });

  it('rejects FlightData without a descriptor, and keeps serving', async () => {
    await ensureDict();
    const enc = new IpcEncoder(SCHEMA);
    const messages: FlightData[] = [enc.schemaMessage(), ...enc.batchMessages(batch(0, 3))];
    await assert.rejects(client.doPutMessages(messages), (err: { code: number; details: string }) => {
      assert.equal(err.code, 3); // INVALID_ARGUMENT
      assert.match(err.details, /^INVALID_DESCRIPTOR: the first DoPut message has no flight descriptor/);
      return true;
    });
    const stats = await client.doActionJson<{ datasets: Record<string, { records: number }> }>('get_stats');
    assert.equal(stats.datasets.dict!.records, 200);
  });

  it('replays the WAL after a restart', async () => {
    await ensureDict();
    await stopNode();
    await startNode();
    const table = await client.doGetTable(JSON.stringify({ dataset: 'dict', columns: ['id'] }));
    assert.equal(table.numRows, 200);
    const info = await client.listFlights();
    assert.deepEqual(
      info.map((i) => i.flightDescriptor?.path?.[0]),
      ['dict'],
    );
  });
});
