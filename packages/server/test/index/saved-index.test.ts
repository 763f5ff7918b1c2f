import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { IndexPool } from '../../src/index/index-pool.ts';
import { SavedIndexError } from '../../src/index/saved-index.ts';
import { ShardedIndex, type ShardedIndexParams } from '../../src/index/sharded-index.ts';

const pool = new IndexPool(2);
after(() => pool.close());
const DIM = 6;
const N = 2600;
let seed = 7;
const data = Float32Array.from({ length: N * DIM }, () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
});
const params: ShardedIndexParams = {
  metric: 'cosine',
  dim: DIM,
  m: 12,
  efConstruction: 80,
  shardRows: 1000,
  vacuumRatio: 1,
  vacuumMinRows: 1000,
};
const liveRows = (from: number, to: number) => {
  const labels = Array.from({ length: Math.max(0, Math.min(to, N) - from) }, (_, i) => from + i);
  return { labels, vectors: data.slice(from * DIM, (from + labels.length) * DIM) };
};
const tmp = path.join(os.tmpdir(), `longbow-saved-${process.pid}`);

describe('saved index', () => {
  it('round-trips every shard and answers the same searches; later rows are added, earlier ones skipped', async () => {
    const original = new ShardedIndex(pool, params, liveRows);
    original.add(0, 1500, data.slice(0, 1500 * DIM)); // shard 1 half full when saved
    await original.whenCaughtUp();
    original.delete([3, 1200]);
    const blob = await original.serialize(tmp, 42n);
    const loaded = await ShardedIndex.deserialize(pool, params, blob, 42n, tmp, liveRows);
    assert.equal(loaded.stats().shards, 2);
    // Replay after a restart re-adds every row: the loaded graphs keep theirs; rows they did
    // not hold (shard 1's second half, shard 2) are indexed beside them.
    loaded.add(0, N, data.slice());
    original.add(1500, N - 1500, data.slice(1500 * DIM));
    loaded.delete([3, 1200, 1500]);
    original.delete([1500]);
    await Promise.all([original.whenCaughtUp(), loaded.whenCaughtUp()]);
    assert.equal(loaded.stats().indexed, N);
    for (const probe of [3, 10, 1200, 1500, 1700, 1999, 2500]) {
      const q = data.slice(probe * DIM, (probe + 1) * DIM);
      const [a] = await original.search(q, 1, 10, 200);
      const [b] = await loaded.search(q, 1, 10, 200);
      assert.deepEqual([...b!.labels], [...a!.labels], `probe ${probe}`);
      assert.ok(![3, 1200, 1500].some((l) => [...b!.labels].includes(l)));
    }
    await assert.rejects(loaded.serialize(tmp, 43n), /has grown since/);
    original.drop();
    loaded.drop();
  });

  it('loads graphs saved before indexing caught up, empty ones included, and completes them', async () => {
    const idx = new ShardedIndex(pool, params, liveRows);
    idx.add(0, N, data.slice());
    const blob = await idx.serialize(tmp, 5n); // right away: shards partly built or empty
    idx.drop();
    const loaded = await ShardedIndex.deserialize(pool, params, blob, 5n, tmp, liveRows);
    loaded.add(0, N, data.slice());
    await loaded.whenCaughtUp();
    assert.equal(loaded.stats().indexed, N);
    for (const probe of [0, 999, 1000, 2599]) {
      const [hits] = await loaded.search(data.slice(probe * DIM, (probe + 1) * DIM), 1, 1, 200);
      assert.equal(hits!.labels[0], probe);
    }
    loaded.drop();
  });

  it('refuses a damaged container or one for other settings or another snapshot', async () => {
    const idx = new ShardedIndex(pool, params, liveRows);
    idx.add(0, 500, data.slice(0, 500 * DIM));
    await idx.whenCaughtUp();
    const blob = await idx.serialize(tmp, 9n);
    const damaged = Buffer.from(blob);
    damaged[damaged.length - 100]! ^= 0xff;
    await assert.rejects(ShardedIndex.deserialize(pool, params, damaged, 9n, tmp, liveRows), /checksum/);
    await assert.rejects(
      ShardedIndex.deserialize(pool, { ...params, m: 16 }, blob, 9n, tmp, liveRows),
      (e: unknown) => e instanceof SavedIndexError && /m=12/.test((e as Error).message),
    );
    await assert.rejects(ShardedIndex.deserialize(pool, params, blob, 10n, tmp, liveRows), /LSN 9/);
    await assert.rejects(
      ShardedIndex.deserialize(pool, params, Buffer.from('nope'), 9n, tmp, liveRows),
      /bad magic/,
    );
    idx.drop();
  });
});
