import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareVersions,
  decodeHlc,
  encodeHlc,
  HybridClock,
  LOGICAL_MAX,
  maxVersion,
  nodeTag,
} from '../../src/index.ts';

describe('versions', () => {
  it('encodes physical ms and the logical counter so integer order is HLC order', () => {
    const a = encodeHlc(1_000, LOGICAL_MAX);
    const b = encodeHlc(1_001, 0);
    assert.ok(a < b);
    assert.deepEqual(decodeHlc(a), { physicalMs: 1_000, logical: LOGICAL_MAX });
    assert.throws(() => encodeHlc(-1, 0), RangeError);
    assert.throws(() => encodeHlc(0, LOGICAL_MAX + 1), RangeError);
  });

  it('orders by hlc, then by node tag', () => {
    const x = { hlc: 5n, node: 9 };
    const y = { hlc: 5n, node: 10 };
    assert.equal(compareVersions(x, y), -1);
    assert.equal(compareVersions(y, x), 1);
    assert.equal(compareVersions(x, { hlc: 5n, node: 9 }), 0);
    assert.equal(compareVersions({ hlc: 6n, node: 0 }, y), 1);
    assert.equal(maxVersion(x, y), y);
  });

  it('tags node ids with FNV-1a 32, never 0', () => {
    assert.equal(nodeTag(''), 0x811c9dc5);
    assert.equal(nodeTag('a'), 0xe40c292c); // the published FNV-1a test vector
    assert.notEqual(nodeTag('n1'), nodeTag('n2'));
  });

  it('never goes backwards when the wall clock does, and counts within one millisecond', () => {
    let wall = 10_000;
    const clock = new HybridClock('n1', () => wall);
    const first = clock.now();
    assert.deepEqual(decodeHlc(first.hlc), { physicalMs: 10_000, logical: 0 });
    const second = clock.now();
    assert.deepEqual(decodeHlc(second.hlc), { physicalMs: 10_000, logical: 1 });
    wall = 9_000; // NTP stepped back
    const third = clock.now();
    assert.ok(third.hlc > second.hlc);
    wall = 20_000;
    assert.deepEqual(decodeHlc(clock.now().hlc), { physicalMs: 20_000, logical: 0 });
    assert.equal(first.node, nodeTag('n1'));
  });

  it('borrows the next millisecond when the logical counter is full', () => {
    const clock = new HybridClock('n1', () => 7);
    let v = clock.now();
    for (let i = 0; i < LOGICAL_MAX; i++) v = clock.now();
    assert.deepEqual(decodeHlc(v.hlc), { physicalMs: 7, logical: LOGICAL_MAX });
    assert.deepEqual(decodeHlc(clock.now().hlc), { physicalMs: 8, logical: 0 });
  });

  it('moves past every observed version', () => {
    const clock = new HybridClock('n1', () => 1_000);
    const remote = encodeHlc(5_000, 3);
    clock.observe(remote);
    assert.ok(clock.now().hlc > remote);
    clock.observe(encodeHlc(10, 0)); // an older one changes nothing
    assert.ok(clock.now().hlc > remote);
  });
});
