/**
 * GossipNode on real loopback sockets, in one process: join through static seeds, a ring
 * following membership, graceful leave, failure of a stopped node, malformed datagrams,
 * lifecycle errors and seed resolution.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import {
  ClusterErrorCode,
  GossipLifecycleError,
  GossipNode,
  type Member,
  RingManager,
  resolveGossipConfig,
  resolveSeeds,
} from '../../src/index.ts';

const fast = {
  preset: 'local',
  enabled: true,
  bindAddr: '127.0.0.1',
  port: 0,
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  gossipIntervalMs: 50,
  joinRetryIntervalMs: 300,
};

function node(id: string, staticPeers: string[] = []): GossipNode {
  return new GossipNode({
    config: resolveGossipConfig({ ...fast, staticPeers }),
    meta: {
      nodeId: id,
      dataAddr: `127.0.0.1:${3000}`,
      metaAddr: '127.0.0.1:3001',
      zone: 'z1',
      version: 'test',
    },
  });
}

function until(
  emitter: GossipNode,
  type: 'join' | 'leave' | 'dead',
  id: string,
  timeoutMs: number,
): Promise<Member> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${type} of ${id} in ${timeoutMs} ms`)), timeoutMs);
    const listener = (m: Member): void => {
      if (m.id !== id) return;
      clearTimeout(t);
      emitter.off(type, listener);
      resolve(m);
    };
    emitter.on(type, listener);
  });
}

async function eventually(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ok()) {
    if (performance.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('GossipNode on loopback', () => {
  const nodes: GossipNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('joins, feeds a ring, leaves gracefully, detects a stopped node, drops malformed packets', async () => {
    const a = node('a');
    nodes.push(a);
    const ring = new RingManager({ pointsPerNode: 160 });
    ring.attach(a);
    await a.start();
    assert.match(a.addr, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(ring.nodes(), ['a']);

    const b = node('b', [a.addr]);
    const c = node('c', [a.addr]);
    nodes.push(b, c);
    const aSeesC = until(a, 'join', 'c', 5000);
    await Promise.all([b.start(), c.start()]);
    await aSeesC;
    await eventually(() => c.members().find((m) => m.id === 'b')?.state === 'alive', 5000, 'c sees b');
    assert.deepEqual(ring.nodes(), ['a', 'b', 'c']);
    assert.deepEqual(
      a.members().map((m) => [m.id, m.state, m.meta.zone]),
      [
        ['a', 'alive', 'z1'],
        ['b', 'alive', 'z1'],
        ['c', 'alive', 'z1'],
      ],
    );

    // Probing runs over UDP: acks come back.
    await eventually(() => a.stats().messages.ack.received >= 2, 3000, 'a gets acks');

    // A packet of an unknown version is dropped and reported, not fatal.
    const warned = once(a, 'warning');
    const sock = dgram.createSocket('udp4');
    const [host, port] = [a.addr.split(':')[0]!, Number(a.addr.split(':')[1])];
    await new Promise<void>((r) => sock.send(Uint8Array.of(9, 1, 2, 3), port, host, () => r()));
    await warned;
    sock.close();
    assert.equal(a.stats().dropped.malformed, 1);

    const version = ring.version;
    const aSeesLeave = until(a, 'leave', 'c', 5000);
    await c.leave(2000);
    await c.stop();
    const left = await aSeesLeave;
    assert.equal(left.state, 'left');
    assert.deepEqual(ring.nodes(), ['a', 'b']);
    assert.ok(ring.version > version);

    // b stops without a leave: a must find out by failure detection, probe → suspect →
    // suspicion timeout → dead (the 10 s only guards against a hang; how fast it is follows
    // from the configuration and is checked by the deterministic simulations in sim/).
    const suspectsSent = a.stats().messages.suspect.sent;
    const aSeesDead = until(a, 'dead', 'b', 10_000);
    await b.stop();
    const dead = await aSeesDead;
    assert.equal(dead.state, 'dead');
    assert.deepEqual(ring.nodes(), ['a']);
    assert.ok(a.stats().messages.suspect.sent > suspectsSent, 'a suspected b before declaring it dead');

    const s = a.stats();
    assert.ok(s.messages.ping.sent >= 2 && s.messages.pushPull.received >= 2, JSON.stringify(s));
    assert.ok(s.bytesSent > 0 && s.bytesReceived > 0);
    assert.deepEqual(s.members, { alive: 1, suspect: 0, dead: 1, left: 1 });
  });

  it('refuses use before start and a second start', async () => {
    const n = node('lonely');
    assert.throws(
      () => n.stats(),
      (err: unknown) => err instanceof GossipLifecycleError && err.code === ClusterErrorCode.NOT_STARTED,
    );
    nodes.push(n);
    await n.start();
    await assert.rejects(
      n.start(),
      (err: unknown) => err instanceof GossipLifecycleError && err.code === ClusterErrorCode.ALREADY_STARTED,
    );
    assert.equal(n.members().length, 1);
  });
});

describe('seed resolution', () => {
  it('adds DNS records at the gossip port after the static peers, deduplicated', async () => {
    const lookup = async (name: string) => {
      assert.equal(name, 'longbow-headless.ns.svc');
      return [{ address: '10.0.0.5' }, { address: '10.0.0.6' }, { address: 'fd00::7' }];
    };
    const r = await resolveSeeds(
      { staticPeers: ['10.0.0.5:7946', 'x:1'], dnsRecord: 'longbow-headless.ns.svc', port: 7946 },
      lookup,
    );
    assert.deepEqual(r.addrs, ['10.0.0.5:7946', 'x:1', '10.0.0.6:7946', '[fd00::7]:7946']);
    assert.equal(r.dnsError, undefined);
  });

  it('reports a failed lookup and keeps the static peers', async () => {
    const r = await resolveSeeds({ staticPeers: ['a:1'], dnsRecord: 'nowhere', port: 7946 }, async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere'), { code: 'ENOTFOUND' });
    });
    assert.deepEqual(r.addrs, ['a:1']);
    assert.match(String(r.dnsError), /ENOTFOUND/);
  });
});
