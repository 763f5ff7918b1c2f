/**
 * The partition proxy between two in-process nodes with gossip on loopback: routing by the
 * `x-longbow-key` header, actions routed by their dataset, GetSchema on the meta port,
 * ListFlights fanned out to every member (or local with `x-longbow-scope: local`), and the
 * hop bound. (Whole-process behaviour, pyarrow and
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

  it('routes actions and GetSchema (meta port) by dataset', async () => {
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
    const dropped = await meta1.doActionJson<{ status: string }>('drop_dataset', { dataset: ds });
    assert.equal(dropped.status, 'ok');
    assert.equal(p2.ctx.store.get(ds), undefined, 'dropped on the owner');
    meta1.close();
    c1.close();
  });

  it("ListFlights lists every member's datasets from its owner; x-longbow-scope: local lists one node's", async () => {
    const [p1, p2] = nodes as [LongbowNode, LongbowNode];
    const c1 = new FlightClient(p1.dataAddress());
    const onP1 = ownedBy('p1', 'list');
    const onP2 = ownedBy('p2', 'list');
    await c1.doPut(pathDescriptor(onP1), SCHEMA, [rows(2)]);
    await c1.doPut(pathDescriptor(onP2), SCHEMA, [rows(4)]);
    // A copy on a node that does not own its name: stored on p2 through a key p2 owns.
    const stray = ownedBy('p1', 'stray');
    await c1.doPut(pathDescriptor(stray), SCHEMA, [rows(1)], {
      headers: { 'x-longbow-key': ownedBy('p2', 'key') },
    });
    for (const p of [p1, p2]) {
      const meta = new FlightClient(p.metaAddress());
      const infos = await meta.listFlights(Buffer.from('list'));
      assert.deepEqual(
        infos.map((f) => [
          f.flightDescriptor?.path?.[0],
          Number(f.totalRecords),
          f.endpoint?.[0]?.location?.[0]?.uri,
        ]),
        [
          [onP1, 2, `grpc+tcp://${p1.dataAddress()}`],
          [onP2, 4, `grpc+tcp://${p2.dataAddress()}`],
        ].sort(),
        `${p.ctx.config.nodeId}: both datasets, each with its owner's endpoint`,
      );
      const all = (await meta.listFlights()).map((f) => f.flightDescriptor?.path?.[0]);
      assert.equal(all.includes(stray), false, 'a copy off its owner is not listed cluster-wide');
      meta.close();
    }
    const local = async (p: LongbowNode) => {
      const meta = new FlightClient(p.metaAddress());
      const names = (await meta.listFlights(undefined, { headers: { 'x-longbow-scope': 'local' } })).map(
        (f) => f.flightDescriptor?.path?.[0],
      );
      meta.close();
      return names;
    };
    const [l1, l2] = [await local(p1), await local(p2)];
    assert.equal(l1.includes(onP1) && !l1.includes(onP2), true, `p1 local: ${l1}`);
    assert.equal(l2.includes(onP2) && l2.includes(stray) && !l2.includes(onP1), true, `p2 local: ${l2}`);
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
