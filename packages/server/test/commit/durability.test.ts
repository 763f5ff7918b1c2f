/**
 * The first promise, tested where it can break: an acknowledged write survives a power
 * cut. The node runs on a simulated disk (fixtures/sim-file-layer.ts) that forgets every
 * byte not fsynced when the power goes, fails on command, and can hold an fsync while the
 * test watches what the node does meanwhile. A SIGKILL test cannot see a missing fsync
 * (the page cache survives a process); these can.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import type { RecordBatch } from 'apache-arrow';
import pino from 'pino';
import type { NodeConfig } from '../../src/config.ts';
import { LongbowNode } from '../../src/node.ts';
import { encodeBatchRecord } from '../../src/store/records.ts';
import { WalOp } from '../../src/wal/entry.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';
import { SimFileLayer } from '../fixtures/sim-file-layer.ts';
import { vectorBatch, vectorSchema } from '../fixtures/vector-batch.ts';

const DIM = 4;
const SCHEMA = vectorSchema(DIM);
const ROOT = '/sim/node';

/** Rows `ids`, each vector derived from its id and `generation` (so upserts are visible). */
function batch(ids: number[], generation = 0): RecordBatch {
  return vectorBatch(ids, DIM, (id) => id + generation);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

interface Running {
  node: LongbowNode;
  client: FlightClient;
}

/** Every node started, so a failed test still stops its node (`after`). */
const started = new Set<Running>();

after(async () => {
  for (const r of started) {
    r.client.close();
    await r.node.stop().catch(() => {});
  }
});

async function start(disk: SimFileLayer, overrides: Partial<NodeConfig> = {}): Promise<Running> {
  const config = testNodeConfig(ROOT, { nodeId: 'durable', ...overrides });
  const node = await LongbowNode.start(config, pino({ level: 'silent' }), { files: disk });
  const r = { node, client: new FlightClient(node.dataAddress()) };
  started.add(r);
  return r;
}

/** Cuts the power under a running node, lets the process go, and boots the disk again. */
async function powerCut(disk: SimFileLayer, r: Running): Promise<void> {
  disk.powerLoss();
  started.delete(r);
  r.client.close();
  await r.node.stop().catch(() => {});
  disk.restore();
}

async function stop(r: Running): Promise<void> {
  started.delete(r);
  r.client.close();
  await r.node.stop();
}

/** id → first vector component of every row a scan returns. */
async function scan(client: FlightClient, dataset: string): Promise<Map<number, number>> {
  const t = await client.doGetTable(JSON.stringify({ dataset }));
  const out = new Map<number, number>();
  const ids = t.getChild('id')!;
  const vectors = t.getChild('vector')!;
  for (let i = 0; i < t.numRows; i++) out.set(Number(ids.get(i)), vectors.get(i)!.get(0) as number);
  return out;
}

async function metric(node: LongbowNode, line: RegExp): Promise<number> {
  const text = await node.ctx.metrics.registry.metrics();
  const found = text.split('\n').find((l) => line.test(l));
  return found ? Number(found.split(' ').at(-1)) : 0;
}

async function healthz(node: LongbowNode): Promise<{ status: number; body: { status: string } }> {
  const res = await fetch(`http://127.0.0.1:${node.ports.http}/healthz`);
  return { status: res.status, body: (await res.json()) as { status: string } };
}

/** Lets the event loop run a few turns, so anything already unblocked gets to happen. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
}

describe('durability on a simulated disk', () => {
  it('sends no PutResult before the WAL fdatasync has resolved', async () => {
    const disk = new SimFileLayer();
    const r = await start(disk);
    try {
      const gate = disk.hold('datasync', /wal-\d+\.log$/);
      let acked = false;
      const put = r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(0, 10))]).then((acks) => {
        acked = true;
        return acks;
      });
      const first = await Promise.race([gate.reached.then(() => 'fsync'), put.then(() => 'ack')]);
      assert.equal(first, 'fsync', 'the write was acknowledged without an fdatasync of the WAL');
      await turns();
      assert.equal(acked, false, 'acknowledged while the fdatasync was still running');
      gate.release();
      const acks = await put;
      assert.equal(JSON.parse(Buffer.from(acks[0]!.appMetadata!).toString()).status, 'ok');
    } finally {
      await stop(r);
    }
  });

  it('loses no acknowledged put, upsert, delete or drop to a power cut (replay, no snapshot)', async () => {
    const disk = new SimFileLayer();
    let r = await start(disk);
    await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(0, 100)), batch(range(100, 200))]);
    await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(50, 60), 1000)]); // upserts
    const del = await r.client.doActionJson<{ deleted: number }>('delete', { dataset: 'd', ids: [1, 2, 3] });
    assert.equal(del.deleted, 3);
    await r.client.doPut(pathDescriptor('gone'), SCHEMA, [batch(range(0, 5))]);
    await r.client.doActionJson('drop_dataset', { dataset: 'gone' });
    await powerCut(disk, r);

    r = await start(disk);
    try {
      const rows = await scan(r.client, 'd');
      assert.equal(rows.size, 197);
      for (const id of range(0, 200)) {
        if ([1, 2, 3].includes(id)) assert.equal(rows.has(id), false, `deleted id ${id} came back`);
        else assert.equal(rows.get(id), id >= 50 && id < 60 ? id + 1000 : id, `id ${id}`);
      }
      const names = (await r.client.listFlights()).map((f) => f.flightDescriptor?.path?.[0]);
      assert.deepEqual(names, ['d']);
    } finally {
      await stop(r);
    }
  });

  it('on a failed fdatasync stops the WAL: refuses what was queued and what comes next, reports unhealthy, keeps serving reads', async () => {
    const disk = new SimFileLayer();
    const r = await start(disk);
    try {
      await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(0, 10))]);
      assert.equal((await healthz(r.node)).status, 200);
      const errorsBefore = await metric(r.node, /^longbow_flush_ops_total\{status="error"/);
      disk.inject({ op: 'datasync', path: /wal-/, code: 'EIO' });
      await assert.rejects(
        r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(10, 20))]),
        (err: { code: number; details: string }) => {
          assert.equal(err.code, 14); // UNAVAILABLE
          assert.match(err.details, /^WAL_FAILED: .*EIO/);
          return true;
        },
      );
      // Later writes are refused too: after a failed fsync the file's state is unknown.
      await assert.rejects(
        r.client.doActionJson('delete', { dataset: 'd', ids: [1] }),
        /WAL_FAILED: WAL failed earlier/,
      );
      assert.equal(await metric(r.node, /^longbow_flush_ops_total\{status="error"/), errorsBefore + 1);
      const health = await healthz(r.node);
      assert.equal(health.status, 503);
      assert.equal(health.body.status, 'wal_failed');
      // Reads keep working, and show only what was acknowledged.
      assert.deepEqual(
        [...(await scan(r.client, 'd')).keys()].sort((a, b) => a - b),
        range(0, 10),
      );
    } finally {
      await stop(r);
    }
  });

  it('refuses a write the disk has no room for (ENOSPC) or cut short, and acknowledges nothing of it', async () => {
    for (const fault of [
      { op: 'writev', path: /wal-/, code: 'ENOSPC' } as const,
      { op: 'writev', path: /wal-/, shortWriteBytes: 17 } as const,
    ]) {
      const disk = new SimFileLayer();
      let r = await start(disk);
      await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(0, 10))]);
      disk.inject(fault);
      await assert.rejects(
        r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(10, 20))]),
        /WAL_FAILED: WAL write failed: (ENOSPC|short WAL write)/,
      );
      await powerCut(disk, r);
      // A restart repairs the torn tail the short write left, and holds exactly the ack'd rows.
      r = await start(disk);
      try {
        assert.deepEqual(
          [...(await scan(r.client, 'd')).keys()].sort((a, b) => a - b),
          range(0, 10),
        );
        await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(10, 20))]);
        assert.equal((await scan(r.client, 'd')).size, 20);
      } finally {
        await stop(r);
      }
    }
  });

  it('fails start-up with the file named when the WAL cannot be read (EIO)', async () => {
    const disk = new SimFileLayer();
    const r = await start(disk);
    await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(0, 10))]);
    await powerCut(disk, r);
    disk.inject({ op: 'readFile', path: /wal-\d+\.log$/, code: 'EIO' });
    await assert.rejects(start(disk), /EIO: simulated readFile failure, '\/sim\/node\/wal\/wal-\d{20}\.log'/);
    const again = await start(disk);
    try {
      assert.equal((await scan(again.client, 'd')).size, 10);
    } finally {
      await stop(again);
    }
  });

  it('keeps the previous snapshot and the WAL when a snapshot cannot be made durable', async () => {
    const disk = new SimFileLayer();
    let r = await start(disk);
    await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(0, 50))]);
    await r.client.doActionJson('force_snapshot', {});
    await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch(range(50, 100))]);
    disk.inject({ op: 'sync', path: /snapshots/, code: 'EIO' });
    await assert.rejects(r.client.doActionJson('force_snapshot', {}), /SNAPSHOT_FAILED/);
    await powerCut(disk, r);
    r = await start(disk);
    try {
      assert.equal((await scan(r.client, 'd')).size, 100);
    } finally {
      await stop(r);
    }
  });

  it('keeps row versions and deleted-id tombstones through a snapshot and a restart', async () => {
    const disk = new SimFileLayer();
    let r = await start(disk);
    await r.client.doPut(pathDescriptor('d'), SCHEMA, [batch([1, 2, 3])]);
    await r.client.doActionJson('delete', { dataset: 'd', ids: [2] });
    const before = r.node.ctx.store.require('d');
    const v1 = before.versionOf(before.ordinalOf(1n)!);
    const dead = before.deletedIdEntries();
    assert.equal(dead.length, 1);
    await r.client.doActionJson('force_snapshot', {});
    await powerCut(disk, r); // the snapshot alone carries them: its WAL entries were truncated
    r = await start(disk);
    try {
      const after = r.node.ctx.store.require('d');
      assert.deepEqual(after.versionOf(after.ordinalOf(1n)!), v1);
      assert.deepEqual(after.deletedIdEntries(), dead);
      // A write older than what the snapshot holds changes nothing (a replica's late sync).
      const older = { hlc: v1.hlc - 1n, node: v1.node };
      r.node.ctx.store.applyEntry({
        lsn: 1000n,
        op: WalOp.put,
        dataset: 'd',
        timestampMs: 0,
        version: older,
        record: encodeBatchRecord(batch([1, 2], 50)),
      });
      assert.deepEqual([...(await scan(r.client, 'd'))].sort(), [
        [1, 1],
        [3, 3],
      ]);
    } finally {
      await stop(r);
    }
  });
});
