// Scaling 3 → 5 → 3 (scale-down removes the highest ordinals and keeps their claims) and
// storage growth (claims grow; the StatefulSet is recreated around running pods).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  clusterPods,
  controlPlane,
  createCluster,
  type Env,
  getCluster,
  namespace,
  patchCluster,
  startOperator,
  waitForClusterReady,
  waitUntil,
} from './harness.ts';

const NS = 'e2e-scale';
let env: Env;

const claimNames = async () =>
  (await env.core.listNamespacedPersistentVolumeClaim({ namespace: NS })).items
    .map((c) => c.metadata?.name ?? '')
    .sort();

describe('scaling and storage growth', () => {
  before(async () => {
    env = await controlPlane();
    await namespace(env, NS);
    startOperator(env, { identity: 'scale', watchNamespace: NS });
  });

  it('scales 3 → 5 → 3, removing the highest ordinals and keeping their claims', async () => {
    await createCluster(env, NS, 'sc', {
      replicas: 3,
      storage: {
        wal: { storageClassName: 'nvme', size: '10Gi' },
        snapshots: { storageClassName: 'hdd', size: '50Gi' },
      },
    });
    await waitForClusterReady(env, NS, 'sc', 3);
    const original = new Map(
      (await clusterPods(env, NS, 'sc')).map((p) => [p.metadata?.name, p.metadata?.uid]),
    );

    await patchCluster(env, NS, 'sc', { replicas: 5 });
    const up = await waitForClusterReady(env, NS, 'sc', 5);
    assert.deepEqual(
      up.status.members.map((m: { name: string }) => m.name),
      ['sc-0', 'sc-1', 'sc-2', 'sc-3', 'sc-4'],
    );
    assert.equal((await claimNames()).length, 10);
    for (const pod of await clusterPods(env, NS, 'sc')) {
      const name = pod.metadata?.name;
      if (original.has(name)) assert.equal(pod.metadata?.uid, original.get(name), `${name} kept running`);
    }

    await patchCluster(env, NS, 'sc', { replicas: 3 });
    await waitUntil('sc-3 and sc-4 gone', async () => (await clusterPods(env, NS, 'sc')).length === 3);
    const down = await waitForClusterReady(env, NS, 'sc', 3);
    assert.deepEqual(
      (await clusterPods(env, NS, 'sc')).map((p) => p.metadata?.name),
      ['sc-0', 'sc-1', 'sc-2'],
    );
    assert.equal(down.status.members.length, 3);
    assert.ok((await claimNames()).includes('wal-sc-4'), 'claims of removed ordinals are kept');
    assert.ok((await claimNames()).includes('snapshots-sc-3'));
  });

  it('grows the WAL volume: claims expand and the StatefulSet is recreated around running pods', async () => {
    const podsBefore = new Map(
      (await clusterPods(env, NS, 'sc')).map((p) => [p.metadata?.name, p.metadata?.uid]),
    );
    const stsBefore = await env.apps.readNamespacedStatefulSet({ name: 'sc', namespace: NS });
    await patchCluster(env, NS, 'sc', { storage: { wal: { size: '20Gi' } } });
    const sts = await waitUntil('StatefulSet with the larger template', async () => {
      const live = await env.apps.readNamespacedStatefulSet({ name: 'sc', namespace: NS });
      const wal = live.spec?.volumeClaimTemplates?.find((t) => t.metadata?.name === 'wal');
      return wal?.spec?.resources?.requests?.storage === '20Gi' && live;
    });
    assert.notEqual(sts.metadata?.uid, stsBefore.metadata?.uid, 'the StatefulSet was recreated');
    const claims = (await env.core.listNamespacedPersistentVolumeClaim({ namespace: NS })).items;
    for (const claim of claims.filter((c) => c.metadata?.name?.startsWith('wal-sc-'))) {
      assert.equal(claim.spec?.resources?.requests?.storage, '20Gi', `${claim.metadata?.name} grew`);
    }
    for (const claim of claims.filter((c) => c.metadata?.name?.startsWith('snapshots-sc-'))) {
      assert.equal(claim.spec?.resources?.requests?.storage, '50Gi', `${claim.metadata?.name} unchanged`);
    }
    await waitForClusterReady(env, NS, 'sc', 3);
    for (const pod of await clusterPods(env, NS, 'sc')) {
      assert.equal(
        pod.metadata?.uid,
        podsBefore.get(pod.metadata?.name),
        `${pod.metadata?.name} was not restarted`,
      );
      assert.equal(
        pod.metadata?.ownerReferences?.[0]?.uid,
        sts.metadata?.uid,
        'adopted by the new StatefulSet',
      );
    }
    const reasons = (
      await env.core.listNamespacedEvent({ namespace: NS, fieldSelector: 'involvedObject.name=sc' })
    ).items.map((e) => e.reason);
    assert.ok(reasons.includes('ExpandingVolume'));
    assert.ok(reasons.includes('RecreatingStatefulSet'));
    const cluster = await getCluster(env, NS, 'sc');
    assert.equal(cluster.status.phase, 'Running');
  });
});
