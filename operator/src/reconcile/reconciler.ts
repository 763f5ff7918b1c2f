/**
 * Reconcile one LongbowCluster: observe, compare with the desired state from the pure
 * builders, act on the difference, report status. Level-triggered and idempotent: it reads
 * the world afresh every time and never relies on the event that woke it, so running it
 * twice, or after a crash half-way, converges on the same result.
 *
 * Order of a pass:
 * 1. cluster gone or being deleted → nothing (garbage collection follows owner references);
 * 2. storage grown → resize claims, delete the StatefulSet orphaning its pods, come back;
 * 3. server-side apply every desired object (unchanged objects stay unchanged), delete
 *    optional objects that are no longer wanted;
 * 4. rolling restart of outdated pods within `updateStrategy.maxUnavailable`;
 * 5. status and conditions.
 */
import { resolveSpec } from '../api/defaults.ts';
import {
  API_VERSION,
  type Condition,
  KIND,
  type LongbowCluster,
  type LongbowClusterSpec,
  type LongbowClusterStatus,
} from '../api/types.ts';
import { buildDesired, type DesiredObject } from '../builders/index.ts';
import { objectNames, selectorLabels } from '../builders/names.ts';
import { computeStatus, type PodObservation } from '../status/compute.ts';
import { errorMessage, type Kube, type KubeObject } from './kube.ts';
import { planRollout, podOrdinal } from './rollout.ts';
import { planExpansion } from './storage.ts';

/** What a pass asks of the controller: come back after this many milliseconds, or not. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

/** A structured log line sink. */
export type Logger = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

const SERVICE_MONITOR_CRD = 'servicemonitors.monitoring.coreos.com';
/** How often to look again while a rollout or expansion is under way. */
const PROGRESS_POLL_MS = 2000;

/** Optional objects: deleted when the spec stops asking for them. */
const OPTIONAL = [
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: (n: string) => objectNames(n).pdb },
  {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    name: (n: string) => objectNames(n).serviceMonitor,
  },
  { apiVersion: 'v1', kind: 'ConfigMap', name: (n: string) => objectNames(n).dashboards },
] as const;

function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function podObservation(setName: string, pod: KubeObject): PodObservation {
  const meta = pod.metadata ?? {};
  const status = (pod.status ?? {}) as {
    conditions?: { type: string; status: string; reason?: string }[];
    containerStatuses?: { state?: { waiting?: { reason?: string } } }[];
    podIP?: string;
  };
  const spec = (pod.spec ?? {}) as { nodeName?: string };
  const conditions = status.conditions ?? [];
  const failingReasons = new Set([
    'CrashLoopBackOff',
    'ImagePullBackOff',
    'ErrImagePull',
    'CreateContainerConfigError',
  ]);
  return {
    name: meta.name ?? '',
    ordinal: podOrdinal(setName, meta.name ?? ''),
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    revision: meta.labels?.['controller-revision-hash'],
    ...(status.podIP ? { podIP: status.podIP } : {}),
    ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
    unschedulable: conditions.some(
      (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
    ),
    failing: (status.containerStatuses ?? []).some((c) => failingReasons.has(c.state?.waiting?.reason ?? '')),
  };
}

function templateSizes(sts: KubeObject | DesiredObject): { name: string; size: string }[] {
  const templates =
    ((sts.spec as { volumeClaimTemplates?: unknown[] } | undefined)?.volumeClaimTemplates as {
      metadata?: { name?: string };
      spec?: { resources?: { requests?: { storage?: string } } };
    }[]) ?? [];
  return templates.map((t) => ({
    name: t.metadata?.name ?? '',
    size: t.spec?.resources?.requests?.storage ?? '0',
  }));
}

function sameStatus(a: Partial<LongbowClusterStatus> | undefined, b: LongbowClusterStatus): boolean {
  return JSON.stringify(a ?? {}) === JSON.stringify(b);
}

/** Reconciles LongbowClusters through a Kube adapter. */
export class Reconciler {
  readonly #kube: Kube;
  readonly #log: Logger;
  readonly #identity: string;

  /** `identity` names this operator replica in Events and logs. */
  constructor(kube: Kube, log: Logger, identity: string) {
    this.#kube = kube;
    this.#log = log;
    this.#identity = identity;
  }

  /** One reconcile pass for `namespace/name`. Throws on API errors (the controller backs off). */
  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const raw = await this.#kube.readCluster(namespace, name);
    if (!raw || raw.metadata?.deletionTimestamp) return {};
    const cluster = raw as unknown as LongbowCluster;
    this.#log('info', 'reconcile', {
      cluster: `${namespace}/${name}`,
      generation: cluster.metadata.generation,
    });
    try {
      return await this.#reconcile(cluster);
    } catch (error) {
      const message = errorMessage(error);
      await this.#event(cluster, 'Warning', 'ReconcileFailed', message);
      await this.#writeStatus(cluster, resolveSpec(cluster.spec), undefined, message).catch(() => undefined);
      throw error;
    }
  }

  async #reconcile(cluster: LongbowCluster): Promise<ReconcileResult> {
    const { namespace, name } = cluster.metadata;
    const spec = resolveSpec(cluster.spec);
    const desired = buildDesired(cluster, {
      serviceMonitorCrd: await this.#kube.crdExists(SERVICE_MONITOR_CRD),
    });
    const desiredSts = desired.find((o) => o.kind === 'StatefulSet')!;

    // 2. Storage growth.
    const liveSts = await this.#kube.read('apps/v1', 'StatefulSet', namespace, name);
    if (liveSts?.metadata?.deletionTimestamp) {
      await this.#writeStatus(cluster, spec, {
        reason: 'VolumeExpansion',
        message: 'recreating the StatefulSet',
      });
      return { requeueAfterMs: 500 };
    }
    if (liveSts) {
      const claims = await this.#kube.list(
        'v1',
        'PersistentVolumeClaim',
        namespace,
        labelSelector(selectorLabels(name)),
      );
      const plan = planExpansion({
        setName: name,
        liveTemplates: templateSizes(liveSts),
        desiredTemplates: templateSizes(desiredSts),
        claims: claims.map((c) => ({
          name: c.metadata?.name ?? '',
          size:
            (c.spec as { resources?: { requests?: { storage?: string } } })?.resources?.requests?.storage ??
            '0',
        })),
      });
      for (const claim of plan.resize) {
        await this.#kube.mergePatch({
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: claim.name, namespace },
          spec: { resources: { requests: { storage: claim.size } } },
        });
        await this.#event(
          cluster,
          'Normal',
          'ExpandingVolume',
          `resized claim ${claim.name} to ${claim.size}`,
        );
      }
      if (plan.recreateStatefulSet) {
        await this.#kube.delete('apps/v1', 'StatefulSet', namespace, name, 'Orphan');
        await this.#event(
          cluster,
          'Normal',
          'RecreatingStatefulSet',
          'volume claim templates grew; StatefulSet deleted with its pods orphaned and will be recreated',
        );
        await this.#writeStatus(cluster, spec, {
          reason: 'VolumeExpansion',
          message: 'recreating the StatefulSet',
        });
        return { requeueAfterMs: 500 };
      }
    }

    // 3. Apply.
    for (const object of desired) {
      const before = await this.#kube.read(object.apiVersion, object.kind, namespace, object.metadata.name);
      const after = await this.#kube.apply(object);
      if (!before) {
        await this.#event(cluster, 'Normal', 'Created', `created ${object.kind} ${object.metadata.name}`);
      } else if (before.metadata?.resourceVersion !== after.metadata?.resourceVersion) {
        await this.#event(cluster, 'Normal', 'Updated', `updated ${object.kind} ${object.metadata.name}`);
      }
    }
    for (const optional of OPTIONAL) {
      const objectName = optional.name(name);
      if (desired.some((o) => o.kind === optional.kind && o.metadata.name === objectName)) continue;
      if (optional.kind === 'ServiceMonitor' && !(await this.#kube.crdExists(SERVICE_MONITOR_CRD))) continue;
      const live = await this.#kube.read(optional.apiVersion, optional.kind, namespace, objectName);
      if (live?.metadata?.ownerReferences?.some((r) => r.uid === cluster.metadata.uid)) {
        await this.#kube.delete(optional.apiVersion, optional.kind, namespace, objectName);
        await this.#event(cluster, 'Normal', 'Deleted', `deleted ${optional.kind} ${objectName}`);
      }
    }

    // 4. Rolling restart.
    const sts = await this.#kube.read('apps/v1', 'StatefulSet', namespace, name);
    const stsStatus = (sts?.status ?? {}) as { observedGeneration?: number; updateRevision?: string };
    const observed = stsStatus.observedGeneration === sts?.metadata?.generation;
    const pods = (await this.#kube.list('v1', 'Pod', namespace, labelSelector(selectorLabels(name)))).map(
      (p) => podObservation(name, p),
    );
    const plan = planRollout({
      pods,
      replicas: spec.replicas,
      updateRevision: observed ? stsStatus.updateRevision : undefined,
      maxUnavailable: spec.updateStrategy.maxUnavailable,
    });
    for (const podName of plan.deletePods) {
      await this.#kube.delete('v1', 'Pod', namespace, podName);
      this.#log('info', 'restarting pod for update', { cluster: `${namespace}/${name}`, pod: podName });
      await this.#event(
        cluster,
        'Normal',
        'RestartingPod',
        `restarting ${podName} to apply the new template`,
      );
    }

    // 5. Status.
    const status = await this.#writeStatus(cluster, spec, undefined, undefined, {
      updateRevision: observed ? stsStatus.updateRevision : undefined,
      observed,
      pods,
    });
    const busy = status.conditions.some((c) => c.type === 'Progressing' && c.status === 'True');
    return busy ? { requeueAfterMs: PROGRESS_POLL_MS } : {};
  }

  async #writeStatus(
    cluster: LongbowCluster,
    spec: LongbowClusterSpec,
    pendingWork?: { reason: string; message: string },
    reconcileError?: string,
    observed?: { updateRevision: string | undefined; observed: boolean; pods: PodObservation[] },
  ): Promise<LongbowClusterStatus> {
    const { namespace, name } = cluster.metadata;
    let view = observed;
    if (!view) {
      const pods = (await this.#kube.list('v1', 'Pod', namespace, labelSelector(selectorLabels(name)))).map(
        (p) => podObservation(name, p),
      );
      view = { updateRevision: undefined, observed: false, pods };
    }
    const status = computeStatus({
      generation: cluster.metadata.generation ?? 0,
      spec,
      updateRevision: view.updateRevision,
      statefulSetObserved: view.observed,
      pods: view.pods,
      ...(pendingWork ? { pendingWork } : {}),
      ...(reconcileError !== undefined ? { reconcileError } : {}),
      previous: (cluster.status?.conditions ?? []) as Condition[],
      nowIso: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    if (!sameStatus(cluster.status, status)) {
      await this.#kube.patchClusterStatus(namespace, name, status);
      const before = cluster.status?.phase;
      if (before !== status.phase) {
        await this.#event(cluster, 'Normal', 'PhaseChanged', `phase ${before ?? 'none'} → ${status.phase}`);
      }
    }
    return status;
  }

  async #event(
    cluster: LongbowCluster,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const error = await this.#kube.event(
      {
        apiVersion: API_VERSION,
        kind: KIND,
        name: cluster.metadata.name,
        namespace: cluster.metadata.namespace,
        ...(cluster.metadata.uid ? { uid: cluster.metadata.uid } : {}),
      },
      type,
      reason,
      message,
      this.#identity,
    );
    if (error) this.#log('warn', 'could not record event', { reason, error: error.message });
  }
}
