/**
 * Failure and recovery with real processes on loopback (proxy mode): SIGKILL one of three
 * nodes. Until gossip declares it dead, calls for its keys fail fast with UNAVAILABLE
 * OWNER_UNREACHABLE (refused connection, no hang); the survivors declare it dead within
 * the bound the gossip settings give, its keys move to the next owner on the ring (which
 * has no copy: there is no replication yet, so reads answer DATASET_NOT_FOUND and new
 * writes land there), and the smart client fails over by itself. Restarted with the same
 * data directory it rejoins, owns its keys again and serves the rows it had.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import { LongbowClient } from '../../packages/client/src/index.ts';
import { batch, SCHEMA } from './data.ts';
import { DETECTION_BOUND_MS, loopbackCluster, type NodeProc } from './harness.ts';
import { clusterStatus, keyOwnedBy, localDatasets, ownerOf, poll } from './util.ts';

const IDS = ['n1', 'n2', 'n3'];

describe('SIGKILL and restart of a node (3 processes on loopback)', () => {
  let nodes: NodeProc[] = [];
  before(async () => {
    nodes = await loopbackCluster(3, 'proxy');
    await Promise.all(nodes.map((n) => n.start()));
    await poll(
      'ring of three everywhere',
      async () =>
        (await Promise.all(nodes.map((n) => clusterStatus(n)))).every((s) => s.ring.nodes.length === 3)
          ? true
          : undefined,
      10_000,
    );
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  });

  it('fails fast, detects, moves keys, fails over, and rejoins', async () => {
    const [n1, n2, n3] = nodes as [NodeProc, NodeProc, NodeProc];
    const ds = keyOwnedBy('n3', IDS, 'failover_ds');
    const survivorOwner = ownerOf(ds, ['n1', 'n2']);
    const c1 = new FlightClient(n1.dataAddr);
    await c1.doPut(pathDescriptor(ds), SCHEMA, [batch(0, 100)]);
    assert.deepEqual(await localDatasets(n3), [ds]);
    const smart = new LongbowClient({ seeds: [n1.dataAddr, n2.dataAddr], backoffBaseMs: 200, maxRetries: 6 });
    await smart.connect();
    assert.equal((await smart.scan(ds)).numRows, 100);

    const killedAt = performance.now();
    await n3.kill('SIGKILL');

    // Before detection: the proxy cannot reach the owner and says so at once.
    const t0 = performance.now();
    await assert.rejects(
      c1.doGetTable(JSON.stringify({ dataset: ds }), { timeoutMs: 10_000 }),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.UNAVAILABLE);
        assert.match(err.details, /^OWNER_UNREACHABLE: owner n3 of this key at 127\.0\.0\.1:\d+: /);
        return true;
      },
    );
    const failFastMs = performance.now() - t0;
    assert.ok(failFastMs < 1000, `failed in ${failFastMs} ms`);
    // A cluster-wide listing needs every live member: it fails fast too, naming n3.
    const meta1 = new FlightClient(n1.metaAddr);
    await assert.rejects(meta1.listFlights(undefined, { timeoutMs: 10_000 }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(
        err.details,
        /^MEMBER_UNREACHABLE: ListFlights needs every member; n3: at 127\.0\.0\.1:\d+: /,
      );
      return true;
    });
    const listed = async () =>
      (await meta1.listFlights(Buffer.from('failover_ds'), { timeoutMs: 10_000 })).map((f) => [
        f.flightDescriptor?.path?.[0],
        Number(f.totalRecords),
        f.endpoint?.[0]?.location?.[0]?.uri,
      ]);

    // Detection on both survivors within the configured bound.
    const detected = await Promise.all(
      [n1, n2].map((n) =>
        poll(
          `${n.id} declares n3 dead`,
          async () => {
            const s = await clusterStatus(n);
            return s.members.find((m) => m.id === 'n3')?.state === 'dead' && s.ring.nodes.join() === 'n1,n2'
              ? performance.now() - killedAt
              : undefined;
          },
          DETECTION_BOUND_MS + 2000,
          50,
        ),
      ),
    );
    const detectedMs = Math.max(...detected);
    assert.ok(detectedMs <= DETECTION_BOUND_MS, `detected in ${detectedMs} ms, bound ${DETECTION_BOUND_MS}`);

    // The key moved: the new owner answers (no copy, no replication yet), writes land there.
    await assert.rejects(c1.doGetTable(JSON.stringify({ dataset: ds })), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.match(err.details, /^DATASET_NOT_FOUND/);
      return true;
    });
    const c2 = new FlightClient(n2.dataAddr);
    await c2.doPut(pathDescriptor(ds), SCHEMA, [batch(500, 10)]);
    const newOwner = nodes.find((n) => n.id === survivorOwner)!;
    assert.deepEqual(await localDatasets(newOwner), [ds]);
    // Dead members are not asked: the listing works again and shows the new owner's copy.
    assert.deepEqual(await listed(), [[ds, 10, `grpc+tcp://${newOwner.dataAddr}`]]);

    // The smart client, whose view still says n3, fails over by itself.
    const t1 = performance.now();
    assert.equal((await smart.scan(ds)).numRows, 10);
    const smartFailoverMs = performance.now() - t1;
    assert.ok(smart.stats.retries >= 1);

    // Restart with the same data directory: n3 rejoins and owns its keys again.
    const restartAt = performance.now();
    await n3.start();
    const rejoinMs = await poll(
      'n1 and n2 see n3 alive again',
      async () => {
        const all = await Promise.all([n1, n2].map((n) => clusterStatus(n)));
        return all.every((s) => s.ring.nodes.length === 3 && s.members.every((m) => m.state === 'alive'))
          ? performance.now() - restartAt
          : undefined;
      },
      15_000,
      50,
    );
    const ids = Array.from(
      (await c1.doGetTable(JSON.stringify({ dataset: ds }))).getChild('id')!.toArray(),
      Number,
    );
    assert.deepEqual(
      ids,
      Array.from({ length: 100 }, (_, i) => i),
      'the rejoined owner serves its replayed rows',
    );
    // The listing follows the ring: n3's rows again; the 10-row copy left on the interim
    // owner is not what routed calls reach, so it is not listed.
    assert.deepEqual(await listed(), [[ds, 100, `grpc+tcp://${n3.dataAddr}`]]);
    console.log(
      `fail-fast ${failFastMs.toFixed(0)} ms; dead on both survivors after ${detectedMs.toFixed(0)} ms ` +
        `(bound ${DETECTION_BOUND_MS}); smart-client failover ${smartFailoverMs.toFixed(0)} ms ` +
        `(${smart.stats.retries} retries); rejoin ${rejoinMs.toFixed(0)} ms after restart (process start included)`,
    );
    smart.close();
    c1.close();
    c2.close();
    meta1.close();
  });
});
