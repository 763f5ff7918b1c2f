// Two operator replicas share a Lease: only the leader reconciles; when it shuts down it
// releases the lease and the standby takes over.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import {
  controlPlane,
  createCluster,
  type Env,
  namespace,
  patchCluster,
  startOperator,
  waitForClusterReady,
  waitUntil,
} from './harness.ts';

const NS = 'e2e-leader';
let env: Env;

describe('leader election', () => {
  before(async () => {
    env = await controlPlane();
    await namespace(env, NS);
  });

  it('lets only one of two replicas reconcile, and hands over on shutdown', async () => {
    const a = startOperator(env, { identity: 'replica-a', watchNamespace: NS });
    const b = startOperator(env, { identity: 'replica-b', watchNamespace: NS });
    const first = await waitUntil('a leader', async () =>
      [a, b].find((o) => o.logs.some((l) => l.msg === 'became leader')),
    );
    const standby = first === a ? b : a;
    await createCluster(env, NS, 'led', {
      replicas: 2,
      storage: { wal: { storageClassName: 'nvme' }, snapshots: { storageClassName: 'hdd' } },
    });
    await waitForClusterReady(env, NS, 'led', 2);
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(
      first.logs.some((l) => l.msg === 'reconcile'),
      'the leader reconciles',
    );
    assert.ok(
      !standby.logs.some((l) => l.msg === 'reconcile' || l.msg === 'became leader'),
      'the standby does nothing',
    );
    const coordination = env.kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({ name: 'longbow-operator', namespace: NS });
    assert.equal(lease.spec?.holderIdentity, first.identity);

    assert.equal(await first.stop('SIGTERM'), 0, 'graceful shutdown exits 0');
    const stoppedAt = Date.parse(first.logs.find((l) => l.msg === 'stopped')?.time ?? '');
    const took = await standby.waitForLog((l) => l.msg === 'became leader', 10_000);
    assert.ok(Date.parse(took.time) >= stoppedAt, 'the standby leads only after the leader stopped');
    await patchCluster(env, NS, 'led', { replicas: 3 });
    await waitForClusterReady(env, NS, 'led', 3);
    const lastOfFirst = Math.max(
      ...first.logs.filter((l) => l.msg === 'reconcile').map((l) => Date.parse(l.time)),
    );
    const firstOfSecond = Math.min(
      ...standby.logs.filter((l) => l.msg === 'reconcile').map((l) => Date.parse(l.time)),
    );
    assert.ok(
      lastOfFirst <= stoppedAt && firstOfSecond >= Date.parse(took.time),
      'reconcile periods never overlap',
    );
    const after = await coordination.readNamespacedLease({ name: 'longbow-operator', namespace: NS });
    assert.equal(after.spec?.holderIdentity, standby.identity);
  });
});
