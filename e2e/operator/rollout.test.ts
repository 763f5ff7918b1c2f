// Rolling changes: an image or config change restarts pods one at a time (within
// maxUnavailable), each only after the previous one is ready again; an operator killed
// mid-rollout is replaced and the new one finishes the job without restarting a pod twice.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  clusterPods,
  controlPlane,
  createCluster,
  type Env,
  getCluster,
  namespace,
  type OperatorProcess,
  patchCluster,
  podReady,
  startOperator,
  waitForClusterReady,
  waitUntil,
  watchPods,
} from './harness.ts';

const NS = 'e2e-rollout';
const STORAGE = { wal: { storageClassName: 'nvme' }, snapshots: { storageClassName: 'hdd' } };
let env: Env;
let operator: OperatorProcess;

async function allPods(name: string, replicas: number, predicate: (image: string) => boolean) {
  return waitUntil(
    `${name} pods updated`,
    async () => {
      const pods = await clusterPods(env, NS, name);
      return (
        pods.length === replicas &&
        pods.every((p) => podReady(p) && predicate(p.spec?.containers[0]?.image ?? '')) &&
        pods
      );
    },
    120_000,
  );
}

describe('rolling changes', () => {
  before(async () => {
    env = await controlPlane();
    await namespace(env, NS);
    operator = startOperator(env, { identity: 'rollout-1', watchNamespace: NS });
  });

  it('rolls an image change one pod at a time, highest ordinal first', async () => {
    await createCluster(env, NS, 'roll', { replicas: 3, image: 'longbow/longbow:0.1.0', storage: STORAGE });
    await waitForClusterReady(env, NS, 'roll', 3);
    const watch = await watchPods(env, NS, 'roll', 3);
    const before = new Map(
      (await clusterPods(env, NS, 'roll')).map((p) => [p.metadata?.name, p.metadata?.uid]),
    );
    await patchCluster(env, NS, 'roll', { image: 'longbow/longbow:0.2.0' });
    await allPods('roll', 3, (image) => image === 'longbow/longbow:0.2.0');
    const done = await waitForClusterReady(env, NS, 'roll', 3);
    watch.stop();
    assert.equal(done.status.updatedReplicas, 3);
    assert.deepEqual(
      watch.terminations,
      ['roll-2', 'roll-1', 'roll-0'],
      'each pod restarted once, highest first',
    );
    assert.equal(watch.maxUnavailable, 1, 'never more than one pod unavailable');
    for (const pod of await clusterPods(env, NS, 'roll')) {
      assert.notEqual(
        pod.metadata?.uid,
        before.get(pod.metadata?.name),
        `${pod.metadata?.name} was recreated`,
      );
    }
    const events = await env.core.listNamespacedEvent({
      namespace: NS,
      fieldSelector: 'involvedObject.name=roll',
    });
    assert.equal(events.items.filter((e) => e.reason === 'RestartingPod').length, 3);
  });

  it('rolls a config change within maxUnavailable = 2', async () => {
    const config = async () =>
      (await env.core.readNamespacedConfigMap({ name: 'roll-config', namespace: NS })).data
        ?.LONGBOW_SNAPSHOT_INTERVAL;
    const hash = async () =>
      (await env.apps.readNamespacedStatefulSet({ name: 'roll', namespace: NS })).spec?.template.metadata
        ?.annotations?.['longbow.io/config-hash'];
    const oldHash = await hash();
    const watch = await watchPods(env, NS, 'roll', 3);
    await patchCluster(env, NS, 'roll', {
      config: { snapshotInterval: '1h' },
      updateStrategy: { maxUnavailable: 2 },
    });
    await waitUntil('config map updated', async () => (await config()) === '1h');
    await waitUntil('pod template carries the new config hash', async () => (await hash()) !== oldHash);
    await waitUntil('three restarts', async () => watch.terminations.length >= 3, 120_000);
    await waitForClusterReady(env, NS, 'roll', 3);
    watch.stop();
    assert.deepEqual([...watch.terminations].sort(), ['roll-0', 'roll-1', 'roll-2']);
    assert.ok(watch.maxUnavailable <= 2, `at most two unavailable, saw ${watch.maxUnavailable}`);
  });

  it('resumes a rollout after the operator is killed mid-way, restarting each pod once', async () => {
    await patchCluster(env, NS, 'roll', { updateStrategy: { maxUnavailable: 1 } });
    await waitForClusterReady(env, NS, 'roll', 3);
    const watch = await watchPods(env, NS, 'roll', 3);
    const logsBefore = operator.logs.length;
    await patchCluster(env, NS, 'roll', { image: 'longbow/longbow:0.3.0' });
    await waitUntil('first restart', async () => watch.terminations.length >= 1);
    await operator.stop('SIGKILL');
    const restartedByFirst = operator.logs
      .slice(logsBefore)
      .filter((l) => l.msg === 'restarting pod for update').length;
    assert.ok(restartedByFirst < 3, 'the first operator was stopped before finishing');

    const successor = startOperator(env, { identity: 'rollout-2', watchNamespace: NS });
    await successor.waitForLog((l) => l.msg === 'became leader', 30_000);
    await allPods('roll', 3, (image) => image === 'longbow/longbow:0.3.0');
    await waitForClusterReady(env, NS, 'roll', 3);
    watch.stop();
    assert.deepEqual(watch.terminations, ['roll-2', 'roll-1', 'roll-0'], 'each pod restarted exactly once');
    assert.equal(watch.maxUnavailable, 1);
    const restartedBySecond = successor.logs.filter((l) => l.msg === 'restarting pod for update').length;
    assert.ok(restartedBySecond >= 1, 'the successor finished the rollout');
    const cluster = await getCluster(env, NS, 'roll');
    assert.equal(cluster.status.updatedReplicas, 3);
  });
});
