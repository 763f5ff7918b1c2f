import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Awareness } from '../../src/gossip/awareness.ts';
import { BroadcastQueue, retransmitLimit } from '../../src/gossip/broadcast-queue.ts';
import { Suspicion, suspicionMinTimeoutMs } from '../../src/gossip/suspicion.ts';

describe('awareness (Lifeguard LHA)', () => {
  it('scales timeouts by score + 1 and clamps to [0, max - 1]', () => {
    const a = new Awareness(8);
    assert.equal(a.scaleMs(500), 500);
    a.applyDelta(3);
    assert.equal(a.scaleMs(500), 2000);
    a.applyDelta(100);
    assert.equal(a.score, 7);
    assert.equal(a.scaleMs(500), 4000);
    a.applyDelta(-100);
    assert.equal(a.score, 0);
  });

  it('is disabled by a max multiplier of 1', () => {
    const a = new Awareness(1);
    a.applyDelta(5);
    assert.equal(a.scaleMs(500), 500);
  });
});

describe('suspicion (Lifeguard dynamic timeout)', () => {
  it('computes memberlist min timeouts: mult * max(1, log10 N) * interval', () => {
    assert.equal(suspicionMinTimeoutMs(4, 5, 1000), 4000);
    assert.equal(suspicionMinTimeoutMs(4, 100, 1000), 8000);
    assert.equal(suspicionMinTimeoutMs(4, 1000, 1000), 12000);
  });

  it('shrinks from max to min as distinct confirmations arrive', () => {
    const s = new Suspicion('a', 1000, 4000, 24000, 2);
    assert.equal(s.timeoutMs(), 24000);
    assert.equal(s.confirm('a'), false, 'the original suspecter does not confirm');
    assert.equal(s.confirm('b'), true);
    assert.equal(s.confirm('b'), false, 'a confirmer counts once');
    // 24000 - 20000 * log(2) / log(3)
    assert.equal(s.timeoutMs(), Math.floor(24000 - (20000 * Math.log(2)) / Math.log(3)));
    assert.equal(s.confirm('c'), true);
    assert.equal(s.timeoutMs(), 4000);
    assert.equal(s.deadlineMs(), 5000);
    assert.equal(s.confirm('d'), false, 'no confirmations beyond k');
  });

  it('is a fixed timeout with k = 0', () => {
    const s = new Suspicion('a', 0, 4000, 24000, 0);
    assert.equal(s.timeoutMs(), 4000);
  });
});

describe('broadcast queue', () => {
  const suspect = (node: string, inc = 1) => ({
    type: 'suspect' as const,
    incarnation: inc,
    nodeId: node,
    fromId: 'x',
  });

  it('retransmits log-scaled times then retires', () => {
    assert.equal(retransmitLimit(4, 5), 4);
    assert.equal(retransmitLimit(4, 50), 8);
    assert.equal(retransmitLimit(4, 500), 12);
    const q = new BroadcastQueue(10);
    q.enqueue(suspect('a'));
    for (let i = 0; i < 3; i++) assert.equal(q.take(1000, 3, 10).length, 1);
    assert.equal(q.take(1000, 3, 10).length, 0);
  });

  it('replaces older news about the same member and sends the least transmitted first', () => {
    const q = new BroadcastQueue(10);
    q.enqueue(suspect('a'));
    q.take(1000, 10, 10);
    q.enqueue(suspect('b'));
    q.enqueue(suspect('a', 2));
    assert.equal(q.length, 2);
    const first = q.take(1000, 10, 1);
    assert.deepEqual(first, [suspect('a', 2)], 'newest among the untransmitted');
  });

  it('fits the byte budget and drops the most transmitted when full', () => {
    const q = new BroadcastQueue(3);
    for (const n of ['a', 'b', 'c']) q.enqueue(suspect(n));
    assert.equal(q.take(1000, 10, 10).length, 3);
    assert.equal(q.take(20, 10, 10).length, 1, 'a suspect message is 15 bytes: one fits in 20');
    q.enqueue(suspect('d'));
    assert.equal(q.length, 3);
    assert.equal(q.droppedCount, 1);
    assert.ok(q.has('d'));
  });
});
