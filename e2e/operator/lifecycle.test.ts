// Create → owned objects; status and printer columns follow the pods; ServiceMonitor once
// its CRD exists; deleting the cluster garbage-collects what it owned.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import {
  type AnyObject,
  clusterPods,
  controlPlane,
  createCluster,
  type Env,
  getCluster,
  getTable,
  namespace,
  podReady,
  rawRequest,
  startOperator,
  waitForClusterReady,
  waitUntil,
} from './harness.ts';

const NS = 'e2e-lifecycle';
/** The garbage collector watches a new CRD's objects only after its discovery resync (30 s). */
const GC_TIMEOUT_MS = 120_000;
let env: Env;

describe('LongbowCluster lifecycle', () => {
  before(async () => {
    env = await controlPlane();
    await namespace(env, NS);
    startOperator(env, { identity: 'lifecycle', watchNamespace: NS });
  });

  it('creates every owned object as specified, with both volume claim templates and their classes', async () => {
    await createCluster(env, NS, 'alpha', {
      replicas: 3,
      image: 'longbow/longbow:0.1.0',
      storage: {
        wal: { storageClassName: 'nvme', size: '10Gi' },
        snapshots: { storageClassName: 'hdd', size: '50Gi' },
      },
      config: { snapshotInterval: '10m', flightCompression: 'zstd' },
    });
    const cluster = await getCluster(env, NS, 'alpha');
    const uid = cluster.metadata.uid;
    const sts = await waitUntil('StatefulSet', () =>
      env.apps.readNamespacedStatefulSet({ name: 'alpha', namespace: NS }),
    );
    assert.equal(sts.spec?.replicas, 3);
    assert.equal(sts.spec?.podManagementPolicy, 'Parallel');
    assert.equal(sts.spec?.serviceName, 'alpha-headless');
    assert.deepEqual(
      sts.spec?.volumeClaimTemplates?.map((t) => [
        t.metadata?.name,
        t.spec?.storageClassName,
        t.spec?.resources?.requests?.storage,
      ]),
      [
        ['wal', 'nvme', '10Gi'],
        ['snapshots', 'hdd', '50Gi'],
      ],
    );
    const container = sts.spec?.template.spec?.containers[0];
    assert.equal(container?.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(container?.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(sts.spec?.template.spec?.securityContext?.runAsNonRoot, true);

    const services = await env.core.listNamespacedService({
      namespace: NS,
      labelSelector: 'app.kubernetes.io/instance=alpha',
    });
    const byName = new Map(services.items.map((s) => [s.metadata?.name, s]));
    assert.deepEqual([...byName.keys()].sort(), [
      'alpha-data',
      'alpha-headless',
      'alpha-meta',
      'alpha-metrics',
    ]);
    assert.equal(byName.get('alpha-headless')?.spec?.clusterIP, 'None');
    assert.equal(byName.get('alpha-headless')?.spec?.publishNotReadyAddresses, true);
    assert.deepEqual(
      byName
        .get('alpha-headless')
        ?.spec?.ports?.filter((p) => p.port === 7946)
        .map((p) => p.protocol),
      ['UDP', 'TCP'],
    );
    assert.equal(byName.get('alpha-data')?.spec?.ports?.[0]?.port, 3000);
    assert.equal(byName.get('alpha-meta')?.spec?.ports?.[0]?.port, 3001);
    assert.equal(byName.get('alpha-metrics')?.spec?.ports?.[0]?.port, 9090);

    const config = await env.core.readNamespacedConfigMap({ name: 'alpha-config', namespace: NS });
    assert.equal(config.data?.LONGBOW_SNAPSHOT_INTERVAL, '10m');
    assert.equal(config.data?.LONGBOW_FLIGHT_COMPRESSION, 'zstd');
    assert.equal(config.data?.LONGBOW_DATA_PATH, '/data');
    assert.equal(config.data?.LONGBOW_SNAPSHOT_PATH, '/snapshots');
    const dashboards = await env.core.readNamespacedConfigMap({ name: 'alpha-dashboards', namespace: NS });
    assert.equal(dashboards.metadata?.labels?.grafana_dashboard, '1');
    assert.ok(Object.keys(dashboards.data ?? {}).includes('longbow-ingest.json'));
    const pdb = await env.objects.read<AnyObject>({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'alpha', namespace: NS },
    });
    assert.equal(pdb.spec.maxUnavailable, 1);

    for (const object of [sts, config, dashboards, pdb, ...services.items]) {
      const ref = object.metadata?.ownerReferences?.[0];
      assert.equal(ref?.uid, uid, `${object.metadata?.name} is owned by the cluster`);
      assert.equal(ref?.controller, true);
    }

    const claims = await waitUntil('six bound claims', async () => {
      const list = await env.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
      const bound = list.items.filter((c) => c.status?.phase === 'Bound');
      return bound.length === 6 && bound;
    });
    assert.deepEqual(claims.map((c) => `${c.metadata?.name}:${c.spec?.storageClassName}`).sort(), [
      'snapshots-alpha-0:hdd',
      'snapshots-alpha-1:hdd',
      'snapshots-alpha-2:hdd',
      'wal-alpha-0:nvme',
      'wal-alpha-1:nvme',
      'wal-alpha-2:nvme',
    ]);
    await waitForClusterReady(env, NS, 'alpha', 3);
    const events = await env.core.listNamespacedEvent({
      namespace: NS,
      fieldSelector: 'involvedObject.name=alpha',
    });
    assert.ok(events.items.some((e) => e.reason === 'Created' && /StatefulSet alpha/.test(e.message ?? '')));
  });

  it('tracks pods becoming ready in conditions and printer columns', async () => {
    await createCluster(env, NS, 'late', {
      replicas: 3,
      nodeSelector: { 'e2e.longbow.io/pool': 'late' },
      storage: { wal: { storageClassName: 'nvme' }, snapshots: { storageClassName: 'hdd' } },
    });
    const pending = await waitUntil('Degraded with unschedulable pods', async () => {
      const c = await getCluster(env, NS, 'late');
      const degraded = c.status?.conditions?.find((x: AnyObject) => x.type === 'Degraded');
      return degraded?.status === 'True' && degraded.reason === 'NodesUnschedulable' && c;
    });
    assert.equal(pending.status.phase, 'Degraded');
    assert.equal(pending.status.ready, '0/3');
    assert.equal(pending.status.observedGeneration, pending.metadata.generation);
    const available = pending.status.conditions.find((x: AnyObject) => x.type === 'Available');
    assert.equal(available.status, 'False');
    assert.equal(available.observedGeneration, pending.metadata.generation);
    let table = await getTable(env, `/apis/longbow.io/v1alpha1/namespaces/${NS}/longbowclusters/late`);
    assert.deepEqual(table.columns, ['Name', 'Ready', 'Phase', 'Image', 'Age']);
    assert.deepEqual(table.rows[0]?.slice(0, 3), ['late', '0/3', 'Degraded']);

    // Make the pods schedulable: label every fake node into the pool.
    const nodes = await env.core.listNode();
    for (const node of nodes.items) {
      await env.core.patchNode(
        {
          name: node.metadata?.name ?? '',
          body: { metadata: { labels: { 'e2e.longbow.io/pool': 'late' } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
    const ready = await waitForClusterReady(env, NS, 'late', 3);
    const conditions = Object.fromEntries(ready.status.conditions.map((c: AnyObject) => [c.type, c.status]));
    assert.deepEqual(conditions, { Available: 'True', Progressing: 'False', Degraded: 'False' });
    assert.deepEqual(
      ready.status.members.map((m: AnyObject) => [m.name, m.ready, m.updated]),
      [
        ['late-0', true, true],
        ['late-1', true, true],
        ['late-2', true, true],
      ],
    );
    assert.ok(
      ready.status.members.every(
        (m: AnyObject) => typeof m.nodeName === 'string' && m.nodeName.startsWith('kwok-'),
      ),
    );
    table = await getTable(env, `/apis/longbow.io/v1alpha1/namespaces/${NS}/longbowclusters/late`);
    assert.deepEqual(table.rows[0]?.slice(0, 3), ['late', '3/3', 'Running']);
  });

  it('creates a ServiceMonitor once the Prometheus operator CRD exists', async () => {
    const before = await env.objects
      .list('apiextensions.k8s.io/v1', 'CustomResourceDefinition')
      .then((l) => l.items.map((i) => i.metadata?.name));
    assert.ok(!before.includes('servicemonitors.monitoring.coreos.com'));
    const created = await rawRequest(
      env.kubeconfigPath,
      'POST',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'servicemonitors.monitoring.coreos.com' },
        spec: {
          group: 'monitoring.coreos.com',
          scope: 'Namespaced',
          names: {
            kind: 'ServiceMonitor',
            plural: 'servicemonitors',
            singular: 'servicemonitor',
            listKind: 'ServiceMonitorList',
          },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      },
    );
    assert.equal(created.status, 201);
    const monitor = await waitUntil(
      'ServiceMonitor alpha',
      () =>
        env.objects.read<AnyObject>({
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'ServiceMonitor',
          metadata: { name: 'alpha', namespace: NS },
        }),
      60_000,
    );
    assert.equal(monitor.spec.endpoints[0].port, 'http');
    assert.equal(monitor.spec.selector.matchLabels['longbow.io/service'], 'metrics');
  });

  it('garbage-collects everything the cluster owned when it is deleted, keeping claims unless asked', async () => {
    await env.custom.deleteNamespacedCustomObject({
      group: 'longbow.io',
      version: 'v1alpha1',
      namespace: NS,
      plural: 'longbowclusters',
      name: 'alpha',
    });
    await waitUntil(
      'owned objects of alpha gone',
      async () => {
        const sts = await env.apps.listNamespacedStatefulSet({
          namespace: NS,
          fieldSelector: 'metadata.name=alpha',
        });
        const services = await env.core.listNamespacedService({
          namespace: NS,
          labelSelector: 'app.kubernetes.io/instance=alpha',
        });
        const maps = await env.core.listNamespacedConfigMap({
          namespace: NS,
          labelSelector: 'app.kubernetes.io/instance=alpha',
        });
        const pods = await clusterPods(env, NS, 'alpha');
        const pdbs = await env.objects.list('policy/v1', 'PodDisruptionBudget', NS);
        const monitors = await env.objects.list('monitoring.coreos.com/v1', 'ServiceMonitor', NS);
        return (
          sts.items.length === 0 &&
          services.items.length === 0 &&
          maps.items.length === 0 &&
          pods.length === 0 &&
          !pdbs.items.some((p) => p.metadata?.name === 'alpha') &&
          !monitors.items.some((m) => m.metadata?.name === 'alpha')
        );
      },
      GC_TIMEOUT_MS,
    );
    const claims = await env.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
    assert.equal(
      claims.items.filter((c) => c.metadata?.name?.endsWith('-alpha-0')).length,
      2,
      'claims retained',
    );

    await createCluster(env, NS, 'ephemeral', {
      replicas: 2,
      storage: {
        wal: { storageClassName: 'nvme' },
        snapshots: { storageClassName: 'hdd' },
        retainOnDelete: false,
      },
    });
    await waitUntil(
      'ephemeral pods ready',
      async () => (await clusterPods(env, NS, 'ephemeral')).filter(podReady).length === 2,
    );
    await env.custom.deleteNamespacedCustomObject({
      group: 'longbow.io',
      version: 'v1alpha1',
      namespace: NS,
      plural: 'longbowclusters',
      name: 'ephemeral',
    });
    await waitUntil(
      'ephemeral claims deleted',
      async () => {
        const list = await env.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
        return !list.items.some((c) => c.metadata?.name?.includes('-ephemeral-'));
      },
      GC_TIMEOUT_MS,
    );
  });
});
