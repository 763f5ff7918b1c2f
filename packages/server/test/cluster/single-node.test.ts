/**
 * A node without gossip (the default) is a cluster of one to the smart client: its
 * `cluster_status` names only itself, owning the whole ring, and the client's calls work
 * unchanged. The cluster metrics exist (at zero) so dashboards find them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Field, FixedSizeList, Float32, Int64, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import pino from 'pino';
import { LongbowClient } from '../../../client/src/index.ts';
import { LongbowNode } from '../../src/node.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';

const VECTOR = new FixedSizeList(2, new Field('item', new Float32(), false));
const SCHEMA = new Schema([new Field('id', new Int64(), false), new Field('vector', VECTOR, false)]);

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

describe('a single node (gossip disabled) and the smart client', () => {
  let node: LongbowNode;
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-single-'));
    const config = testNodeConfig(dir, { nodeId: 'solo', dataPath: dir, snapshotIntervalMs: 300_000 });
    node = await LongbowNode.start(config, pino({ level: 'silent' }));
  });
  after(async () => {
    await node.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('cluster_status names the node alone; the client puts, scans and searches through it', async () => {
    assert.equal(node.ctx.cluster, undefined, 'nothing cluster-related runs');
    const client = new LongbowClient({ seeds: [node.dataAddress()] });
    const view = await client.connect();
    assert.deepEqual(view.nodes, ['solo']);
    assert.equal(view.ownerAddr('anything'), `127.0.0.1:${node.ports.data}`);
    const acks = await client.put('solo_ds', SCHEMA, [rows(30)]);
    assert.equal(acks[0]!.status, 'ok');
    assert.equal((await client.scan('solo_ds')).numRows, 30);
    const hit = await client.search('solo_ds', { vector: [10, 11], k: 1 });
    assert.equal(Number(hit.getChild('id')!.get(0)), 5);
    assert.equal(client.stats.redirects + client.stats.retries, 0);
    client.close();
  });

  it('the gossip and proxy metrics are registered at zero', async () => {
    const text = await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text();
    assert.match(text, /^longbow_ring_nodes\{node="solo"\} 0$/m);
    assert.match(text, /^longbow_gossip_members\{state="alive",node="solo"\} 0$/m);
    for (const name of [
      'longbow_gossip_messages_total',
      'longbow_proxy_requests_total',
      'longbow_forward_duration_seconds',
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
  });
});
