/**
 * The partition proxy between two in-process nodes with gossip on loopback: routing by the
 * `x-longbow-key` header, actions routed by their dataset, GetSchema on the meta port,
 * ListFlights staying local, and the hop bound. (Whole-process behaviour, pyarrow and
 * failures are in e2e/cluster.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { RingManager, resolveGossipConfig } from '@longbow/cluster';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import { freePorts } from '@longbow/testkit';
import { Field, FixedSizeList, Float32, Int64, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import pino from 'pino';
import { LongbowNode } from '../../src/node.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';

const VECTOR = new FixedSizeList(2, new Field('item', new Float32(), false));
const SCHEMA = new Schema([new Field('id', new Int64(), false), new Field('vector', VECTOR, false)]);
const IDS = ['p1', 'p2'];

function rows(n: number): RecordBatch {
  const children = [
    makeData({ type: new Int64(), length: n, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) }),
    makeData({
      type: VECTOR,
      length: n,
      nullCount: 0,
      child: makeData({
        type: new Float32(),
        length: n * 2,
        data: Float32Array.from({ length: n * 2 }, (_, k) => k),
      }),
    }),
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: n, nullCount: 0, children }),
  );
}

function ownedBy(id: string, prefix: string): string {
  const ring = new RingManager();
  ring.replace(IDS);
  for (let i = 0; ; i++) if (ring.owner(`${prefix}${i}`) === id) return `${prefix}${i}`;
}

describe('partition proxy between two in-process nodes', () => {
  const nodes: LongbowNode[] = [];
  const dirs: string[] = [];
  before(async () => {
    const gossipPorts = await freePorts(2);
    const starts = IDS.map(async (id, i) => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), `longbow-${id}-`));
      dirs.push(dir);
      const gossip = resolveGossipConfig({
        preset: 'local',
        enabled: true,
        bindAddr: '127.0.0.1',
        port: gossipPorts[i],
        staticPeers: [`127.0.0.1:${gossipPorts[1 - i]}`],
      });
      const config = testNodeConfig(dir, { nodeId: id, dataPath: dir, snapshotIntervalMs: 300_000, gossip });
      return LongbowNode.start(config, pino({ level: 'silent' }));
    });
    nodes.push(...(await Promise.all(starts)));
    const deadline = Date.now() + 10_000;
    while (nodes.some((n) => n.ctx.cluster!.ring.nodes().length < 2)) {
      if (Date.now() > deadline) throw new Error('the two nodes did not find each other');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('routes by x-longbow-key when given, whatever the dataset name', async () => {
    const [p1, p2] = nodes as [LongbowNode, LongbowNode];
    const c1 = new FlightClient(p1.dataAddress());
    const name = ownedBy('p1', 'named'); // p1 would own it by name…
    const key = ownedBy('p2', 'key'); // …but the key says p2
    await c1.doPut(pathDescriptor(name), SCHEMA, [rows(5)], { headers: { 'x-longbow-key': key } });
    assert.equal(
      p2.ctx.store
        .list()
        .map((d) => d.name)
        .includes(name),
      true,
    );
    assert.equal(p1.ctx.store.list().length, 0);
    const t = await c1.doGetTable(JSON.stringify({ dataset: name }), { headers: { 'x-longbow-key': key } });
    assert.equal(t.numRows, 5);
    c1.close();
  });

  it('routes actions and GetSchema (meta port) by dataset; ListFlights stays local', async () => {
    const [p1, p2] = nodes as [LongbowNode, LongbowNode];
    const ds = ownedBy('p2', 'act');
    const c1 = new FlightClient(p1.dataAddress());
    await c1.doPut(pathDescriptor(ds), SCHEMA, [rows(3)]);
    const meta1 = new FlightClient(p1.metaAddress());
    const schema = await meta1.getSchema(pathDescriptor(ds));
    assert.deepEqual(
      schema.fields.map((f) => f.name),
      ['id', 'vector', 'created_at'],
    );
    const listed = (await meta1.listFlights()).map((f) => f.flightDescriptor?.path?.[0]);
    assert.equal(listed.includes(ds), false, 'p1 lists only its own datasets');
    const dropped = await meta1.doActionJson<{ status: string }>('drop_dataset', { dataset: ds });
    assert.equal(dropped.status, 'ok');
    assert.equal(p2.ctx.store.get(ds), undefined, 'dropped on the owner');
    meta1.close();
    c1.close();
  });

  it('a call already proxied PROXY_HOPS_MAX times fails TOO_MANY_HOPS instead of looping', async () => {
    const [p1] = nodes as [LongbowNode];
    const ds = ownedBy('p2', 'hops');
    const c1 = new FlightClient(p1.dataAddress());
    await assert.rejects(
      c1.doGetTable(JSON.stringify({ dataset: ds }), { headers: { 'x-longbow-hops': '2' } }),
      (err: grpc.ServiceError) =>
        err.code === grpc.status.UNAVAILABLE && err.details.startsWith('TOO_MANY_HOPS: '),
    );
    c1.close();
  });
});
