/**
 * A partition between real nodes with distinct addresses: three `longbow serve` processes,
 * each in its own network namespace on a bridge (10.231.8.0/24; the test itself talks to
 * them from the host through the bridge's 10.231.8.254). Cutting one node's link must be
 * detected on both sides; calls for its keys through the others must end fast and clearly
 * (connect deadline → OWNER_UNREACHABLE, or the new owner's answer once the ring moved)
 * rather than hang; restoring the link must heal the cluster, and the node's rows are
 * served through the others again. Needs root and `ip`; creates and deletes its own
 * namespaces and bridge.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import { batch, SCHEMA } from './data.ts';
import { NodeProc } from './harness.ts';
import { clusterStatus, keyOwnedBy, poll } from './util.ts';

const BRIDGE = 'lbc-br0';
const SUBNET = '10.231.8';
const IDX = [1, 2, 3];
const ns = (i: number) => `lbc-ns${i}`;
const veth = (i: number) => `lbc-veth${i}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const IDS = ['n1', 'n2', 'n3'];
const PORTS = { data: 3000, meta: 3001, http: 9090, gossip: 7946 };
const CONNECT_TIMEOUT_MS = 1000;

function teardown(): void {
  for (const i of IDX) {
    // Delete the root-side veth too: a namespace is freed asynchronously, and until then its
    // peer lingers and the next run's `ip link add` fails with "File exists".
    try {
      ip('link', 'del', veth(i));
    } catch {}
    try {
      ip('netns', 'del', ns(i));
    } catch {}
  }
  try {
    ip('link', 'del', BRIDGE);
  } catch {}
}

describe('partition between namespaces (3 processes, distinct addresses)', () => {
  const nodes: NodeProc[] = [];
  before(async () => {
    teardown();
    ip('link', 'add', BRIDGE, 'type', 'bridge');
    ip('addr', 'add', `${SUBNET}.254/24`, 'dev', BRIDGE);
    ip('link', 'set', BRIDGE, 'up');
    for (const i of IDX) {
      ip('netns', 'add', ns(i));
      ip('link', 'add', veth(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(i));
      ip('link', 'set', veth(i), 'master', BRIDGE, 'up');
      ip('-n', ns(i), 'addr', 'add', `${SUBNET}.${i}/24`, 'dev', 'eth0');
      ip('-n', ns(i), 'link', 'set', 'eth0', 'up');
      ip('-n', ns(i), 'link', 'set', 'lo', 'up');
    }
    for (const i of IDX) {
      nodes.push(
        new NodeProc({
          id: `n${i}`,
          host: `${SUBNET}.${i}`,
          ports: PORTS,
          seeds: IDX.filter((j) => j !== i).map((j) => `${SUBNET}.${j}:${PORTS.gossip}`),
          mode: 'proxy',
          prefix: ['ip', 'netns', 'exec', ns(i)],
          extraEnv: { LONGBOW_FORWARD_CONNECT_TIMEOUT: `${CONNECT_TIMEOUT_MS}ms` },
        }),
      );
    }
    await Promise.all(nodes.map((n) => n.start()));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
    teardown();
  });

  it('detects a cut-off node on both sides, fails its keys fast, and heals', async () => {
    const [n1, n2, n3] = nodes as [NodeProc, NodeProc, NodeProc];
    const allAlive = async (among: NodeProc[], count: number) => {
      const all = await Promise.all(among.map((n) => clusterStatus(n, 1000)));
      return all.every((s) => s.ring.nodes.length === count && s.members.every((m) => m.state === 'alive'))
        ? true
        : undefined;
    };
    await poll('all alive', () => allAlive(nodes, 3), 10_000);
    const s1 = await clusterStatus(n1);
    assert.deepEqual(
      s1.members.map((m) => m.data_addr),
      IDX.map((i) => `${SUBNET}.${i}:3000`),
      'each node advertises its own address',
    );

    const ds = keyOwnedBy('n3', IDS, 'netns_ds');
    const c1 = new FlightClient(n1.dataAddr);
    const c2 = new FlightClient(n2.dataAddr);
    await c1.doPut(pathDescriptor(ds), SCHEMA, [batch(0, 100)]); // proxied n1 → n3 over the bridge

    const cutAt = performance.now();
    ip('link', 'set', veth(3), 'down');
    // n2 never talked to n3's data port: its first forward meets the cut and the connect deadline.
    const t0 = performance.now();
    const early = await c2.doGetTable(JSON.stringify({ dataset: ds }), { timeoutMs: 10_000 }).then(
      () => undefined,
      (err: grpc.ServiceError) => err,
    );
    const earlyMs = performance.now() - t0;
    assert.ok(early, 'a read of the cut-off node’s key cannot succeed');
    assert.ok(
      (early.code === grpc.status.UNAVAILABLE && early.details.startsWith('OWNER_UNREACHABLE: owner n3')) ||
        (early.code === grpc.status.NOT_FOUND && early.details.startsWith('DATASET_NOT_FOUND')),
      `${early.code} ${early.details}`,
    );
    assert.ok(earlyMs < CONNECT_TIMEOUT_MS + 1000, `answered in ${earlyMs} ms`);

    const dead = (n: NodeProc, id: string) =>
      n.waitForLog((l) => l.msg === 'member dead' && l.member === id, 15_000, `${n.id} declares ${id} dead`);
    await Promise.all([dead(n1, 'n3'), dead(n2, 'n3'), dead(n3, 'n1'), dead(n3, 'n2')]);
    const detectedMs = performance.now() - cutAt;

    // The majority side moved the key: its new owner answers at once, clearly.
    const t1 = performance.now();
    await assert.rejects(c1.doGetTable(JSON.stringify({ dataset: ds }), { timeoutMs: 10_000 }), {
      code: grpc.status.NOT_FOUND,
    });
    assert.ok(performance.now() - t1 < 1000);

    const marks = nodes.map((n) => n.lines.length);
    const healAt = performance.now();
    ip('link', 'set', veth(3), 'up');
    await poll('healed: all alive everywhere', () => allAlive(nodes, 3), 20_000);
    const healedMs = performance.now() - healAt;
    assert.ok(
      n3.lines.slice(marks[2]).some((l) => l.msg === 'member joined'),
      'n3 saw the others come back',
    );
    const ids = await poll(
      'n3’s rows through n1 again',
      async () => {
        const t = await c1.doGetTable(JSON.stringify({ dataset: ds }), { timeoutMs: 5000 });
        return t.numRows === 100 ? t.numRows : undefined;
      },
      10_000,
    );
    assert.equal(ids, 100);
    console.log(
      `netns: first call after the cut answered in ${earlyMs.toFixed(0)} ms (${early.details.split(':')[0]}); ` +
        `dead on both sides after ${detectedMs.toFixed(0)} ms; healed in ${healedMs.toFixed(0)} ms`,
    );
    c1.close();
    c2.close();
  });
});
