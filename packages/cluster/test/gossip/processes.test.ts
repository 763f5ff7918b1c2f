/**
 * Real processes on loopback: four gossip-agent processes (the dgram adapter, nothing
 * simulated) join through a seed; one is killed with SIGKILL and the others must mark it dead
 * within the bound the configuration implies; restarted, it rejoins; SIGTERM leaves.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { resolveGossipConfig } from '../../src/gossip/config.ts';
import { Agent } from '../fixtures/agents.ts';

const overrides = {
  preset: 'local',
  bindAddr: '127.0.0.1',
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  gossipIntervalMs: 50,
  reconnectIntervalMs: 1000,
  joinRetryIntervalMs: 300,
  pushPullIntervalMs: 5000,
};
const cfg = resolveGossipConfig(overrides);
const N = 4;
// Worst case: every other member probes someone else first ((N-1) periods), the probe fails
// (one period), then the longest suspicion (no confirmations): max(1, log10 N) * mult *
// interval * maxTimeoutMult.
const detectBoundMs =
  N * cfg.probeIntervalMs +
  Math.max(1, Math.log10(N)) * cfg.suspicionMult * cfg.probeIntervalMs * cfg.suspicionMaxTimeoutMult;

describe('gossip processes on loopback', () => {
  const agents: Agent[] = [];
  after(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  });
  const spawnAgent = (id: string, port: number, seed: string | undefined) => {
    const a = new Agent(id, {
      LONGBOW_GOSSIP_PORT: String(port),
      LONGBOW_GOSSIP_STATIC_PEERS: seed ?? '',
      LONGBOW_GOSSIP_TEST_OVERRIDES: JSON.stringify(overrides),
    });
    agents.push(a);
    return a;
  };

  it('join via a seed, detect a SIGKILL within the bound, rejoin after restart, leave on SIGTERM', async (t) => {
    const seed = spawnAgent('p0', 0, undefined);
    const seedAddr = (await seed.waitFor((l) => l.event === 'ready', 10_000, 'ready')).addr!;
    // Port 0 everywhere: each agent binds a free port and reports it, so nothing can collide.
    const others = [1, 2, 3].map((i) => spawnAgent(`p${i}`, 0, seedAddr));
    const all = [seed, ...others];
    for (const a of all) {
      for (const b of all) {
        if (a !== b) await a.waitFor((l) => l.event === 'join' && l.id === b.id, 10_000, `join of ${b.id}`);
      }
    }

    const victim = others[2]!;
    const killedAt = performance.now();
    await victim.kill('SIGKILL');
    const survivors = all.filter((a) => a !== victim);
    await Promise.all(
      survivors.map((a) =>
        a.waitFor((l) => l.event === 'dead' && l.id === victim.id, detectBoundMs + 2000, 'dead'),
      ),
    );
    const detectedMs = performance.now() - killedAt;
    assert.ok(
      detectedMs <= detectBoundMs + 500,
      `all marked ${victim.id} dead after ${detectedMs} ms, bound ${detectBoundMs}`,
    );
    t.diagnostic(
      `SIGKILL detected by all survivors in ${Math.round(detectedMs)} ms (bound ${Math.round(detectBoundMs)} ms)`,
    );

    // Restarted on another port, as a rescheduled pod comes back at a new address.
    const reborn = spawnAgent(victim.id, 0, seedAddr);
    await Promise.all(
      survivors.map((a) =>
        a.waitFor(
          // A join after the death: from its new address the member is accepted even at
          // incarnation 0 (a restart at the same address would refute with a higher one).
          (l) =>
            l.event === 'join' && l.id === victim.id && a.lines.some((d) => d.event === 'dead' && d.t < l.t),
          10_000,
          'rejoin',
        ),
      ),
    );
    await reborn.waitFor((l) => l.event === 'join' && l.id === 'p0', 5000, 'reborn sees p0');

    await others[0]!.kill('SIGTERM');
    await seed.waitFor((l) => l.event === 'leave' && l.id === 'p1', 5000, 'leave of p1');
    assert.equal(
      seed.lines.filter((l) => l.event === 'dead' && l.id === 'p1').length,
      0,
      'a graceful leave is not a death',
    );
  });
});
