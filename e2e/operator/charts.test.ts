// The Helm charts: `helm lint`, `helm template | kubeconform -strict` against schemas taken
// from the real API server (plus the CRD's own), deploy/operator.yaml kept in sync, and a
// real `helm install` of both charts with the operator running under the chart's RBAC only.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { buildCrd } from '../../operator/src/api/crd.ts';
import { writeSchemas } from '../charts/schemas.ts';
import {
  type AnyObject,
  clusterPods,
  controlPlane,
  type Env,
  namespace,
  podReady,
  ROOT,
  rawRequest,
  startOperator,
  waitForClusterReady,
  waitUntil,
} from './harness.ts';

const NS = 'e2e-charts';
const OPERATOR_NS = 'longbow-system';
let env: Env;
let schemaDir: string;

const helm = (...args: string[]) =>
  execFileSync(join(env.binDir, 'helm'), [...args, `--kubeconfig=${env.kubeconfigPath}`], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(tmpdir(), 'longbow-helm'),
      HELM_CONFIG_HOME: join(tmpdir(), 'longbow-helm'),
    },
  });

function kubeconform(manifests: string) {
  return spawnSync(
    join(env.binDir, 'kubeconform'),
    [
      '-strict',
      '-summary',
      '-schema-location',
      join(schemaDir, '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
      '-',
    ],
    { input: manifests, encoding: 'utf8' },
  );
}

/** The operator chart rendered as in deploy/operator.yaml. */
export function renderOperatorManifests(): string {
  return helm(
    'template',
    'longbow-operator',
    'charts/longbow-operator',
    '--namespace',
    OPERATOR_NS,
    '--include-crds',
  );
}

describe('Helm charts', () => {
  before(async () => {
    env = await controlPlane();
    await namespace(env, NS);
    schemaDir = mkdtempSync(join(tmpdir(), 'longbow-schemas-'));
    const openapi = await rawRequest(env.kubeconfigPath, 'GET', '/openapi/v2');
    const crd = buildCrd() as AnyObject;
    const count = writeSchemas(
      openapi.body,
      [
        {
          group: crd.spec.group,
          kind: crd.spec.names.kind,
          version: 'v1alpha1',
          schema: crd.spec.versions[0].schema.openAPIV3Schema,
        },
      ],
      schemaDir,
    );
    assert.ok(count > 50, `schemas written: ${count}`);
  });

  it('pass helm lint', () => {
    const out = helm('lint', '--strict', 'charts/longbow-operator', 'charts/longbow');
    assert.match(out, /2 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('render manifests that kubeconform -strict accepts, and catches an unknown field', () => {
    const operator = renderOperatorManifests();
    const cluster = helm('template', 'demo', 'charts/longbow', '--namespace', NS);
    for (const [name, manifests] of [
      ['operator chart', operator],
      ['cluster chart', cluster],
      ['deploy/samples', readFileSync(join(ROOT, 'deploy/samples/longbowcluster.yaml'), 'utf8')],
    ] as const) {
      const result = kubeconform(manifests);
      assert.equal(result.status, 0, `${name}: ${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /Invalid: 0, Errors: 0, Skipped: 0/);
    }
    const typo = kubeconform(cluster.replace('replicas: 3', 'replicas: 3\n  replicaz: 3'));
    assert.notEqual(typo.status, 0, 'a misspelt field is rejected');
    assert.match(typo.stdout, /replicaz/);
  });

  it('keeps deploy/operator.yaml equal to the rendered chart (make manifests)', () => {
    assert.equal(readFileSync(join(ROOT, 'deploy/operator.yaml'), 'utf8'), renderOperatorManifests());
  });

  it('grants the operator no wildcard permissions and no access to Secrets', () => {
    const docs = parseAllDocuments(renderOperatorManifests()).map((d) => d.toJS() as AnyObject);
    const rules = docs.filter((d) => d?.kind === 'ClusterRole' || d?.kind === 'Role').flatMap((d) => d.rules);
    assert.ok(rules.length > 0);
    for (const rule of rules) {
      for (const list of [rule.apiGroups, rule.resources, rule.verbs])
        assert.ok(!list.includes('*'), JSON.stringify(rule));
      assert.ok(!rule.resources.includes('secrets'), 'no access to Secrets');
    }
  });

  it('installs with helm; the operator, limited to the chart RBAC, runs and rolls a cluster', async () => {
    helm(
      'install',
      'longbow-operator',
      'charts/longbow-operator',
      '--namespace',
      OPERATOR_NS,
      '--create-namespace',
      '--wait=false',
    );
    const deployment = await waitUntil('operator Deployment', () =>
      env.apps.readNamespacedDeployment({ name: 'longbow-operator', namespace: OPERATOR_NS }),
    );
    assert.equal(deployment.spec?.template.spec?.securityContext?.runAsNonRoot, true);
    assert.equal(deployment.spec?.replicas, 2);

    // Run the operator as a user that has exactly the chart's roles (kwok cannot run images).
    const bind = async (kind: 'ClusterRoleBinding' | 'RoleBinding', role: string, ns?: string) => {
      const path = ns
        ? `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`
        : '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings';
      const created = await rawRequest(env.kubeconfigPath, 'POST', path, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind,
        metadata: { name: `e2e-${role}`, ...(ns ? { namespace: ns } : {}) },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: ns ? 'Role' : 'ClusterRole', name: role },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'longbow-operator' }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    };
    await bind('ClusterRoleBinding', 'longbow-operator');
    await bind('RoleBinding', 'longbow-operator-leader-election', OPERATOR_NS);
    const kubeconfig = JSON.parse(readFileSync(env.kubeconfigPath, 'utf8'));
    kubeconfig.users = [{ name: 'admin', user: { token: env.operatorToken } }];
    const limited = join(mkdtempSync(join(tmpdir(), 'longbow-rbac-')), 'kubeconfig');
    writeFileSync(limited, JSON.stringify(kubeconfig));
    const operator = startOperator(
      { ...env, kubeconfigPath: limited },
      { identity: 'rbac', watchNamespace: NS, leaseNamespace: OPERATOR_NS },
    );
    await operator.waitForLog((l) => l.msg === 'became leader');

    helm('install', 'demo', 'charts/longbow', '--namespace', NS);
    await waitForClusterReady(env, NS, 'demo', 3);
    helm(
      'upgrade',
      'demo',
      'charts/longbow',
      '--namespace',
      NS,
      '--set',
      'cluster.image=longbow/longbow:0.2.0',
      '--set',
      'cluster.storage.wal.size=20Gi',
    );
    await waitUntil(
      'demo rolled and grown',
      async () => {
        const pods = await clusterPods(env, NS, 'demo');
        const claims = await env.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
        return (
          pods.length === 3 &&
          pods.every((p) => podReady(p) && p.spec?.containers[0]?.image === 'longbow/longbow:0.2.0') &&
          claims.items
            .filter((c) => c.metadata?.name?.startsWith('wal-demo-'))
            .every((c) => c.spec?.resources?.requests?.storage === '20Gi')
        );
      },
      120_000,
    );
    await waitForClusterReady(env, NS, 'demo', 3);
    const failures = operator.logs.filter((l) => l.level === 'error' || /forbidden/i.test(JSON.stringify(l)));
    assert.deepEqual(failures, [], 'no permission errors');
  });
});
