import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveSpec } from '../../src/api/defaults.ts';
import { computeStatus, type PodObservation, type StatusInput } from '../../src/status/compute.ts';

const pod = (ordinal: number, over: Partial<PodObservation> = {}): PodObservation => ({
  name: `c-${ordinal}`,
  ordinal,
  ready: true,
  terminating: false,
  revision: 'r2',
  unschedulable: false,
  failing: false,
  ...over,
});

const input = (over: Partial<StatusInput>): StatusInput => ({
  generation: 7,
  spec: resolveSpec({ replicas: 3 }),
  updateRevision: 'r2',
  statefulSetObserved: true,
  pods: [pod(0), pod(1), pod(2)],
  previous: [],
  nowIso: '2026-01-01T00:00:00Z',
  ...over,
});

const cond = (status: ReturnType<typeof computeStatus>, type: string) =>
  status.conditions.find((c) => c.type === type)!;

describe('computeStatus', () => {
  it('reports Running, Available and not Progressing when every pod is ready and current', () => {
    const s = computeStatus(input({}));
    assert.equal(s.phase, 'Running');
    assert.equal(s.ready, '3/3');
    assert.equal(s.observedGeneration, 7);
    assert.equal(cond(s, 'Available').status, 'True');
    assert.equal(cond(s, 'Progressing').status, 'False');
    assert.equal(cond(s, 'Degraded').status, 'False');
    assert.ok(s.conditions.every((c) => c.observedGeneration === 7));
    assert.deepEqual(
      s.members.map((m) => [m.name, m.ready, m.updated]),
      [
        ['c-0', true, true],
        ['c-1', true, true],
        ['c-2', true, true],
      ],
    );
  });

  it('reports a rollout as Progressing with reason RollingUpdate', () => {
    const s = computeStatus(
      input({ pods: [pod(0, { revision: 'r1' }), pod(1, { revision: 'r1' }), pod(2)] }),
    );
    assert.equal(s.phase, 'Progressing');
    assert.equal(cond(s, 'Progressing').reason, 'RollingUpdate');
    assert.equal(s.updatedReplicas, 1);
  });

  it('reports unschedulable pods as Degraded and the cluster as not Available', () => {
    const s = computeStatus(
      input({ pods: [0, 1, 2].map((o) => pod(o, { ready: false, unschedulable: true })) }),
    );
    assert.equal(s.phase, 'Degraded');
    assert.equal(cond(s, 'Available').status, 'False');
    assert.equal(cond(s, 'Degraded').reason, 'NodesUnschedulable');
    assert.match(cond(s, 'Degraded').message, /c-0, c-1, c-2/);
  });

  it('reports Pending while no pod is ready and nothing is wrong', () => {
    const s = computeStatus(input({ pods: [] }));
    assert.equal(s.phase, 'Pending');
    assert.equal(cond(s, 'Progressing').reason, 'Scaling');
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = computeStatus(input({ nowIso: '2026-01-01T00:00:00Z' }));
    const second = computeStatus(input({ previous: first.conditions, nowIso: '2026-01-01T01:00:00Z' }));
    assert.equal(cond(second, 'Available').lastTransitionTime, '2026-01-01T00:00:00Z');
    const third = computeStatus(
      input({ previous: second.conditions, pods: [], nowIso: '2026-01-01T02:00:00Z' }),
    );
    assert.equal(cond(third, 'Available').lastTransitionTime, '2026-01-01T02:00:00Z');
  });

  it('reports a failed reconcile as Degraded with the error', () => {
    const s = computeStatus(input({ reconcileError: 'HTTP 403: forbidden' }));
    assert.equal(cond(s, 'Degraded').reason, 'ReconcileFailed');
    assert.equal(cond(s, 'Degraded').message, 'HTTP 403: forbidden');
  });
});
