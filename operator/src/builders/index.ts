/**
 * Spec → desired objects: the whole pure core of the operator. `buildDesired` takes a
 * LongbowCluster (defaults filled by `resolveSpec`) and what the reconciler learned about
 * the cluster it runs in (is the Prometheus operator installed?) and returns every object
 * the cluster should own, in apply order. No I/O, no clock: golden tests pin its output.
 */
import { resolveSpec } from '../api/defaults.ts';
import type { LongbowCluster, LongbowClusterSpec } from '../api/types.ts';
import { buildConfigMap } from './config.ts';
import { buildDashboardsConfigMap, buildServiceMonitor } from './monitoring.ts';
import { buildPodDisruptionBudget } from './policy.ts';
import { buildServices } from './services.ts';
import { buildStatefulSet } from './statefulset.ts';

/** Facts about the target cluster that change what gets built. */
export interface Environment {
  /** True when the `servicemonitors.monitoring.coreos.com` CRD exists. */
  readonly serviceMonitorCrd: boolean;
}

/** A Kubernetes object as the builders emit it. */
export interface DesiredObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** Every object the cluster should own, in apply order (config before the pods using it). Pure. */
export function buildDesired(cluster: LongbowCluster, env: Environment): DesiredObject[] {
  const spec: LongbowClusterSpec = resolveSpec(cluster.spec);
  const meta = cluster.metadata;
  const objects: (DesiredObject | undefined)[] = [
    buildConfigMap(meta, spec),
    ...buildServices(meta, spec),
    buildPodDisruptionBudget(meta, spec),
    env.serviceMonitorCrd ? buildServiceMonitor(meta, spec) : undefined,
    buildDashboardsConfigMap(meta, spec),
    buildStatefulSet(meta, spec),
  ];
  return objects.filter((o): o is DesiredObject => o !== undefined);
}
