/**
 * A real Kubernetes control plane on loopback for the operator tests: etcd,
 * kube-apiserver, kube-controller-manager (StatefulSet, garbage collector, PV binder…),
 * kube-scheduler and kwok (fake nodes whose kubelet "runs" pods and marks them ready).
 * Nothing is mocked: the operator talks to the same API server, admission, CEL validation
 * and controllers as in a real cluster; only containers do not run.
 *
 * Storage: a tiny provisioner here plays the CSI driver for the `nvme` and `hdd` classes:
 * it creates a PersistentVolume for each pending claim (the PV controller binds them) and,
 * like external-resizer, reports a grown claim's new capacity.
 *
 * Every process listens on 127.0.0.1 only and is stopped by its own pid.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { freePorts } from '@longbow/testkit';

const BUILD_SCRIPT = join(import.meta.dirname, 'build.sh');

/** A running control plane. */
export interface ControlPlane {
  /** kubeconfig file with cluster-admin rights. */
  readonly kubeconfigPath: string;
  /** The API server URL (https://127.0.0.1:port). */
  readonly server: string;
  /** Bearer token of the user `longbow-operator` (no groups; rights only through RBAC). */
  readonly operatorToken: string;
  /** Directory holding the binaries (kube-apiserver, helm, kubeconform…). */
  readonly binDir: string;
  /** Scratch directory with logs and data; removed by stop(). */
  readonly dir: string;
  /** Stops every process (reverse start order) and removes the scratch directory. */
  stop(): Promise<void>;
}

/** Builds (or finds cached) binaries and returns their directory. */
export function ensureBinaries(): string {
  const out = execFileSync('bash', [BUILD_SCRIPT], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = out.trim().split('\n');
  return lines[lines.length - 1]!;
}

function httpsGet(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, proc?: ChildProcess) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`${what}: process exited with ${proc.exitCode}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

/** Starts the control plane; rejects (after cleaning up) if any part fails to come up. */
export async function startControlPlane(): Promise<ControlPlane> {
  const binDir = ensureBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'longbow-k8s-'));
  const procs: { name: string; proc: ChildProcess }[] = [];
  const adminToken = randomBytes(16).toString('hex');
  const operatorToken = randomBytes(16).toString('hex');
  let provisioner: { stop(): void } | undefined;

  const start = (name: string, args: string[]) => {
    const log = createWriteStream(join(dir, `${name}.log`));
    const proc = spawn(join(binDir, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    procs.push({ name, proc });
    return proc;
  };
  // If this process dies without stop(), take the control plane with it.
  const killAll = () => {
    for (const { proc } of procs)
      if (proc.exitCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
  };
  process.once('exit', killAll);
  const stop = async () => {
    provisioner?.stop();
    for (const { proc } of [...procs].reverse()) {
      if (proc.exitCode !== null || proc.pid === undefined) continue;
      const exited = new Promise((r) => proc.once('exit', r));
      process.kill(proc.pid, 'SIGTERM');
      const timer = setTimeout(
        () => proc.pid !== undefined && proc.exitCode === null && process.kill(proc.pid, 'SIGKILL'),
        5000,
      );
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killAll);
    if (!process.env.LONGBOW_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(
      join(dir, 'tokens.csv'),
      `${adminToken},admin,admin-uid,"system:masters"\n${operatorToken},longbow-operator,longbow-operator-uid\n`,
    );

    const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
    const etcd = start('etcd', [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--listen-metrics-urls=',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor(
      'etcd',
      async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`).catch(() => undefined))?.ok === true,
      30_000,
      etcd,
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = start('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--enable-priority-and-fairness=false',
      '--endpoint-reconciler-type=none',
      '--v=1',
    ]);
    await waitFor(
      'kube-apiserver',
      async () => (await httpsGet(`${server}/readyz`, adminToken)) === 200,
      90_000,
      apiserver,
    );

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigPath,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'e2e', cluster: { server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'admin', user: { token: adminToken } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin', namespace: 'default' } }],
        'current-context': 'e2e',
      }),
    );
    start('kube-controller-manager', [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--secure-port=0',
      `--service-account-private-key-file=${join(dir, 'sa.key')}`,
      '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
      '--concurrent-statefulset-syncs=5',
      '--v=1',
    ]);
    start('kube-scheduler', [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);
    start('kwok', [
      `--kubeconfig=${kubeconfigPath}`,
      `--config=${join(import.meta.dirname, 'kwok-stages.yaml')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip=10.0.0.1',
      '--cidr=10.244.0.0/16',
      '--server-address=',
      '--v=WARN',
    ]);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    await createFakeNodes(kc);
    await createStorageClasses(kc);
    provisioner = startProvisioner(kc);
    await waitForDefaultServiceAccount(kc);
    return { kubeconfigPath, server, operatorToken, binDir, dir, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** Storage classes the tests use: `nvme` for WALs, `hdd` for snapshots. */
export const STORAGE_CLASSES = ['nvme', 'hdd'] as const;

/** Names of the fake nodes; node i is labelled with storage tier nvme or hdd like kind-config.yaml. */
export const NODES = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'] as const;

async function createFakeNodes(kc: k8s.KubeConfig): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (const [i, name] of NODES.entries()) {
    await core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake' },
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            type: 'kwok',
            'longbow.io/storage': i === 0 ? 'hdd' : 'nvme',
          },
        },
        status: {
          allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
          capacity: { cpu: '32', memory: '256Gi', pods: '110' },
        },
      },
    });
  }
  await waitFor(
    'kwok nodes ready',
    async () => {
      const nodes = await core.listNode();
      return (
        nodes.items.filter((n) =>
          n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        ).length === NODES.length
      );
    },
    60_000,
  );
}

async function createStorageClasses(kc: k8s.KubeConfig): Promise<void> {
  const storage = kc.makeApiClient(k8s.StorageV1Api);
  for (const name of STORAGE_CLASSES) {
    await storage.createStorageClass({
      body: {
        metadata: { name },
        provisioner: 'e2e.longbow.io/fake',
        allowVolumeExpansion: true,
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
      },
    });
  }
}

async function waitForDefaultServiceAccount(kc: k8s.KubeConfig): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await waitFor(
    'default service account',
    async () => {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        return true;
      } catch {
        return false;
      }
    },
    60_000,
  );
}

/** Plays the CSI provisioner and resizer for the test storage classes, polling every 250 ms. */
function startProvisioner(kc: k8s.KubeConfig): { stop(): void } {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const patchStatus = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const claims = await core.listPersistentVolumeClaimForAllNamespaces();
        for (const claim of claims.items) {
          const cls = claim.spec?.storageClassName ?? '';
          if (!(STORAGE_CLASSES as readonly string[]).includes(cls) || claim.metadata?.deletionTimestamp)
            continue;
          const size = claim.spec?.resources?.requests?.storage ?? '1Gi';
          const pvName = `pv-${claim.metadata?.uid}`;
          if (!claim.spec?.volumeName && claim.status?.phase === 'Pending') {
            await core
              .createPersistentVolume({
                body: {
                  metadata: {
                    name: pvName,
                    annotations: { 'pv.kubernetes.io/provisioned-by': 'e2e.longbow.io/fake' },
                  },
                  spec: {
                    accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
                    capacity: { storage: size },
                    storageClassName: cls,
                    persistentVolumeReclaimPolicy: 'Delete',
                    claimRef: {
                      apiVersion: 'v1',
                      kind: 'PersistentVolumeClaim',
                      namespace: claim.metadata?.namespace,
                      name: claim.metadata?.name,
                      uid: claim.metadata?.uid,
                    },
                    hostPath: { path: `/tmp/longbow-e2e/${pvName}` },
                  },
                },
              })
              .catch(() => undefined);
          } else if (claim.status?.phase === 'Bound' && claim.status.capacity?.storage !== size) {
            const volumeName = claim.spec?.volumeName ?? '';
            await core.patchPersistentVolume(
              { name: volumeName, body: { spec: { capacity: { storage: size } } } },
              patchStatus,
            );
            await core.patchNamespacedPersistentVolumeClaimStatus(
              {
                name: claim.metadata?.name ?? '',
                namespace: claim.metadata?.namespace ?? '',
                body: { status: { capacity: { storage: size } } },
              },
              patchStatus,
            );
          }
        }
        // Released volumes of deleted claims go away, as with a real Delete reclaim policy.
        const volumes = await core.listPersistentVolume();
        for (const pv of volumes.items) {
          if (pv.status?.phase === 'Released' && pv.metadata?.name?.startsWith('pv-')) {
            await core.deletePersistentVolume({ name: pv.metadata.name }).catch(() => undefined);
          }
        }
      } catch {
        // The API server may be going away during stop(); try again.
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  void loop();
  return {
    stop() {
      stopped = true;
    },
  };
}
