/**
 * Ring quality against the ideal: load spread (coefficient of variation of keys per node)
 * for several points-per-node settings, and the fraction of keys that move when one node
 * joins N (ideal 1/(N+1)) or one of N leaves (ideal 1/N). Usage: node bench/ring.bench.ts
 */
import { RingManager } from '../src/ring/ring-manager.ts';
import { loadCv, movedFraction, ownersOf } from '../src/ring/ring-metrics.ts';

const keys = Array.from({ length: 1_000_000 }, (_, i) => `dataset-${i}/part-${i % 97}`);
const names = (n: number) => Array.from({ length: n }, (_, i) => `longbow-${i}`);

// Counting sampled keys adds noise of its own: cv of a fair split is about sqrt((N - 1) / keys).
console.log(`${keys.length} keys`);
console.log(
  '| N | points/node | load cv (sampling floor) | join: moved vs 1/(N+1) | leave: moved vs 1/N | rebuild ms |',
);
console.log('|---|---|---|---|---|---|');
for (const n of [3, 5, 10, 20, 50, 100]) {
  for (const points of [160, 640]) {
    const ring = new RingManager({ pointsPerNode: points });
    ring.replace(names(n));
    const owner = (k: string) => ring.owner(k);
    const cv = loadCv(owner, ring.nodes(), keys);
    const before = ownersOf(owner, keys);
    const t0 = performance.now();
    ring.replace(names(n + 1));
    const rebuildMs = performance.now() - t0;
    const joinMoved = movedFraction(before, owner);
    ring.replace(names(n));
    const base = ownersOf(owner, keys);
    ring.replace(names(n).filter((x) => x !== 'longbow-1'));
    const leaveMoved = movedFraction(base, owner);
    console.log(
      `| ${n} | ${points} | ${(cv * 100).toFixed(1)}% (${(100 * Math.sqrt((n - 1) / keys.length)).toFixed(1)}%) | ${(joinMoved * 100).toFixed(2)}% vs ${(100 / (n + 1)).toFixed(2)}% | ${(leaveMoved * 100).toFixed(2)}% vs ${(100 / n).toFixed(2)}% | ${rebuildMs.toFixed(1)} |`,
    );
  }
}
