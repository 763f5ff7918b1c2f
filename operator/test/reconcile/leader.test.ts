import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideLease } from '../../src/reconcile/leader.ts';

describe('decideLease', () => {
  it('creates a missing lease and renews its own', () => {
    assert.equal(decideLease(undefined, 'a', 0), 'create');
    assert.equal(
      decideLease({ holderIdentity: 'a', renewTimeMs: 0, leaseDurationSeconds: 15 }, 'a', 1),
      'renew',
    );
  });

  it('waits for a lease another candidate holds until it expires', () => {
    const lease = { holderIdentity: 'b', renewTimeMs: 10_000, leaseDurationSeconds: 15 };
    assert.equal(decideLease(lease, 'a', 24_999), 'wait');
    assert.equal(decideLease(lease, 'a', 25_000), 'acquire');
  });

  it('acquires a released lease at once', () => {
    assert.equal(decideLease({ renewTimeMs: 10_000, leaseDurationSeconds: 15 }, 'a', 10_001), 'acquire');
  });
});
