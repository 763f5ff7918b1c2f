/**
 * The smart client against small Flight servers on loopback that play a cluster: their
 * `cluster_status` answers and their FORWARD_REQUIRED / UNAVAILABLE answers are scripted,
 * so each routing rule is observable in isolation (the real cluster is in e2e/cluster).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { LAN_PRESET, RingManager } from '@longbow/cluster';
import {
  bindInsecure,
  createFlightServer,
  FlightStatusError,
  IpcEncoder,
  type Ticket,
} from '@longbow/flight';
import { Field, Int32, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import {
  backoffDelayMs,
  type ClientClock,
  ClusterView,
  LongbowClient,
  type LongbowClientError,
  parseForwardRequired,
} from '../src/index.ts';

const SCHEMA = new Schema([new Field('served_by', new Int32(), false)]);

function oneRow(value: number): RecordBatch {
  const child = makeData({ type: new Int32(), length: 1, data: Int32Array.of(value) });
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: 1, nullCount: 0, children: [child] }),
  );
}

type Behaviour = (ticket: string, headers: grpc.Metadata) => FlightStatusError | undefined;

/** A fake node: answers cluster_status with `status()` and DoGet per `behaviour`. */
class FakeNode {
  server: grpc.Server;
  addr = '';
  calls: Array<{ ticket: string; headers: Record<string, unknown> }> = [];
  behaviour: Behaviour = () => undefined;
  status: () => unknown = () => ({});
  readonly index: number;
  constructor(index: number) {
    this.index = index;
    this.server = createFlightServer({
      DoAction: (call) => {
        call.write({ body: Buffer.from(JSON.stringify(this.status())) });
        call.end();
      },
      DoGet: (call) => {
        const ticket = Buffer.from((call.request as Ticket).ticket).toString();
        this.calls.push({ ticket, headers: call.metadata.getMap() });
        const err = this.behaviour(ticket, call.metadata);
        if (err) {
          call.emit('error', err);
          return;
        }
        const enc = new IpcEncoder(SCHEMA, 'none');
        call.write(enc.schemaMessage());
        for (const m of enc.batchMessages(oneRow(this.index))) call.write(m);
        call.end();
      },
    });
  }
  async start(): Promise<void> {
    const port = await bindInsecure(this.server, '127.0.0.1:0');
    this.addr = `127.0.0.1:${port}`;
  }
}

const nodes = [new FakeNode(0), new FakeNode(1), new FakeNode(2)];
await Promise.all(nodes.map((n) => n.start()));
after(() => {
  for (const n of nodes) n.server.forceShutdown();
});

function statusFor(ids: string[], states: Record<string, string> = {}) {
  return {
    node_id: 'n0',
    gossip_enabled: true,
    routing_mode: 'proxy',
    members: ids.map((id, i) => ({
      id,
      state: states[id] ?? 'alive',
      incarnation: 1,
      data_addr: nodes[i]!.addr,
      meta_addr: nodes[i]!.addr,
    })),
    ring: { version: 1, nodes: ids, points_per_node: 640 },
  };
}

function reset(status: unknown): void {
  for (const n of nodes) {
    n.calls = [];
    n.behaviour = () => undefined;
    n.status = () => status;
  }
}

/** A dataset name owned by `id` on the ring of `ids`. */
function keyOwnedBy(id: string, ids: string[]): string {
  const ring = new RingManager();
  ring.replace(ids);
  for (let i = 0; ; i++) if (ring.owner(`ds${i}`) === id) return `ds${i}`;
}

/** A clock that records every sleep asked for and jumps ahead by it at once. */
class FakeClock implements ClientClock {
  now = 0;
  readonly sleeps: number[] = [];
  nowMs(): number {
    return this.now;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.now += ms;
    return Promise.resolve();
  }
}

const IDS = ['n0', 'n1', 'n2'];
const served = async (p: Promise<{ getChild(n: string): { get(i: number): unknown } | null }>) =>
  (await p).getChild('served_by')!.get(0);

describe('LongbowClient routing', () => {
  it('sends a request straight to the owner, marked redirect-only with the key', async () => {
    reset(statusFor(IDS));
    const client = new LongbowClient({ seeds: [nodes[0]!.addr] });
    await client.connect();
    const ds = keyOwnedBy('n2', IDS);
    assert.equal(await served(client.scan(ds)), 2);
    assert.equal(nodes[2]!.calls.length, 1);
    assert.equal(nodes[2]!.calls[0]!.headers['x-longbow-routing'], 'redirect');
    assert.equal(nodes[2]!.calls[0]!.headers['x-longbow-key'], ds);
    assert.equal(nodes[0]!.calls.length + nodes[1]!.calls.length, 0);
    client.close();
  });

  it('follows FORWARD_REQUIRED to the named address and refreshes its view', async () => {
    const ds = keyOwnedBy('n1', IDS);
    reset(statusFor(IDS));
    const client = new LongbowClient({ seeds: [nodes[0]!.addr] });
    await client.connect();
    // The view says n1 owns ds, but n1 redirects to n2 (ownership moved).
    nodes[1]!.behaviour = () =>
      new FlightStatusError(
        grpc.status.FAILED_PRECONDITION,
        `FORWARD_REQUIRED: target=n2 addr=${nodes[2]!.addr}`,
        {
          trailers: { 'x-longbow-forward-target': 'n2', 'x-longbow-forward-addr': nodes[2]!.addr },
        },
      );
    const refreshes = client.stats.refreshes;
    assert.equal(await served(client.scan(ds)), 2);
    assert.equal(client.stats.redirects, 1);
    assert.ok(client.stats.refreshes > refreshes, 'a redirect triggers a view refresh');
    client.close();
  });

  it('gives up with TOO_MANY_REDIRECTS when nodes keep redirecting (bounded hops)', async () => {
    reset(statusFor(IDS));
    const ds = keyOwnedBy('n0', IDS);
    // n0 and n1 send the client to each other forever.
    nodes[0]!.behaviour = () =>
      new FlightStatusError(
        grpc.status.FAILED_PRECONDITION,
        `FORWARD_REQUIRED: target=n1 addr=${nodes[1]!.addr}`,
      );
    nodes[1]!.behaviour = () =>
      new FlightStatusError(
        grpc.status.FAILED_PRECONDITION,
        `FORWARD_REQUIRED: target=n0 addr=${nodes[0]!.addr}`,
      );
    const client = new LongbowClient({ seeds: [nodes[0]!.addr], maxRedirects: 3 });
    await client.connect();
    await assert.rejects(client.scan(ds), (err: LongbowClientError) => {
      assert.equal(err.code, 'TOO_MANY_REDIRECTS');
      assert.equal(err.attempts, 4);
      return true;
    });
    assert.equal(nodes[0]!.calls.length + nodes[1]!.calls.length, 4);
    client.close();
  });

  it('retries UNAVAILABLE after a back-off sleep, then succeeds where the refreshed view points', async () => {
    const ds = keyOwnedBy('n1', IDS);
    reset(statusFor(IDS));
    const clock = new FakeClock();
    const client = new LongbowClient({
      seeds: [nodes[0]!.addr],
      backoffBaseMs: 20,
      random: () => 0.5,
      clock,
    });
    await client.connect();
    // The owner is failing; the cluster then declares it dead and its key moves.
    nodes[1]!.behaviour = () =>
      new FlightStatusError(grpc.status.UNAVAILABLE, 'SHUTTING_DOWN: node is shutting down');
    const after = statusFor(IDS, { n1: 'dead' });
    const survivors = ['n0', 'n2'];
    for (const n of nodes) n.status = () => ({ ...after, ring: { ...after.ring, nodes: survivors } });
    const newOwner = new ClusterView({ ...after, ring: { ...after.ring, nodes: survivors } }).owner(ds)!;
    assert.equal(await served(client.scan(ds)), Number(newOwner.slice(1)));
    assert.equal(client.stats.retries, 1);
    assert.deepEqual(clock.sleeps, [10], 'one sleep of half (random 0.5) the first ceiling, 20 ms');
    assert.equal(nodes[1]!.calls.length, 1, 'the failed owner is not asked again');
    client.close();
  });

  it('back-off schedule: ceilings double from the base up to the cap, full jitter, last sleep cut to the retry budget', async () => {
    reset(statusFor(IDS));
    const ds = keyOwnedBy('n2', IDS);
    nodes[2]!.behaviour = () =>
      new FlightStatusError(grpc.status.UNAVAILABLE, 'OWNER_UNREACHABLE: owner n2 is dead');
    const opts = { seeds: [nodes[0]!.addr], backoffBaseMs: 100, backoffMaxMs: 400, retryBudgetMs: 1000 };
    // Jitter at its top: each sleep is just under its ceiling 100, 200, 400, 400 (capped);
    // the budget has 303 ms left for the fourth, and nothing for a fifth.
    const top = new FakeClock();
    const client = new LongbowClient({ ...opts, maxRetries: 10, random: () => 0.999, clock: top });
    await client.connect();
    await assert.rejects(client.scan(ds), { code: 'OWNER_UNREACHABLE', attempts: 5 });
    assert.deepEqual(top.sleeps, [99, 199, 399, 303]);
    assert.equal(top.now, 1000, 'retries stop when the budget is spent');
    // Jitter is uniform below the ceiling: random r sleeps floor(r · ceiling).
    const half = new FakeClock();
    const halfClient = new LongbowClient({ ...opts, maxRetries: 10, random: () => 0.5, clock: half });
    await assert.rejects(halfClient.scan(ds), { code: 'OWNER_UNREACHABLE', attempts: 8 });
    assert.deepEqual(half.sleeps, [50, 100, 200, 200, 200, 200, 50]);
    // Sleeps that spend no time leave the count as the only bound.
    const none = new FakeClock();
    const noneClient = new LongbowClient({ ...opts, maxRetries: 3, random: () => 0, clock: none });
    await assert.rejects(noneClient.scan(ds), { code: 'OWNER_UNREACHABLE', attempts: 4 });
    assert.deepEqual(none.sleeps, [0, 0, 0]);
    for (const c of [client, halfClient, noneClient]) c.close();
  });

  it('default retry budget outlasts gossip failure detection (LAN preset, 10 members)', async () => {
    reset(statusFor(IDS));
    const ds = keyOwnedBy('n2', IDS);
    nodes[2]!.behaviour = () =>
      new FlightStatusError(grpc.status.UNAVAILABLE, 'OWNER_UNREACHABLE: owner n2 is dead');
    const clock = new FakeClock();
    const client = new LongbowClient({ seeds: [nodes[0]!.addr], random: () => 0.5, clock });
    await client.connect();
    await assert.rejects(client.scan(ds), { code: 'OWNER_UNREACHABLE' });
    // Probe period + minimum suspicion timeout: 1 s + 4 · max(1, log10 10) · 1 s.
    const lan = LAN_PRESET;
    const detectionMs = lan.probeIntervalMs + lan.suspicionMult * lan.probeIntervalMs;
    assert.ok(clock.now > detectionMs, `retried for ${clock.now} ms, detection takes ${detectionMs} ms`);
    assert.equal(clock.now, 10_000);
    client.close();
  });

  it('gives up after maxRetries with the server code, never hanging', async () => {
    reset(statusFor(IDS));
    const ds = keyOwnedBy('n2', IDS);
    nodes[2]!.behaviour = () =>
      new FlightStatusError(grpc.status.UNAVAILABLE, 'OWNER_UNREACHABLE: owner n2 is dead');
    const clock = new FakeClock();
    const client = new LongbowClient({ seeds: [nodes[0]!.addr], maxRetries: 2, backoffBaseMs: 10, clock });
    await client.connect();
    await assert.rejects(client.scan(ds), (err: LongbowClientError) => {
      assert.equal(err.code, 'OWNER_UNREACHABLE');
      assert.equal(err.grpcCode, grpc.status.UNAVAILABLE);
      assert.equal(err.attempts, 3);
      return true;
    });
    assert.equal(clock.sleeps.length, 2);
    assert.equal(nodes[2]!.calls.length, 3);
    client.close();
  });

  it('does not retry other errors, and maps their codes', async () => {
    reset(statusFor(IDS));
    const ds = keyOwnedBy('n0', IDS);
    nodes[0]!.behaviour = () =>
      new FlightStatusError(grpc.status.NOT_FOUND, `DATASET_NOT_FOUND: dataset "${ds}" does not exist`);
    const client = new LongbowClient({ seeds: [nodes[0]!.addr] });
    await assert.rejects(client.scan(ds), { code: 'DATASET_NOT_FOUND', attempts: 1 });
    assert.equal(nodes[0]!.calls.length, 1);
    client.close();
  });

  it('connect fails with NO_NODES when no seed answers', async () => {
    const client = new LongbowClient({ seeds: ['127.0.0.1:1'], refreshTimeoutMs: 500 });
    await assert.rejects(client.connect(), { code: 'NO_NODES' });
    client.close();
  });

  it('validates options, naming the option', () => {
    assert.throws(() => new LongbowClient({ seeds: [] }), /seeds/);
    assert.throws(() => new LongbowClient({ seeds: ['a:1'], timeoutMs: 0 }), /timeoutMs/);
  });
});

describe('pure pieces', () => {
  it('backoff: full jitter under a doubling, capped ceiling', () => {
    assert.equal(
      backoffDelayMs(0, 100, 2000, () => 0.999),
      99,
    );
    assert.equal(
      backoffDelayMs(3, 100, 2000, () => 0.5),
      400,
    );
    assert.equal(
      backoffDelayMs(10, 100, 2000, () => 0.999),
      1998,
    );
    assert.equal(
      backoffDelayMs(5, 100, 2000, () => 0),
      0,
    );
  });
  it('parseForwardRequired: trailers first, then the message; other statuses are not redirects', () => {
    const md = new grpc.Metadata();
    md.set('x-longbow-forward-target', 'n7');
    md.set('x-longbow-forward-addr', '10.0.0.7:3000');
    assert.deepEqual(parseForwardRequired({ code: 9, details: 'x', metadata: md }), {
      target: 'n7',
      addr: '10.0.0.7:3000',
    });
    assert.deepEqual(parseForwardRequired({ code: 9, details: 'FORWARD_REQUIRED: target=a addr=h:1' }), {
      target: 'a',
      addr: 'h:1',
    });
    assert.equal(
      parseForwardRequired({ code: 14, details: 'FORWARD_REQUIRED: target=a addr=h:1' }),
      undefined,
    );
  });
  it("the view routes by the answer's ring (its nodes and points per node), not by the member list", () => {
    // Regression: this test compared ClusterView.owner with a RingManager over the same ids,
    // which is what ClusterView is made of; it could not fail.
    const status = statusFor(IDS, { n2: 'dead' });
    // n1 is alive but not on the ring (e.g. still joining): it must own nothing.
    const answer = { ...status, ring: { version: 7, nodes: ['n2', 'n0'], points_per_node: 4 } };
    const view = new ClusterView(answer);
    assert.deepEqual(view.nodes, ['n0', 'n2']);
    assert.deepEqual(view.source, { nodeId: 'n0', ringVersion: 7 });
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    const owners = keys.map((k) => view.owner(k));
    assert.ok(
      owners.every((o) => o === 'n0' || o === 'n2'),
      'only ring nodes own keys',
    );
    assert.ok(owners.includes('n0') && owners.includes('n2'));
    // points_per_node is honoured: 4 points split the keys differently from the default.
    const dense = new ClusterView({ ...answer, ring: { ...answer.ring, points_per_node: 640 } });
    assert.ok(
      keys.some((k) => dense.owner(k) !== view.owner(k)),
      'points per node changes ownership',
    );
    // n2 is on the ring but dead: its keys have an owner but no address to send to.
    assert.equal(view.dataAddrs.has('n2'), false);
    assert.equal(view.dataAddrs.get('n1'), nodes[1]!.addr, 'alive members keep their address');
    const ofDead = keys.find((k) => view.owner(k) === 'n2')!;
    assert.equal(view.ownerAddr(ofDead), undefined);
    const ofLive = keys.find((k) => view.owner(k) === 'n0')!;
    assert.equal(view.ownerAddr(ofLive), nodes[0]!.addr);
    // An empty ring owns nothing.
    assert.equal(new ClusterView({ ...answer, ring: { ...answer.ring, nodes: [] } }).owner('k0'), undefined);
  });
});
