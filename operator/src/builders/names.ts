/**
 * Names, labels and owner references shared by every object built for one cluster.
 * Object names derive from the LongbowCluster name so two clusters in one namespace never
 * collide, and every object carries the same selector labels so the operator's informers
 * can map any owned object back to its cluster.
 */
import { API_VERSION, KIND, type ObjectMeta } from '../api/types.ts';

/** Ports of a Longbow node (DESIGN.md). */
export const PORTS = { data: 3000, meta: 3001, http: 9090 } as const;

/** Label set on every owned object; `instance` holds the cluster name. */
export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  service: 'longbow.io/service',
} as const;

/** Value of `app.kubernetes.io/managed-by` on owned objects; informers select on it. */
export const MANAGED_BY = 'longbow-operator';

/** Annotation on the pod template carrying the hash of the node configuration. */
export const CONFIG_HASH_ANNOTATION = 'longbow.io/config-hash';

/** Names of the objects of one cluster. */
export function objectNames(clusterName: string) {
  return {
    statefulSet: clusterName,
    headless: `${clusterName}-headless`,
    data: `${clusterName}-data`,
    meta: `${clusterName}-meta`,
    metrics: `${clusterName}-metrics`,
    config: `${clusterName}-config`,
    pdb: clusterName,
    serviceMonitor: clusterName,
    dashboards: `${clusterName}-dashboards`,
  } as const;
}

/** Labels that select the cluster's pods (immutable once the StatefulSet exists). */
export function selectorLabels(clusterName: string): Record<string, string> {
  return { [LABEL.name]: 'longbow', [LABEL.instance]: clusterName };
}

/** Labels for every owned object. */
export function commonLabels(clusterName: string): Record<string, string> {
  return { ...selectorLabels(clusterName), [LABEL.managedBy]: MANAGED_BY, [LABEL.component]: 'node' };
}

/** Owner reference that makes the cluster the controller of an object (GC deletes it). */
export function ownerReference(meta: ObjectMeta) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: meta.name,
    uid: meta.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Standard metadata of an owned object. */
export function ownedMeta(meta: ObjectMeta, name: string, extraLabels: Record<string, string> = {}) {
  return {
    name,
    namespace: meta.namespace,
    labels: { ...commonLabels(meta.name), ...extraLabels },
    ownerReferences: [ownerReference(meta)],
  };
}
