import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IndexPool } from '../../src/index/index-pool.ts';
import { internalDistance } from '../../src/index/metric.ts';
import { noStrategies, SEARCH_STRATEGIES, type SearchStrategy } from '../../src/index/protocol.ts';
import { ShardedIndex } from '../../src/index/sharded-index.ts';

const pool = new IndexPool(2);
after(() => pool.close());
const DIM = 8;
const N = 3500;
let seed = 99;
const data = Float32Array.from({ length: N * DIM }, () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
});
const alive = new Set(Array.from({ length: N }, (_, i) => i));

function liveRows(from: number, to: number) {
  const labels = [...alive].filter((l) => l >= from && l < to).sort((a, b) => a - b);
  const vectors = new Float32Array(labels.length * DIM);
  labels.forEach((l, i) => {
    vectors.set(data.subarray(l * DIM, (l + 1) * DIM), i * DIM);
  });
  return { labels, vectors };
}

function exact(q: Float32Array, k: number): number[] {
  const d = internalDistance('l2');
  return [...alive]
    .map((i) => ({ i, d: d(q, data, i * DIM) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, k)
    .map((x) => x.i);
}

/** 3.5 shards of 1,000 rows; vacuum off unless a test turns it on. */
const PARAMS = {
  metric: 'l2',
  dim: DIM,
  m: 16,
  efConstruction: 100,
  shardRows: 1000,
  vacuumRatio: 1,
  vacuumMinRows: 500,
} as const;

describe('ShardedIndex', () => {
  it('splits rows into range shards and merges their top-k exactly; vacuums a shard past the ratio', async () => {
    const events: string[] = [];
    const idx = new ShardedIndex(pool, { ...PARAMS, vacuumRatio: 0.4 }, liveRows, (shard, phase) =>
      events.push(`${shard}:${phase}`),
    );
    idx.add(0, 1500, data.slice(0, 1500 * DIM));
    idx.add(1500, 2000, data.slice(1500 * DIM));
    // Regression: a shard's queue depth counted the labels below its range as queued.
    const queued = idx.stats().queueDepth;
    assert.ok(queued > 0 && queued <= N, `queue depth ${queued} of ${N} rows`);
    // …and while indexing: a shard the worker has not reached yet reports 0 indexed, which
    // must not count the labels below the shard's range as queued.
    let deepest = 0;
    const sampler = setInterval(() => {
      deepest = Math.max(deepest, idx.stats().queueDepth);
    }, 1);
    await idx.whenCaughtUp();
    clearInterval(sampler);
    assert.ok(deepest <= N, `queue depth reached ${deepest} with ${N} rows`);
    assert.equal(idx.stats().queueDepth, 0);
    assert.equal(idx.stats().shards, 4);
    assert.equal(idx.stats().indexed, N);
    for (const probe of [5, 1999, 3400]) {
      const q = data.slice(probe * DIM, (probe + 1) * DIM);
      const [hits] = await idx.search(q, 1, 10, 400);
      assert.deepEqual([...hits!.labels], exact(q, 10));
    }
    const gone = Array.from({ length: 500 }, (_, i) => 1000 + i); // half of shard 1
    for (const g of gone) alive.delete(g);
    idx.delete(gone);
    const deadline = Date.now() + 20_000;
    while (idx.stats().vacuums < 1) {
      assert.ok(Date.now() < deadline, 'vacuum did not finish');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(events, ['1:start', '1:done']);
    const q = data.slice(1200 * DIM, 1201 * DIM);
    const [hits] = await idx.search(q, 1, 10, 400);
    assert.deepEqual([...hits!.labels], exact(q, 10));
    assert.ok([...hits!.labels].every((l) => alive.has(l)));
    idx.drop();
  });

  it('filters: post-filters for broad filters, falls back to the traversal when too few pass, traverses narrow ones', async () => {
    const idx = new ShardedIndex(pool, PARAMS, liveRows);
    idx.add(0, N, data.slice());
    await idx.whenCaughtUp();
    const d = internalDistance('l2');
    const q = data.slice(7 * DIM, 8 * DIM);
    const bitmapOf = (rows: number[]) => {
      const bits = new Uint8Array(Math.ceil(N / 8));
      for (const r of rows) bits[r >> 3]! |= 1 << (r & 7);
      return bits;
    };
    const nearestAmong = (rows: number[], k: number) =>
      [...rows].sort((a, b) => d(q, data, a * DIM) - d(q, data, b * DIM)).slice(0, k);
    const byDistance = [...alive].sort((a, b) => d(q, data, a * DIM) - d(q, data, b * DIM));
    // Each case names the strategy every one of the 4 shards must answer with; the hits
    // alone cannot tell them apart (the traversal finds the same rows, more slowly).
    const cases: [string, number[], Exclude<SearchStrategy, 'unfiltered' | 'exact'>][] = [
      // Every 5th row: 20%, post-filtered from an over-fetched unfiltered search.
      ['broad', byDistance.filter((r) => r % 5 === 0), 'postFilter'],
      // The 10% farthest from the query: the over-fetched nearest candidates hold none of
      // them, so the traversal answers instead.
      ['far', byDistance.slice(-Math.floor(N / 10)), 'fallback'],
      // 2%: filtered inside the traversal from the start.
      ['narrow', byDistance.filter((r) => r % 50 === 3), 'traversalFilter'],
    ];
    const shards = idx.stats().shards;
    assert.equal(shards, 4);
    for (const [name, rows, strategy] of cases) {
      const before = idx.stats().strategies;
      const [hits] = await idx.search(q, 1, 10, 200, bitmapOf(rows), rows.length / N);
      const moved = idx.stats().strategies;
      for (const s of SEARCH_STRATEGIES) moved[s] -= before[s];
      assert.deepEqual(moved, { ...noStrategies(), [strategy]: shards }, `${name}: answered by ${strategy}`);
      const got = [...hits!.labels];
      assert.ok(
        got.every((l) => rows.includes(l)),
        `${name}: only allowed rows`,
      );
      const want = nearestAmong(rows, 10);
      const found = got.filter((l) => want.includes(l)).length;
      assert.ok(found >= 9, `${name}: ${found}/10 of the exact filtered top 10`);
    }
    await idx.search(data.slice(7 * DIM, 9 * DIM), 2, 10, 200);
    assert.equal(idx.stats().strategies.unfiltered, 2 * shards, 'unfiltered: one per query per shard');
    idx.drop();
  });
});
