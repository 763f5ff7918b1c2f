import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TopK } from '../../src/index/top-k.ts';

describe('TopK', () => {
  it('matches a full sort on random inputs (oracle)', () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let trial = 0; trial < 200; trial++) {
      const n = Math.floor(rand() * 300);
      const k = 1 + Math.floor(rand() * 20);
      const items = Array.from({ length: n }, (_, i) => ({ label: i, d: Math.floor(rand() * 50) }));
      const top = new TopK(k);
      for (const it of items) top.push(it.label, it.d);
      const expected = [...items].sort((a, b) => a.d - b.d || a.label - b.label).slice(0, k);
      const got = top.sorted();
      assert.deepEqual(
        got.distances,
        expected.map((e) => e.d),
      );
      assert.equal(got.labels.length, Math.min(k, n));
    }
  });
});
