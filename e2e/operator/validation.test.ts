// Invalid specs are rejected by the API server itself (OpenAPI schema and CEL rules in the
// CRD), with a message naming the problem; defaults are filled in on create.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { controlPlane, createCluster, type Env, getCluster, namespace, patchCluster } from './harness.ts';

const NS = 'e2e-validation';
let env: Env;

async function rejection(action: Promise<unknown>): Promise<string> {
  try {
    await action;
  } catch (error) {
    assert.ok(error instanceof k8s.ApiException, `expected an API error, got ${String(error)}`);
    assert.equal(error.code, 422, `expected 422 Invalid, got ${error.code}: ${String(error.body)}`);
    const body = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return body.message as string;
  }
  assert.fail('the API server accepted an invalid LongbowCluster');
}

describe('LongbowCluster validation by the API server', () => {
  before(async () => {
    env = await controlPlane();
    await namespace(env, NS);
  });

  it('fills in defaults on create', async () => {
    await createCluster(env, NS, 'defaults', {});
    const c = await getCluster(env, NS, 'defaults');
    assert.equal(c.spec.replicas, 3);
    assert.equal(c.spec.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(c.spec.storage.wal, { size: '10Gi' });
    assert.deepEqual(c.spec.storage.snapshots, { size: '50Gi' });
    assert.equal(c.spec.gossip.port, 7946);
    assert.equal(c.spec.updateStrategy.maxUnavailable, 1);
    assert.equal(c.spec.monitoring.serviceMonitor.enabled, true);
    assert.equal(c.spec.terminationGracePeriodSeconds, 120);
  });

  it('rejects out-of-range and malformed fields with messages naming them', async () => {
    const cases: [object, RegExp][] = [
      [{ replicas: 0 }, /spec\.replicas.*should be greater than or equal to 1/],
      [{ imagePullPolicy: 'Sometimes' }, /spec\.imagePullPolicy.*Unsupported value: "Sometimes"/],
      [{ storage: { wal: { size: 'lots' } } }, /spec\.storage\.wal\.size.*should match/],
      [{ config: { snapshotInterval: 'five minutes' } }, /spec\.config\.snapshotInterval/],
      [{ config: { flightCompression: 'gzip' } }, /spec\.config\.flightCompression.*Unsupported value/],
      [{ config: { extraEnv: { PATH: '/bin' } } }, /extraEnv keys must start with LONGBOW_/],
      [{ gossip: { port: 80 } }, /spec\.gossip\.port.*greater than or equal to 1024/],
      [{ s3: { prefix: 'x' } }, /spec\.s3\.bucket.*Required value/],
    ];
    for (const [i, [spec, message]] of cases.entries()) {
      assert.match(await rejection(createCluster(env, NS, `bad-${i}`, spec)), message);
    }
  });

  it('rejects maxUnavailable above replicas (a rule across fields)', async () => {
    const message = await rejection(
      createCluster(env, NS, 'cross', { replicas: 2, updateStrategy: { maxUnavailable: 3 } }),
    );
    assert.match(message, /updateStrategy\.maxUnavailable must not exceed replicas/);
  });

  it('lets storage grow but not shrink, and keeps storage classes immutable', async () => {
    await createCluster(env, NS, 'sized', {
      storage: {
        wal: { storageClassName: 'nvme', size: '10Gi' },
        snapshots: { storageClassName: 'hdd', size: '50Gi' },
      },
    });
    await patchCluster(env, NS, 'sized', { storage: { wal: { size: '20Gi' } } });
    assert.equal((await getCluster(env, NS, 'sized')).spec.storage.wal.size, '20Gi');
    assert.match(
      await rejection(patchCluster(env, NS, 'sized', { storage: { wal: { size: '15Gi' } } })),
      /spec\.storage\.wal\.size.*storage size may grow but not shrink/,
    );
    // Same size in other units is not a shrink.
    await patchCluster(env, NS, 'sized', { storage: { snapshots: { size: '51200Mi' } } });
    assert.match(
      await rejection(
        patchCluster(env, NS, 'sized', { storage: { snapshots: { storageClassName: 'nvme' } } }),
      ),
      /spec\.storage\.snapshots.*storageClassName is immutable/,
    );
  });
});
