import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planExpansion } from '../../src/reconcile/storage.ts';

const templates = (wal: string, snapshots: string) => [
  { name: 'wal', size: wal },
  { name: 'snapshots', size: snapshots },
];

describe('planExpansion', () => {
  it('resizes every smaller claim of a grown template and recreates the StatefulSet', () => {
    const plan = planExpansion({
      setName: 'c',
      liveTemplates: templates('10Gi', '50Gi'),
      desiredTemplates: templates('20Gi', '50Gi'),
      claims: [
        { name: 'wal-c-0', size: '10Gi' },
        { name: 'wal-c-1', size: '10Gi' },
        { name: 'snapshots-c-0', size: '50Gi' },
        { name: 'wal-other-0', size: '1Gi' },
      ],
    });
    assert.deepEqual(plan.resize, [
      { name: 'wal-c-0', size: '20Gi' },
      { name: 'wal-c-1', size: '20Gi' },
    ]);
    assert.equal(plan.recreateStatefulSet, true);
  });

  it('finishes an expansion interrupted after the StatefulSet was recreated', () => {
    const plan = planExpansion({
      setName: 'c',
      liveTemplates: templates('20Gi', '50Gi'),
      desiredTemplates: templates('20Gi', '50Gi'),
      claims: [
        { name: 'wal-c-0', size: '20Gi' },
        { name: 'wal-c-1', size: '10Gi' },
      ],
    });
    assert.deepEqual(plan.resize, [{ name: 'wal-c-1', size: '20Gi' }]);
    assert.equal(plan.recreateStatefulSet, false);
  });

  it('compares quantities, not strings', () => {
    const plan = planExpansion({
      setName: 'c',
      liveTemplates: templates('1024Mi', '50Gi'),
      desiredTemplates: templates('1Gi', '50Gi'),
      claims: [{ name: 'wal-c-0', size: '1024Mi' }],
    });
    assert.deepEqual(plan, { resize: [], recreateStatefulSet: false });
  });
});
