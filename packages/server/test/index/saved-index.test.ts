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
    // A loaded graph that grew is saved again, whole, and loads a second time.
    const again = await ShardedIndex.deserialize(
      pool,
      params,
      await loaded.serialize(tmp, 43n),
      43n,
      tmp,
      liveRows,
    );
    again.add(0, N, data.slice()); // every row is in the saved graphs now: all skipped
    await again.whenCaughtUp();
    assert.equal(again.stats().indexed, N);
    for (const probe of [10, 1700, 2500]) {
      const q = data.slice(probe * DIM, (probe + 1) * DIM);
      const [a] = await original.search(q, 1, 10, 200);
      const [c] = await again.search(q, 1, 10, 200);
      assert.deepEqual([...c!.labels], [...a!.labels], `probe ${probe} after a second restart`);
    }
    original.drop();
    loaded.drop();
    again.drop();
  });

  it('saves the rows a snapshot drops as dead labels and maps the graphs onto the new ordinals', async () => {
    // Row r has vector r (data row r). Before the "restart" the ordinals are the row numbers.
    const original = new ShardedIndex(pool, params, liveRows);
    original.add(0, 2200, data.slice(0, 2200 * DIM));
    await original.whenCaughtUp();
    const dropped = [0, 5, 6, 7, 999, 1000, 1500, 2199]; // tombstoned when the snapshot was captured
    original.delete(dropped);
    const blob = await original.serialize(tmp, 77n, dropped);
    // After the restart the snapshot holds the live rows only: ordinal o is row rowsAfter[o].
    const rowsAfter = Array.from({ length: 2200 }, (_, r) => r).filter((r) => !dropped.includes(r));
    rowsAfter.push(2200, 2201, 2202); // appended after the restart
    const vectorsOf = (rows: number[]) => {
      const out = new Float32Array(rows.length * DIM);
      for (const [i, r] of rows.entries()) out.set(data.subarray(r * DIM, (r + 1) * DIM), i * DIM);
      return out;
    };
    const liveAfter = (from: number, to: number) => {
      const ordinals = Array.from(
        { length: Math.max(0, Math.min(to, rowsAfter.length) - from) },
        (_, i) => from + i,
      );
      return { labels: ordinals, vectors: vectorsOf(ordinals.map((o) => rowsAfter[o]!)) };
    };
    const loaded = await ShardedIndex.deserialize(pool, params, blob, 77n, tmp, liveAfter);
    assert.equal(loaded.deadLabels, dropped.length);
    loaded.add(0, rowsAfter.length, vectorsOf(rowsAfter));
    const gone = rowsAfter.indexOf(1200); // deleted after the restart, by its new ordinal
    loaded.delete([gone]);
    await loaded.whenCaughtUp();
    assert.equal(loaded.stats().indexed, rowsAfter.length);
    for (const row of [1, 8, 998, 1001, 1200, 1501, 2198, 2201]) {
      const [hits] = await loaded.search(data.slice(row * DIM, (row + 1) * DIM), 1, 5, 200);
      const rows = [...hits!.labels].map((o) => rowsAfter[o]!);
      if (row === 1200) assert.ok(!rows.includes(1200), 'a row deleted after the restart is not found');
      else assert.equal(rows[0], row, `row ${row} finds itself through its new ordinal`);
      for (const d of dropped) assert.ok(!rows.includes(d), `dropped row ${d} returned`);
    }
    // A filter over new ordinals reaches the right rows.
    const allowed = new Uint8Array(Math.ceil(rowsAfter.length / 8));
    const wanted = [rowsAfter.indexOf(1001), rowsAfter.indexOf(2201)];
    for (const o of wanted) allowed[o >> 3]! |= 1 << (o & 7);
    const [filtered] = await loaded.search(data.slice(1001 * DIM, 1002 * DIM), 1, 5, 200, allowed);
    assert.deepEqual(
      [...filtered!.labels].sort((a, b) => a - b),
      wanted.sort((a, b) => a - b),
    );
    // Saved again with one more dropped row, the maps compose.
    const blob2 = await loaded.serialize(tmp, 78n, [gone]);
    const rowsAfter2 = rowsAfter.filter((r) => r !== 1200);
    const again = await ShardedIndex.deserialize(pool, params, blob2, 78n, tmp, (from, to) => {
      const ordinals = Array.from(
        { length: Math.max(0, Math.min(to, rowsAfter2.length) - from) },
        (_, i) => from + i,
      );
      return { labels: ordinals, vectors: vectorsOf(ordinals.map((o) => rowsAfter2[o]!)) };
    });
    assert.equal(again.deadLabels, dropped.length + 1);
    again.add(0, rowsAfter2.length, vectorsOf(rowsAfter2));
    await again.whenCaughtUp();
    for (const row of [1, 1199, 1201, 2202]) {
      const [hits] = await again.search(data.slice(row * DIM, (row + 1) * DIM), 1, 1, 200);
      assert.equal(rowsAfter2[hits!.labels[0]!], row, `row ${row} after the second restart`);
    }
    // A vacuum rebuilds a shard of the mapped index from the rows (read by ordinal, placed
    // by label) and the answers stay right.
    const vacuuming = await ShardedIndex.deserialize(
      pool,
      { ...params, vacuumRatio: 0.001, vacuumMinRows: 10 },
      blob2,
      78n,
      tmp,
      (from, to) => {
        const ordinals = Array.from(
          { length: Math.max(0, Math.min(to, rowsAfter2.length) - from) },
          (_, i) => from + i,
        ).filter((o) => rowsAfter2[o] !== 1300);
        return { labels: ordinals, vectors: vectorsOf(ordinals.map((o) => rowsAfter2[o]!)) };
      },
    );
    vacuuming.add(0, rowsAfter2.length, vectorsOf(rowsAfter2));
    vacuuming.delete([rowsAfter2.indexOf(1300)]);
    const deadline = Date.now() + 20_000;
    while (vacuuming.stats().vacuums < 1) {
      assert.ok(Date.now() < deadline, 'the vacuum did not finish');
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const row of [1001, 1299, 1301, 1501, 1999]) {
      const [hits] = await vacuuming.search(data.slice(row * DIM, (row + 1) * DIM), 1, 2, 200);
      const rows = [...hits!.labels].map((o) => rowsAfter2[o]!);
      assert.equal(rows[0], row, `row ${row} after the vacuum`);
      assert.ok(!rows.includes(1300) && !rows.includes(1500) && !rows.includes(1200));
    }
    original.drop();
    loaded.drop();
    again.drop();
    vacuuming.drop();
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
