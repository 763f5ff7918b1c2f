/**
 * Three real `longbow serve` processes on loopback with gossip, in each routing mode.
 *
 * proxy: data put through any node lands on its owner and is found (scan and search)
 * through every node — with our Flight client, with pyarrow as a plain client, and with the
 * smart client, which goes straight to owners; streams through the proxy are carried
 * whole, and cancelling one cancels the owner's call.
 * redirect: a non-owner answers FORWARD_REQUIRED exactly as DESIGN.md fixes it (data and
 * meta ports name the owner's matching address); the smart client follows and finds
 * everything through any seed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import { LongbowClient } from '../../packages/client/src/index.ts';
import { batch, SCHEMA, vectorOf } from './data.ts';
import { loopbackCluster, type NodeProc } from './harness.ts';
import { clusterStatus, keyOwnedBy, localDatasets, metric, poll } from './util.ts';

const IDS = ['n1', 'n2', 'n3'];
const PYTHON = path.join(import.meta.dirname, '../../.venv/bin/python');

async function startCluster(mode: 'proxy' | 'redirect'): Promise<NodeProc[]> {
  const nodes = await loopbackCluster(3, mode);
  await Promise.all(nodes.map((n) => n.start()));
  // Everyone sees everyone alive, on the same ring.
  await poll(
    'all members alive everywhere',
    async () => {
      const all = await Promise.all(nodes.map((n) => clusterStatus(n)));
      return all.every(
        (s) => s.ring.nodes.join() === IDS.join() && s.members.every((m) => m.state === 'alive'),
      )
        ? true
        : undefined;
    },
    10_000,
  );
  return nodes;
}

function scanIds(c: FlightClient, dataset: string, headers: Record<string, string> = {}) {
  return c
    .doGetTable(JSON.stringify({ dataset }), { headers, timeoutMs: 10_000 })
    .then((t) => Array.from(t.getChild('id')!.toArray() as BigInt64Array, Number));
}

describe('routing mode proxy (3 processes on loopback)', () => {
  let nodes: NodeProc[] = [];
  before(async () => {
    nodes = await startCluster('proxy');
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  });

  it('cluster_status: this node, members with state and incarnation, the same ring everywhere', async () => {
    for (const n of nodes) {
      const s = await clusterStatus(n);
      assert.equal(s.node_id, n.id);
      assert.equal(s.routing_mode, 'proxy');
      assert.deepEqual(s.ring.nodes, IDS);
      assert.deepEqual(
        s.members.map((m) => [m.id, m.state, m.data_addr, m.meta_addr]),
        nodes.map((m) => [m.id, 'alive', m.dataAddr, m.metaAddr]),
      );
      for (const m of s.members) assert.ok(Number.isInteger(m.incarnation));
    }
  });

  it('a put through any node lands on the owner and is found through every node', async () => {
    const n1 = new FlightClient(nodes[0]!.dataAddr);
    const owned = IDS.map((id) => keyOwnedBy(id, IDS, 'proxy_ds'));
    for (const [i, ds] of owned.entries()) {
      const acks = await n1.doPut(pathDescriptor(ds), SCHEMA, [
        batch(i * 1000, 50),
        batch(i * 1000 + 50, 50),
      ]);
      assert.equal(acks.length, 2, 'one ack per batch, relayed from the owner');
      assert.match(Buffer.from(acks[0]!.appMetadata!).toString(), /"status":"ok","rows":50/);
    }
    for (const [i, n] of nodes.entries()) assert.deepEqual(await localDatasets(n), [owned[i]!]);
    for (const n of nodes) {
      const c = new FlightClient(n.dataAddr);
      for (const [i, ds] of owned.entries()) {
        const ids = await scanIds(c, ds);
        assert.deepEqual(
          ids,
          Array.from({ length: 100 }, (_, k) => i * 1000 + k),
          `${ds} via ${n.id}`,
        );
        const hit = await c.doGetTable(
          JSON.stringify({ search: { dataset: ds, vector: vectorOf(i * 1000 + 7), k: 1 } }),
        );
        assert.equal(Number(hit.getChild('id')!.get(0)), i * 1000 + 7);
        assert.ok((hit.getChild('distance')!.get(0) as number) < 1e-5);
      }
      c.close();
    }
    // Meta port too: GetFlightInfo for a dataset owned elsewhere is answered by its owner.
    const meta1 = new FlightClient(nodes[0]!.metaAddr);
    const info = await meta1.getFlightInfo(pathDescriptor(owned[2]!));
    assert.equal(Number(info.totalRecords), 100);
    meta1.close();
    assert.ok(
      (await metric(nodes[0]!, 'longbow_proxy_requests_total', { method: 'DoPut', outcome: 'forwarded' })) >=
        2,
    );
    assert.equal(await metric(nodes[0]!, 'longbow_ring_nodes'), 3);
    assert.equal(await metric(nodes[0]!, 'longbow_gossip_members', { state: 'alive' }), 3);
    assert.ok(
      (await metric(nodes[0]!, 'longbow_gossip_messages_total', { type: 'ping', direction: 'sent' })) > 0,
    );
    n1.close();
  });

  it('pyarrow, a plain Flight client, writes, reads and lists flights through a proxying node', () => {
    const ds = keyOwnedBy('n2', IDS, 'pyarrow_ds');
    const script = `
import sys, pyarrow as pa, pyarrow.flight as fl
w, r, ds = sys.argv[1], sys.argv[2], sys.argv[3]
vec = pa.array([[float(i), 1.0, 2.0, 3.0] for i in range(20)], type=pa.list_(pa.float32(), 4))
t = pa.table({"id": pa.array(range(20), pa.int64()), "vector": vec})
writer, reader = fl.connect(w).do_put(fl.FlightDescriptor.for_path(ds), t.schema)
writer.write_table(t); writer.done_writing(); reader.read(); writer.close()
got = fl.connect(r).do_get(fl.Ticket(('{"dataset":"%s"}' % ds).encode())).read_all()
info = fl.connect(r).get_flight_info(fl.FlightDescriptor.for_path(ds))
# The classic plain-client walk: list the cluster's flights through any node, then DoGet
# each endpoint's ticket at the location it names (the owner).
listed = [f for f in fl.connect(r).list_flights() if f.descriptor.path[0].decode() == ds]
ep = listed[0].endpoints[0]
via_listing = fl.connect(ep.locations[0]).do_get(ep.ticket).read_all()
print(got.num_rows, info.total_records, len(listed), via_listing.num_rows)
`;
    const out = execFileSync(
      PYTHON,
      ['-c', script, `grpc://${nodes[0]!.dataAddr}`, `grpc://${nodes[2]!.dataAddr}`, ds],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(out.trim(), '20 20 1 20');
  });

  it('a long stream through the proxy arrives whole; cancelling it cancels the owner’s call', async () => {
    const ds = keyOwnedBy('n3', IDS, 'stream_ds');
    const n1 = new FlightClient(nodes[0]!.dataAddr);
    const batches = Array.from({ length: 40 }, (_, b) => batch(b * 2000, 2000));
    const acks = await n1.doPut(pathDescriptor(ds), SCHEMA, batches);
    assert.equal(acks.length, 40);
    const ids = await scanIds(n1, ds);
    assert.equal(ids.length, 80_000);
    assert.equal(ids[79_999], 79_999);

    const cancelledBefore = await metric(nodes[2]!, 'longbow_flight_requests_total', {
      method: 'DoGet',
      code: 'CANCELLED',
    });
    const raw = new grpc.Client(nodes[0]!.dataAddr, grpc.credentials.createInsecure());
    const call = raw.makeServerStreamRequest(
      '/arrow.flight.protocol.FlightService/DoGet',
      (t: { ticket: Buffer }) => Buffer.concat([Buffer.from([0x0a, t.ticket.length]), t.ticket]),
      (b: Buffer) => b,
      { ticket: Buffer.from(JSON.stringify({ dataset: ds })) },
    );
    await new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.pause(); // stop reading: the proxy must stop pulling from the owner
    call.on('error', () => {});
    call.cancel();
    await poll(
      'the owner sees its DoGet cancelled',
      async () =>
        (await metric(nodes[2]!, 'longbow_flight_requests_total', { method: 'DoGet', code: 'CANCELLED' })) >
        cancelledBefore
          ? true
          : undefined,
      5000,
    );
    raw.close();
    n1.close();
  });

  it('a proxied call with a short deadline fails DEADLINE_EXCEEDED, and the owner’s call ends too', async () => {
    const ds = keyOwnedBy('n3', IDS, 'stream_ds');
    const n1 = new FlightClient(nodes[0]!.dataAddr);
    // The owner's DoGets that ended early: the proxy passes the caller's deadline on and
    // cancels the owner's call when the caller goes away, so the 80,000-row scan stops there.
    const endedEarly = async () =>
      (await metric(nodes[2]!, 'longbow_flight_requests_total', {
        method: 'DoGet',
        code: 'DEADLINE_EXCEEDED',
      })) +
      (await metric(nodes[2]!, 'longbow_flight_requests_total', { method: 'DoGet', code: 'CANCELLED' }));
    const before = await endedEarly();
    await assert.rejects(
      n1.doGetTable(JSON.stringify({ dataset: ds }), { timeoutMs: 30 }),
      (err: grpc.ServiceError) => err.code === grpc.status.DEADLINE_EXCEEDED,
    );
    await poll(
      'the owner’s DoGet ends early',
      async () => ((await endedEarly()) > before ? true : undefined),
      5000,
    );
    n1.close();
  });

  it('x-longbow-routing: redirect gets FORWARD_REQUIRED even in proxy mode', async () => {
    const ds = keyOwnedBy('n2', IDS, 'proxy_ds');
    const n1 = new FlightClient(nodes[0]!.dataAddr);
    await assert.rejects(scanIds(n1, ds, { 'x-longbow-routing': 'redirect' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(err.details, `FORWARD_REQUIRED: target=n2 addr=${nodes[1]!.dataAddr}`);
      return true;
    });
    n1.close();
  });

  it('the smart client sends each request straight to its owner (no proxy hop)', async () => {
    const forwardedBefore = await Promise.all(
      nodes.map((n) => metric(n, 'longbow_proxy_requests_total', { outcome: 'forwarded' })),
    );
    const client = new LongbowClient({ seeds: [nodes[0]!.dataAddr] });
    await client.connect();
    const owned = IDS.map((id) => keyOwnedBy(id, IDS, 'smart_ds'));
    for (const [i, ds] of owned.entries()) await client.put(ds, SCHEMA, [batch(i * 100, 10)]);
    for (const [i, n] of nodes.entries()) assert.ok((await localDatasets(n)).includes(owned[i]!));
    for (const [i, ds] of owned.entries()) {
      const t = await client.scan(ds);
      assert.equal(t.numRows, 10);
      const hit = await client.search(ds, { vector: vectorOf(i * 100 + 3), k: 1 });
      assert.equal(Number(hit.getChild('id')!.get(0)), i * 100 + 3);
      const stats = await client.action<{ datasets: Record<string, { records: number }> }>('get_stats', {
        dataset: ds,
      });
      assert.equal(stats.datasets[ds]!.records, 10);
    }
    assert.equal(client.stats.redirects, 0);
    // Cluster-wide listing: one ListFlights per member, merged.
    const listed = (await client.listFlights()).map((f) => f.flightDescriptor?.path?.[0]);
    for (const ds of owned) assert.ok(listed.includes(ds), `${ds} listed`);
    const forwardedAfter = await Promise.all(
      nodes.map((n) => metric(n, 'longbow_proxy_requests_total', { outcome: 'forwarded' })),
    );
    assert.deepEqual(forwardedAfter, forwardedBefore, 'no node proxied a smart-client call');
    client.close();
  });
});

describe('routing mode redirect (3 processes on loopback)', () => {
  let nodes: NodeProc[] = [];
  before(async () => {
    nodes = await startCluster('redirect');
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  });

  it('a non-owner answers FORWARD_REQUIRED naming the owner and its matching address', async () => {
    const ds = keyOwnedBy('n3', IDS, 'redirect_ds');
    const n1 = new FlightClient(nodes[0]!.dataAddr);
    await assert.rejects(n1.doPut(pathDescriptor(ds), SCHEMA, [batch(0, 5)]), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(err.details, `FORWARD_REQUIRED: target=n3 addr=${nodes[2]!.dataAddr}`);
      assert.deepEqual(err.metadata.get('x-longbow-forward-target'), ['n3']);
      assert.deepEqual(err.metadata.get('x-longbow-forward-addr'), [nodes[2]!.dataAddr]);
      return true;
    });
    const meta1 = new FlightClient(nodes[0]!.metaAddr);
    await assert.rejects(meta1.getFlightInfo(pathDescriptor(ds)), (err: grpc.ServiceError) => {
      assert.equal(err.details, `FORWARD_REQUIRED: target=n3 addr=${nodes[2]!.metaAddr}`);
      return true;
    });
    assert.deepEqual(await localDatasets(nodes[0]!), [], 'nothing was written on the non-owner');
    // Node-level calls are answered by any node.
    assert.equal((await clusterStatus(nodes[0]!)).node_id, 'n1');
    n1.close();
    meta1.close();
  });

  it('the smart client follows redirects from any seed; data lands on owners and is found', async () => {
    const owned = IDS.map((id) => keyOwnedBy(id, IDS, 'redirect_ds'));
    for (const seed of nodes) {
      const client = new LongbowClient({ seeds: [seed.dataAddr] });
      for (const [i, ds] of owned.entries()) await client.put(ds, SCHEMA, [batch(i * 100, 10)]);
      for (const [i, ds] of owned.entries()) {
        assert.equal((await client.scan(ds)).numRows, 10);
        const hit = await client.search(ds, { vector: vectorOf(i * 100 + 4), k: 1 });
        assert.equal(Number(hit.getChild('id')!.get(0)), i * 100 + 4);
      }
      assert.equal(client.stats.redirects, 0, 'with a view, every call went straight to the owner');
      client.close();
    }
    for (const [i, n] of nodes.entries()) assert.deepEqual(await localDatasets(n), [owned[i]!]);
  });
});
