/**
 * CI-sized runs of the measured scenarios (bench/gossip-sim.bench.ts runs N = 500). Seeded,
 * so each figure is exact for this code; the assertions are the protocol's promises.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveGossipConfig } from '../../src/gossip/config.ts';
import { suspicionMinTimeoutMs } from '../../src/gossip/suspicion.ts';
import {
  bootCluster,
  measureCost,
  measureDetection,
  measureFalsePositives,
  measureJoin,
  nodeId,
  withoutLifeguard,
} from '../../src/sim/scenarios.ts';

const lan = resolveGossipConfig();

describe('gossip simulation scenarios (LAN preset)', () => {
  for (const size of [5, 50]) {
    it(`N=${size}: boots, spreads a join, detects a crash within the bound, costs ~2 packets/node/s`, (t) => {
      const { sim, convergedMs } = bootCluster({ size, config: lan, seed: 1, wire: size === 5 });
      assert.ok(convergedMs >= 0, 'every node sees every other alive');
      sim.runFor(30_000);
      const joinMs = measureJoin(sim, 'joiner', nodeId(0, size));
      // A few gossip rounds per log(N) infection generation.
      assert.ok(
        joinMs >= 0 && joinMs < 10 * lan.gossipIntervalMs * Math.log10(size + 1) + 500,
        `join ${joinMs}`,
      );
      const victim = nodeId(2, size);
      const { firstMs, allMs } = measureDetection(sim, victim);
      // First probe of the victim, the failed probe period, then at most the longest suspicion.
      const maxSuspicionMs =
        suspicionMinTimeoutMs(lan.suspicionMult, size + 1, lan.probeIntervalMs) * lan.suspicionMaxTimeoutMult;
      assert.ok(firstMs > 0 && allMs >= firstMs, `first ${firstMs} all ${allMs}`);
      assert.ok(allMs <= 5 * lan.probeIntervalMs + maxSuspicionMs, `all ${allMs}`);
      sim.runFor(60_000);
      const cost = measureCost(sim, 30_000);
      assert.ok(cost.packetsPerNodePerSecond > 1.5 && cost.packetsPerNodePerSecond < 4, JSON.stringify(cost));
      t.diagnostic(`join ${joinMs} ms, dead first ${firstMs} all ${allMs} ms, ${JSON.stringify(cost)}`);
    });
  }

  it('N=20, 5% packet loss for 2 minutes: nobody is declared dead', () => {
    const { sim } = bootCluster({ size: 20, config: lan, seed: 3 });
    sim.setNetwork({ lossRate: 0.05 });
    const r = measureFalsePositives(sim, 120_000);
    assert.equal(r.membersDeclaredDead, 0, JSON.stringify(r));
  });

  it('N=20, one member 8 s slow: Lifeguard keeps healthy members alive, plain SWIM does not', (t) => {
    const run = (config: typeof lan) => {
      const { sim } = bootCluster({ size: 20, config, seed: 4 });
      sim.runFor(10_000);
      const slow = nodeId(1, 20);
      sim.setSlow(slow, 8000);
      return measureFalsePositives(sim, 60_000, slow);
    };
    const lifeguard = run(lan);
    const swim = run(withoutLifeguard(lan));
    t.diagnostic(`Lifeguard ${JSON.stringify(lifeguard)}; SWIM ${JSON.stringify(swim)}`);
    assert.equal(lifeguard.healthyDeclaredDead, 0);
    assert.ok(
      swim.healthyDeclaredDead >= 5,
      `SWIM declared ${swim.healthyDeclaredDead} healthy members dead`,
    );
    assert.ok(lifeguard.suspicionCount < swim.suspicionCount);
  });
});
