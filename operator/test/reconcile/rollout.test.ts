import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PodView, planRollout, podOrdinal } from '../../src/reconcile/rollout.ts';

const pod = (ordinal: number, revision: string, ready = true, terminating = false): PodView => ({
  name: `c-${ordinal}`,
  ordinal,
  ready,
  terminating,
  revision,
});

describe('planRollout', () => {
  it('deletes the highest outdated ordinal first, one at a time', () => {
    const plan = planRollout({
      pods: [pod(0, 'old'), pod(1, 'old'), pod(2, 'old')],
      replicas: 3,
      updateRevision: 'new',
      maxUnavailable: 1,
    });
    assert.deepEqual(plan.deletePods, ['c-2']);
    assert.equal(plan.outdated, 3);
  });

  it('waits while a replaced pod is not ready yet', () => {
    const plan = planRollout({
      pods: [pod(0, 'old'), pod(1, 'old'), pod(2, 'new', false)],
      replicas: 3,
      updateRevision: 'new',
      maxUnavailable: 1,
    });
    assert.deepEqual(plan.deletePods, []);
    assert.equal(plan.unavailable, 1);
  });

  it('counts a missing ordinal as unavailable', () => {
    const plan = planRollout({
      pods: [pod(0, 'old'), pod(1, 'old')],
      replicas: 3,
      updateRevision: 'new',
      maxUnavailable: 1,
    });
    assert.deepEqual(plan.deletePods, []);
  });

  it('uses the whole maxUnavailable budget', () => {
    const plan = planRollout({
      pods: [pod(0, 'old'), pod(1, 'old'), pod(2, 'old'), pod(3, 'new')],
      replicas: 4,
      updateRevision: 'new',
      maxUnavailable: 2,
    });
    assert.deepEqual(plan.deletePods, ['c-2', 'c-1']);
  });

  it('replaces an outdated pod that is already failing without spending budget', () => {
    const plan = planRollout({
      pods: [pod(0, 'old'), pod(1, 'old', false), pod(2, 'old')],
      replicas: 3,
      updateRevision: 'new',
      maxUnavailable: 1,
    });
    assert.deepEqual(plan.deletePods, ['c-1']);
  });

  it('does nothing when every pod is current, or the revision is unknown', () => {
    const pods = [pod(0, 'new'), pod(1, 'new')];
    assert.deepEqual(
      planRollout({ pods, replicas: 2, updateRevision: 'new', maxUnavailable: 1 }).deletePods,
      [],
    );
    const old = [pod(0, 'old'), pod(1, 'old')];
    assert.deepEqual(
      planRollout({ pods: old, replicas: 2, updateRevision: undefined, maxUnavailable: 1 }).deletePods,
      [],
    );
  });

  it('ignores pods above the desired replica count (scale-down removes them)', () => {
    const plan = planRollout({
      pods: [pod(0, 'new'), pod(1, 'new'), pod(2, 'old'), pod(3, 'old')],
      replicas: 2,
      updateRevision: 'new',
      maxUnavailable: 1,
    });
    assert.deepEqual(plan.deletePods, []);
  });
});

describe('podOrdinal', () => {
  it('parses the ordinal suffix of the set name only', () => {
    assert.equal(podOrdinal('db', 'db-12'), 12);
    assert.equal(podOrdinal('db', 'db-x'), -1);
    assert.equal(podOrdinal('db', 'dbx-1'), -1);
    assert.equal(podOrdinal('db-a', 'db-a-0'), 0);
  });
});
