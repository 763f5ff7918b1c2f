import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Member, MemberEventType } from '../../src/gossip/member.ts';
import { RingManager } from '../../src/ring/ring-manager.ts';
import { loadCv, movedFraction, ownersOf } from '../../src/ring/ring-metrics.ts';

/** Naive ketama oracle: every point in a flat array, linear scan for the first point >= hash. */
function naiveOwner(nodes: readonly string[], pointsPerNode: number, key: string): string {
  const points: { value: number; node: string }[] = [];
  const word = (d: Buffer, j: number) =>
    ((d[3 + j * 4]! << 24) | (d[2 + j * 4]! << 16) | (d[1 + j * 4]! << 8) | d[j * 4]!) >>> 0;
  for (const node of nodes) {
    for (let i = 0; i < pointsPerNode / 4; i++) {
      const d = createHash('md5').update(`${node}-${i}`).digest();
      for (let j = 0; j < 4; j++) points.push({ value: word(d, j), node });
    }
  }
  const h = word(createHash('md5').update(key).digest(), 0);
  let best: { value: number; node: string } | undefined;
  let lowest = points[0]!;
  for (const p of points) {
    if (p.value < lowest.value) lowest = p;
    if (p.value >= h && (!best || p.value < best.value)) best = p;
  }
  return (best ?? lowest).node;
}

const keys = Array.from({ length: 20_000 }, (_, i) => `dataset-${i}`);
const member = (id: string, state: Member['state']): Member => ({
  id,
  addr: `${id}:7946`,
  state,
  incarnation: 0,
  meta: { nodeId: id, dataAddr: `${id}:3000`, metaAddr: `${id}:3001`, version: 't' },
  stateChangeMs: 0,
});

describe('ring manager', () => {
  it('agrees with a naive ketama oracle on every key', () => {
    const nodes = ['longbow-0', 'longbow-1', 'longbow-2', 'longbow-3', 'longbow-4', 'longbow-5', 'longbow-6'];
    const ring = new RingManager({ pointsPerNode: 160 });
    ring.replace(nodes);
    for (const k of keys.slice(0, 2000)) assert.equal(ring.owner(k), naiveOwner(nodes, 160, k), k);
  });

  it('gives every node exactly pointsPerNode points, for N where hashring would round down', () => {
    const ring = new RingManager({ pointsPerNode: 640 });
    ring.replace(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    const cv = loadCv((k) => ring.owner(k), ring.nodes(), keys);
    assert.ok(cv < 0.1, `cv ${cv}`);
    // Oracle with exactly 640 points per node agrees, so none were lost to rounding.
    for (const k of keys.slice(0, 300)) assert.equal(ring.owner(k), naiveOwner(ring.nodes(), 640, k));
  });

  it('returns distinct successors starting with the owner, capped at the node count', () => {
    const ring = new RingManager();
    assert.equal(ring.owner('x'), undefined);
    assert.deepEqual(ring.successors('x', 3), []);
    ring.replace(['a', 'b', 'c', 'd']);
    for (const k of keys.slice(0, 500)) {
      const s = ring.successors(k, 3);
      assert.equal(s.length, 3);
      assert.equal(new Set(s).size, 3);
      assert.equal(s[0], ring.owner(k));
    }
    assert.equal(ring.successors('x', 10).length, 4);
  });

  it('moves about 1/(N+1) of keys on a join, all to the new node, and back on its leave', () => {
    const ring = new RingManager();
    ring.replace(['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9']);
    const before = ownersOf((k) => ring.owner(k), keys);
    ring.replace([...ring.nodes(), 'n10']);
    const moved = movedFraction(before, (k) => ring.owner(k));
    assert.ok(Math.abs(moved - 1 / 11) < 0.03, `moved ${moved}`);
    for (const [k, o] of before) if (ring.owner(k) !== o) assert.equal(ring.owner(k), 'n10');
    ring.replace(ring.nodes().filter((n) => n !== 'n10'));
    assert.equal(
      movedFraction(before, (k) => ring.owner(k)),
      0,
    );
  });

  it('does not depend on the order nodes were added', () => {
    const a = new RingManager();
    const b = new RingManager();
    for (const id of ['x', 'y', 'z', 'w']) a.apply({ type: 'join', member: member(id, 'alive') });
    for (const id of ['w', 'z', 'y', 'x']) b.apply({ type: 'join', member: member(id, 'alive') });
    for (const k of keys.slice(0, 1000)) assert.equal(a.owner(k), b.owner(k));
  });

  it('follows membership: suspects stay, dead and left go, version and change events on each change', () => {
    const ring = new RingManager();
    const changes: unknown[] = [];
    ring.on('change', (c) => changes.push(c));
    assert.equal(ring.apply({ type: 'join', member: member('a', 'alive') }), true);
    assert.equal(ring.apply({ type: 'join', member: member('b', 'alive') }), true);
    assert.equal(ring.apply({ type: 'update', member: member('b', 'suspect') }), false);
    assert.deepEqual(ring.nodes(), ['a', 'b']);
    assert.equal(ring.apply({ type: 'dead', member: member('b', 'dead') }), true);
    assert.equal(ring.apply({ type: 'leave', member: member('a', 'left') }), true);
    assert.equal(ring.version, 4);
    assert.deepEqual(changes.at(-1), { version: 4, added: [], removed: ['a'], nodes: [] });
    assert.equal(ring.owner('k'), undefined);
  });

  it('attaches to a membership source: current live members, then its events, until detached', () => {
    const source = new EventEmitter<Record<MemberEventType, [Member]>>() as EventEmitter<
      Record<MemberEventType, [Member]>
    > & { members(): Member[] };
    source.members = () => [member('a', 'alive'), member('b', 'suspect'), member('c', 'dead')];
    const ring = new RingManager();
    const detach = ring.attach(source);
    assert.deepEqual(ring.nodes(), ['a', 'b']);
    source.emit('join', member('d', 'alive'));
    source.emit('dead', member('a', 'dead'));
    assert.deepEqual(ring.nodes(), ['b', 'd']);
    detach();
    source.emit('join', member('e', 'alive'));
    assert.deepEqual(ring.nodes(), ['b', 'd']);
  });

  it('rejects point counts that are not a positive multiple of 4', () => {
    assert.throws(() => new RingManager({ pointsPerNode: 10 }), /multiple of 4/);
    assert.throws(() => new RingManager({ pointsPerNode: 0 }), /multiple of 4/);
  });
});
