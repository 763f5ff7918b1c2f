import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabelMap } from '../../src/index/label-map.ts';

/** The maps by brute force: live labels in order are the ordinals. */
function reference(dead: number[], labels: number) {
  const live = Array.from({ length: labels }, (_, l) => l).filter((l) => !dead.includes(l));
  return { live, ordinalOf: (l: number) => live.indexOf(l) };
}

describe('LabelMap', () => {
  it('is the identity without dead labels', () => {
    const m = new LabelMap();
    assert.equal(m.identity, true);
    assert.deepEqual([m.labelOf(7), m.ordinalOf(7), m.ordinalCeil(7)], [7, 7, 7]);
    const bits = Uint8Array.of(0b101);
    assert.equal(m.labelBitmap(bits), bits);
  });

  it('maps labels and ordinals both ways around dead labels, at the ends and in runs', () => {
    const dead = [0, 3, 4, 5, 9, 12];
    const m = new LabelMap(Uint32Array.from(dead));
    const ref = reference(dead, 30);
    for (let l = 0; l < 30; l++) assert.equal(m.ordinalOf(l), ref.ordinalOf(l), `ordinalOf(${l})`);
    for (const [o, l] of ref.live.entries()) assert.equal(m.labelOf(o), l, `labelOf(${o})`);
    // ordinalCeil: the first ordinal at or past a label.
    assert.deepEqual(
      [0, 1, 3, 6, 9, 10, 13].map((l) => m.ordinalCeil(l)),
      [0, 0, 2, 2, 5, 5, 7],
    );
    assert.deepEqual([m.nextDeadAfter(1), m.nextDeadAfter(5), m.nextDeadAfter(12)], [3, 9, Infinity]);
  });

  it('adds the labels of dropped ordinals, merged and deduplicated', () => {
    const m = new LabelMap(Uint32Array.of(2, 6));
    // Ordinals 2 and 4 are labels 3 and 5 here; ordinal 0 is label 0.
    const next = m.withDeadOrdinals([4, 0, 2]);
    assert.deepEqual([...next.dead], [0, 2, 3, 5, 6]);
    assert.equal(m.withDeadOrdinals([]), m);
    assert.throws(() => new LabelMap(Uint32Array.of(3, 3)), /strictly increasing/);
  });

  it('turns a bitmap over ordinals into one over labels', () => {
    const dead = [1, 2, 7];
    const m = new LabelMap(Uint32Array.from(dead));
    const allowedOrdinals = [0, 1, 4, 5, 9];
    const bits = new Uint8Array(2);
    for (const o of allowedOrdinals) bits[o >> 3]! |= 1 << (o & 7);
    const out = m.labelBitmap(bits);
    const set: number[] = [];
    for (let l = 0; l < out.length * 8; l++) if (out[l >> 3]! & (1 << (l & 7))) set.push(l);
    assert.deepEqual(
      set,
      allowedOrdinals.map((o) => m.labelOf(o)),
    );
    assert.deepEqual(set, [0, 3, 6, 8, 12]);
  });
});
