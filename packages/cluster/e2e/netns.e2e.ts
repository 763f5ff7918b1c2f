/**
 * Gossip across network namespaces: three agents, each in its own namespace with its own
 * address on a bridge (10.231.7.0/24), so nothing is shared but the wire. One namespace's
 * link is cut: both sides must declare the other dead (a detected partition); the link comes
 * back: every member must see every other alive again (a healed partition). Needs root and
 * `ip`; creates and deletes its own namespaces and bridge. Run: npm run e2e -w packages/cluster
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../test/fixtures/agents.ts';

const BRIDGE = 'lbg-br0';
const SUBNET = '10.231.7';
const IDS = [1, 2, 3];
const ns = (i: number) => `lbg-ns${i}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const overrides = {
  preset: 'local',
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  gossipIntervalMs: 50,
  reconnectIntervalMs: 1000,
  joinRetryIntervalMs: 300,
  pushPullIntervalMs: 5000,
};

function teardown(): void {
  for (const i of IDS) {
    // Delete the root-side veth too: a namespace is freed asynchronously, and until then its
    // peer lingers and the next run's `ip link add` fails with "File exists".
    try {
      ip('link', 'del', `lbg-veth${i}`);
    } catch {}
    try {
      ip('netns', 'del', ns(i));
    } catch {}
  }
  try {
    ip('link', 'del', BRIDGE);
  } catch {}
}

describe('gossip across network namespaces', () => {
  const agents: Agent[] = [];
  before(() => {
    teardown();
    ip('link', 'add', BRIDGE, 'type', 'bridge');
    ip('link', 'set', BRIDGE, 'up');
    for (const i of IDS) {
      ip('netns', 'add', ns(i));
      ip('link', 'add', `lbg-veth${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(i));
      ip('link', 'set', `lbg-veth${i}`, 'master', BRIDGE, 'up');
      ip('-n', ns(i), 'addr', 'add', `${SUBNET}.${i}/24`, 'dev', 'eth0');
      ip('-n', ns(i), 'link', 'set', 'eth0', 'up');
      ip('-n', ns(i), 'link', 'set', 'lo', 'up');
    }
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    teardown();
  });

  it('detects a cut-off member as dead on both sides, then heals when the link returns', async () => {
    for (const i of IDS) {
      agents.push(
        new Agent(
          `m${i}`,
          {
            LONGBOW_GOSSIP_BIND_ADDR: `${SUBNET}.${i}`,
            LONGBOW_GOSSIP_STATIC_PEERS: `${SUBNET}.1:7946`,
            LONGBOW_GOSSIP_TEST_OVERRIDES: JSON.stringify(overrides),
          },
          ['ip', 'netns', 'exec', ns(i)],
        ),
      );
    }
    const [m1, m2, m3] = agents as [Agent, Agent, Agent];
    for (const a of agents) {
      const ready = await a.waitFor((l) => l.event === 'ready', 10_000, 'ready');
      assert.equal(ready.addr, `${SUBNET}.${a.id.slice(1)}:7946`);
    }
    for (const a of agents) {
      for (const b of agents) {
        if (a !== b) await a.waitFor((l) => l.event === 'join' && l.id === b.id, 10_000, `join of ${b.id}`);
      }
    }

    const cutAt = performance.now();
    ip('link', 'set', 'lbg-veth3', 'down');
    await Promise.all([
      m1.waitFor((l) => l.event === 'dead' && l.id === 'm3', 15_000, 'm1 declares m3 dead'),
      m2.waitFor((l) => l.event === 'dead' && l.id === 'm3', 15_000, 'm2 declares m3 dead'),
      m3.waitFor((l) => l.event === 'dead' && l.id === 'm1', 15_000, 'm3 declares m1 dead'),
      m3.waitFor((l) => l.event === 'dead' && l.id === 'm2', 15_000, 'm3 declares m2 dead'),
    ]);
    const detectedMs = Math.round(performance.now() - cutAt);

    const marks = new Map(agents.map((a) => [a, a.lines.length]));
    const healAt = performance.now();
    ip('link', 'set', 'lbg-veth3', 'up');
    const rejoined = (a: Agent, id: string) =>
      a.waitFor(
        (l) => a.lines.indexOf(l) >= marks.get(a)! && l.event === 'join' && l.id === id,
        20_000,
        `${a.id} sees ${id} back`,
      );
    await Promise.all([rejoined(m1, 'm3'), rejoined(m2, 'm3'), rejoined(m3, 'm1'), rejoined(m3, 'm2')]);
    const healedMs = Math.round(performance.now() - healAt);
    console.log(`partition detected on both sides in ${detectedMs} ms, healed in ${healedMs} ms`);
  });
});
