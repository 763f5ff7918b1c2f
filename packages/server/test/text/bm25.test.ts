import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fuseRrf } from '../../src/api/search.ts';
import { Bm25Index, tokenize } from '../../src/text/bm25.ts';

describe('BM25', () => {
  it('tokenizes to lowercase letter and digit runs (Unicode)', () => {
    assert.deepEqual(tokenize('Dielectric-Constant of H2O, über 3.5GHz!'), [
      'dielectric',
      'constant',
      'of',
      'h2o',
      'über',
      '3',
      '5ghz',
    ]);
  });

  it('scores like the textbook formula (oracle on a small corpus)', () => {
    const docs = ['the cat sat on the mat', 'the dog sat', 'cats and dogs', 'a cat a cat a cat', ''];
    const idx = new Bm25Index();
    for (const [i, d] of docs.entries()) idx.add(i, d);
    const toks = docs.map(tokenize);
    const avgdl = toks.reduce((n, t) => n + t.length, 0) / docs.length;
    const oracle = (q: string) =>
      toks.map((t) =>
        [...new Set(tokenize(q))].reduce((sum, term) => {
          const df = toks.filter((d) => d.includes(term)).length;
          const tf = t.filter((x) => x === term).length;
          if (df === 0 || tf === 0) return sum;
          const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
          return sum + (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * t.length) / avgdl));
        }, 0),
      );
    for (const q of ['cat', 'the cat sat', 'dog dog', 'zebra']) {
      const expected = oracle(q);
      const res = idx.search(q, 10, () => true);
      const want = expected
        .map((s, i) => ({ i, s }))
        .filter((x) => x.s > 0)
        .sort((a, b) => b.s - a.s);
      assert.deepEqual(
        res.ordinals,
        want.map((x) => x.i),
        q,
      );
      for (const [j, s] of res.scores.entries()) assert.ok(Math.abs(s - want[j]!.s) < 1e-9);
    }
    assert.deepEqual(idx.search('cat', 10, (o) => o !== 3).ordinals, [0]);
  });
});

describe('weighted RRF', () => {
  it('alpha 1 keeps the vector order, 0 the text order, and 0.5 rewards agreement', () => {
    const vec = [1, 2, 3];
    const text = [3, 1, 4];
    assert.deepEqual(fuseRrf(vec, text, 1, 10).ordinals, [1, 2, 3]);
    assert.deepEqual(fuseRrf(vec, text, 0, 10).ordinals, [3, 1, 4]);
    const mid = fuseRrf(vec, text, 0.5, 2);
    assert.deepEqual(mid.ordinals, [1, 3]);
    assert.ok(Math.abs(mid.scores[0]! - (0.5 / 61 + 0.5 / 62)) < 1e-12);
  });
});
