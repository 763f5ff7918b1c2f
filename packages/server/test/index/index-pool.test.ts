import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IndexPool } from '../../src/index/index-pool.ts';
import { internalDistance } from '../../src/index/metric.ts';

const pool = new IndexPool(1);
after(() => pool.close());

const DIM = 8;
function vectors(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n * DIM }, () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff - 0.5;
  });
}

function exactTop(data: Float32Array, q: Float32Array, k: number, skip: Set<number> = new Set()): number[] {
  const dist = internalDistance('l2');
  const n = data.length / DIM;
  return Array.from({ length: n }, (_, i) => i)
    .filter((i) => !skip.has(i))
    .map((i) => ({ i, d: dist(q, data, i * DIM) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, k)
    .map((x) => x.i);
}

describe('IndexPool', () => {
  it('finds exact neighbours both before and after the graph absorbs the rows', async () => {
    const data = vectors(500, 1);
    const idx = pool.create({ metric: 'l2', dim: DIM, m: 16, efConstruction: 100 }, () => {});
    idx.add(0, 500, data.slice());
    const q = data.slice(10 * DIM, 11 * DIM);
    const [early] = (await idx.search(q, 1, 5, 200)).hits; // posted right after the add: queue scanned exactly
    assert.deepEqual([...early!.labels], exactTop(data, q, 5));
    await idx.whenCaughtUp();
    assert.equal(idx.queueDepth, 0);
    const [late] = (await idx.search(q, 1, 5, 200)).hits;
    assert.deepEqual([...late!.labels], exactTop(data, q, 5));
  });

  it('never returns deleted labels, queued or indexed, and honours the allowed bitmap', async () => {
    const data = vectors(300, 2);
    const idx = pool.create({ metric: 'l2', dim: DIM, m: 16, efConstruction: 100 }, () => {});
    idx.add(0, 200, data.slice(0, 200 * DIM));
    await idx.whenCaughtUp();
    idx.add(200, 100, data.slice(200 * DIM));
    const deleted = new Set([0, 1, 2, 3, 4, 150, 250, 251]);
    idx.delete([...deleted]);
    for (const probe of [0, 150, 250]) {
      const q = data.slice(probe * DIM, (probe + 1) * DIM);
      const [hits] = (await idx.search(q, 1, 10, 300)).hits;
      const labels = [...hits!.labels];
      assert.ok(
        labels.every((l) => !deleted.has(l)),
        `deleted label returned for probe ${probe}: ${labels}`,
      );
      assert.deepEqual(labels, exactTop(data, q, 10, deleted));
    }
    await idx.whenCaughtUp();
    // 0-4 and 150 were in the graph when deleted; 250/251 are graph tombstones only if the
    // worker absorbed them before the delete arrived (otherwise they were skipped).
    assert.ok(idx.tombstones >= 6 && idx.tombstones <= 8, `tombstones ${idx.tombstones}`);
    const allowed = new Uint8Array(Math.ceil(300 / 8));
    for (let i = 0; i < 300; i += 3) allowed[i >> 3]! |= 1 << (i & 7);
    const q = data.slice(7 * DIM, 8 * DIM);
    const [filtered] = (await idx.search(q, 1, 10, 300, allowed)).hits;
    assert.equal(filtered!.labels.length, 10);
    assert.ok([...filtered!.labels].every((l) => l % 3 === 0 && !deleted.has(l)));
  });

  it('replaces a worker that dies, reports the restart, and tells the lost index', async () => {
    let restarts = 0;
    let lost = 0;
    const own = new IndexPool(
      1,
      () => {},
      () => restarts++,
    );
    try {
      const data = vectors(50, 3);
      const idx = own.create({ metric: 'l2', dim: DIM, m: 16, efConstruction: 100 }, () => lost++);
      idx.add(0, 50, data.slice());
      await idx.whenCaughtUp();
      const slots = (own as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
      await slots[0]!.worker.terminate();
      for (let i = 0; i < 200 && restarts === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(restarts, 1);
      assert.equal(lost, 1);
      const fresh = own.create({ metric: 'l2', dim: DIM, m: 16, efConstruction: 100 }, () => {});
      fresh.add(0, 50, data.slice());
      const [hits] = (await fresh.search(data.slice(0, DIM), 1, 1, 50)).hits;
      assert.deepEqual([...hits!.labels], [0]);
    } finally {
      await own.close();
    }
  });
});
