/**
 * The PodDisruptionBudget: voluntary evictions (node drains, cluster-autoscaler) may take at
 * most `spec.podDisruptionBudget.maxUnavailable` nodes at once, so data stays reachable on
 * its replicas during maintenance.
 */
import type { LongbowClusterSpec, ObjectMeta } from '../api/types.ts';
import { objectNames, ownedMeta, selectorLabels } from './names.ts';

/** The desired PodDisruptionBudget, or undefined when disabled. Pure. */
export function buildPodDisruptionBudget(meta: ObjectMeta, spec: LongbowClusterSpec) {
  if (!spec.podDisruptionBudget.enabled) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: ownedMeta(meta, objectNames(meta.name).pdb),
    spec: {
      maxUnavailable: spec.podDisruptionBudget.maxUnavailable,
      selector: { matchLabels: selectorLabels(meta.name) },
    },
  };
}
