/**
 * Gossip figures from the deterministic simulation, LAN preset, for N = 5, 50, 500 (or the
 * sizes given as arguments): time for a join to reach every member, time until a crashed
 * member is declared dead by the first and by every member, members wrongly declared dead
 * under 5% packet loss and beside one slow member (with and without Lifeguard), and packets
 * and messages per node per second in steady state. Virtual time; runs in seconds to a few
 * minutes (N = 500). Usage: node bench/gossip-sim.bench.ts [sizes...] [--seed=N]
 */
import { resolveGossipConfig } from '../src/gossip/config.ts';
import { suspicionMinTimeoutMs } from '../src/gossip/suspicion.ts';
import {
  bootCluster,
  type FalsePositiveResult,
  measureCost,
  measureDetection,
  measureFalsePositives,
  measureJoin,
  nodeId,
  withoutLifeguard,
} from '../src/sim/scenarios.ts';

const args = process.argv.slice(2);
const seed = Number(args.find((a) => a.startsWith('--seed='))?.slice(7) ?? 1);
const sizes = args.filter((a) => !a.startsWith('--')).map(Number);
const lan = resolveGossipConfig();
const network = { delayMs: 1, jitterMs: 2 };
const FP_DURATION_MS = 120_000;
// A slow member delays what it receives by 2 s, and by 1.5x the minimum suspicion timeout
// (long enough that plain SWIM's fixed timeout expires before a refutation gets through).
const slowDelaysMs = (size: number) => [
  2000,
  Math.round(1.5 * suspicionMinTimeoutMs(lan.suspicionMult, size, lan.probeIntervalMs)),
];

function boot(size: number, lifeguard: boolean, s: number) {
  const config = lifeguard ? lan : withoutLifeguard(lan);
  const { sim, convergedMs } = bootCluster({ size, config, seed: s, network, wire: false });
  sim.runFor(60_000); // let the join storm's broadcasts drain
  return { sim, convergedMs };
}

const fp = (r: FalsePositiveResult) =>
  `${r.healthyDeclaredDead} healthy dead / ${r.membersDeclaredDead} any dead / ${r.suspicionCount} suspicions`;

const rows: string[][] = [];
for (const size of sizes.length > 0 ? sizes : [5, 50, 500]) {
  const t0 = performance.now();
  const { sim, convergedMs } = boot(size, true, seed);
  const cost = measureCost(sim, 30_000);
  const joins = [0, 1, 2].map((i) => measureJoin(sim, `joiner${i}`, nodeId(i, size)));
  const detections = [1, 2, 3].map((i) => {
    const r = measureDetection(sim, nodeId(i, size));
    sim.runFor(30_000);
    return r;
  });
  const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
  const lossRuns = [true, false].map((lifeguard) => {
    const { sim: s } = boot(size, lifeguard, seed + 1);
    s.setNetwork({ lossRate: 0.05 });
    return measureFalsePositives(s, FP_DURATION_MS);
  });
  const slowRuns = slowDelaysMs(size).map((delayMs) =>
    [true, false].map((lifeguard) => {
      const { sim: s } = boot(size, lifeguard, seed + 2);
      const slow = nodeId(1, size);
      s.setSlow(slow, delayMs);
      return measureFalsePositives(s, FP_DURATION_MS, slow);
    }),
  );
  rows.push([
    String(size),
    String(convergedMs),
    `${mean(joins)} (max ${Math.max(...joins)})`,
    `${mean(detections.map((d) => d.firstMs))} / ${mean(detections.map((d) => d.allMs))}`,
    `${fp(lossRuns[0]!)} vs ${fp(lossRuns[1]!)}`,
    ...slowRuns.map(([on, off], i) => `+${slowDelaysMs(size)[i]} ms: ${fp(on!)} vs ${fp(off!)}`),
    `${cost.packetsPerNodePerSecond.toFixed(2)} / ${cost.messagesPerNodePerSecond.toFixed(2)}`,
    `${((performance.now() - t0) / 1000).toFixed(1)}`,
  ]);
  console.error(`N=${size} done`);
}

const header = [
  'N',
  'boot converged ms',
  'join reaches all ms',
  'dead: first / all ms',
  `5% loss, ${FP_DURATION_MS / 1000}s: Lifeguard vs SWIM`,
  `slow node +2 s, ${FP_DURATION_MS / 1000}s: Lifeguard vs SWIM`,
  `slow node +1.5 x min suspicion, ${FP_DURATION_MS / 1000}s: Lifeguard vs SWIM`,
  'packets / msgs per node/s',
  'wall s',
];
console.log(`seed ${seed}, LAN preset, one-way delay 1-3 ms`);
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
