import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveSpec } from '../../src/api/defaults.ts';
import { toYaml } from '../../src/artifacts.ts';
import { configHash, nodeEnvironment } from '../../src/builders/config.ts';
import { buildDesired, type DesiredObject } from '../../src/builders/index.ts';
import { cluster, FULL_SPEC } from '../fixtures.ts';

const GOLDEN = join(import.meta.dirname, '..', 'golden');

/** Compares with a golden file; UPDATE_GOLDEN=1 rewrites it. */
function golden(name: string, objects: DesiredObject[]): void {
  const text = objects.map((o) => toYaml(o)).join('---\n');
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
  assert.equal(text, readFileSync(path, 'utf8'), `${name} differs; rerun with UPDATE_GOLDEN=1 if intended`);
}

type AnyObject = any;
const find = (objects: DesiredObject[], kind: string, name?: string): AnyObject =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('buildDesired', () => {
  it('matches the golden YAML for a minimal spec (all defaults)', () => {
    golden('minimal.yaml', buildDesired(cluster({}), { serviceMonitorCrd: true }));
  });

  it('matches the golden YAML for a spec that sets every field', () => {
    golden('full.yaml', buildDesired(cluster(FULL_SPEC), { serviceMonitorCrd: true }));
  });

  it('builds every owned object with an owner reference to the cluster', () => {
    const objects = buildDesired(cluster(FULL_SPEC), { serviceMonitorCrd: true });
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        'ConfigMap/vectors-config',
        'Service/vectors-headless',
        'Service/vectors-data',
        'Service/vectors-meta',
        'Service/vectors-metrics',
        'PodDisruptionBudget/vectors',
        'ServiceMonitor/vectors',
        'ConfigMap/vectors-dashboards',
        'StatefulSet/vectors',
      ],
    );
    for (const o of objects) {
      const refs = (o.metadata as AnyObject).ownerReferences;
      assert.equal(refs.length, 1, `${o.kind} has one owner`);
      assert.equal(refs[0].uid, '11111111-2222-3333-4444-555555555555');
      assert.equal(refs[0].kind, 'LongbowCluster');
      assert.equal(refs[0].controller, true);
      assert.equal(o.metadata.namespace, 'data');
    }
  });

  it('gives the StatefulSet two claim templates with their storage classes and sizes', () => {
    const sts = find(buildDesired(cluster(FULL_SPEC), { serviceMonitorCrd: false }), 'StatefulSet');
    const templates = sts.spec.volumeClaimTemplates.map((t: AnyObject) => [
      t.metadata.name,
      t.spec.storageClassName,
      t.spec.resources.requests.storage,
    ]);
    assert.deepEqual(templates, [
      ['wal', 'nvme', '20Gi'],
      ['snapshots', 'hdd', '200Gi'],
    ]);
    assert.equal(sts.spec.podManagementPolicy, 'Parallel');
    assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, {
      whenScaled: 'Delete',
      whenDeleted: 'Retain',
    });
    const mounts = sts.spec.template.spec.containers[0].volumeMounts.map((m: AnyObject) => [
      m.name,
      m.mountPath,
    ]);
    assert.deepEqual(mounts.slice(0, 2), [
      ['wal', '/data'],
      ['snapshots', '/snapshots'],
    ]);
  });

  it('runs the node non-root with probes on /healthz and /readyz and time for the shutdown snapshot', () => {
    const sts = find(buildDesired(cluster({}), { serviceMonitorCrd: false }), 'StatefulSet');
    const pod = sts.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(pod.terminationGracePeriodSeconds, 120);
    assert.deepEqual(
      container.ports.map((p: AnyObject) => `${p.containerPort}/${p.protocol}`),
      ['3000/TCP', '3001/TCP', '9090/TCP', '7946/UDP', '7946/TCP'],
    );
  });

  it('exposes gossip on a headless Service that publishes not-ready addresses', () => {
    const headless = find(
      buildDesired(cluster({}), { serviceMonitorCrd: false }),
      'Service',
      'vectors-headless',
    );
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    assert.deepEqual(
      headless.spec.ports.filter((p: AnyObject) => p.port === 7946).map((p: AnyObject) => p.protocol),
      ['UDP', 'TCP'],
    );
  });

  it('leaves out the ServiceMonitor when its CRD is missing and optional objects when disabled', () => {
    const kinds = (spec: object, crd: boolean) =>
      buildDesired(cluster(spec), { serviceMonitorCrd: crd }).map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(!kinds({}, false).includes('ServiceMonitor/vectors'));
    const off = kinds(
      {
        podDisruptionBudget: { enabled: false },
        monitoring: { serviceMonitor: { enabled: false }, dashboards: { enabled: false } },
      },
      true,
    );
    assert.deepEqual(
      off.filter((k) => /PodDisruptionBudget|ServiceMonitor|dashboards/.test(k)),
      [],
    );
  });

  it('maps the config to LONGBOW_* variables and rolls pods when it changes', () => {
    const meta = cluster({}).metadata;
    const env = nodeEnvironment(meta, resolveSpec(FULL_SPEC));
    assert.equal(env.LONGBOW_MAX_MEMORY, '6442450944');
    assert.equal(env.LONGBOW_SNAPSHOT_INTERVAL, '10m');
    assert.equal(env.LONGBOW_MAX_WAL_SIZE, '268435456');
    assert.equal(env.LONGBOW_STORAGE_ASYNC_FSYNC, 'false');
    assert.equal(env.LONGBOW_FLIGHT_COMPRESSION, 'zstd');
    assert.equal(env.LONGBOW_STORAGE_BACKEND, 's3');
    assert.equal(env.LONGBOW_S3_USE_PATH_STYLE, 'true');
    assert.equal(env.LONGBOW_GOSSIP_DNS_RECORD, 'vectors-headless.data.svc');
    assert.equal(env.LONGBOW_ROUTING_MODE, 'redirect');
    const hash = (spec: object) =>
      find(buildDesired(cluster(spec), { serviceMonitorCrd: false }), 'StatefulSet').spec.template.metadata
        .annotations['longbow.io/config-hash'];
    assert.equal(hash({}), hash({}));
    assert.notEqual(hash({}), hash({ config: { snapshotInterval: '1h' } }));
    assert.equal(configHash({ A: '1', B: '2' }), configHash({ B: '2', A: '1' }));
  });
});
