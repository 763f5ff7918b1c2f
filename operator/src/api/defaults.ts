/**
 * Defaults of the LongbowCluster spec, in one place: the CRD schema (`crd.ts`) publishes
 * them as OpenAPI defaults so the API server fills them in, and `resolveSpec` applies the
 * same values so the pure builders never see a missing field.
 */
import type { LongbowClusterSpec, LongbowClusterSpecInput } from './types.ts';

/** Default node image; the chart and the sample override it with a pinned tag. */
export const DEFAULT_IMAGE = 'longbow/longbow:0.1.0';

/** Every defaulted spec field and its default value. */
export const DEFAULTS = {
  replicas: 3,
  image: DEFAULT_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  walSize: '10Gi',
  snapshotsSize: '50Gi',
  retainOnScaleDown: true,
  retainOnDelete: true,
  gossipPort: 7946,
  pdbEnabled: true,
  pdbMaxUnavailable: 1,
  serviceMonitorEnabled: true,
  serviceMonitorInterval: '30s',
  dashboardsEnabled: true,
  updateMaxUnavailable: 1,
  /** Long enough to drain calls, flush the WAL and write the shutdown snapshot. */
  terminationGracePeriodSeconds: 120,
} as const;

/** Fills every default into a (possibly partial) spec. Pure. */
export function resolveSpec(input: LongbowClusterSpecInput | undefined): LongbowClusterSpec {
  const s = input ?? {};
  const spec: LongbowClusterSpec = {
    replicas: s.replicas ?? DEFAULTS.replicas,
    image: s.image ?? DEFAULTS.image,
    imagePullPolicy: s.imagePullPolicy ?? DEFAULTS.imagePullPolicy,
    storage: {
      wal: { ...s.storage?.wal, size: s.storage?.wal?.size ?? DEFAULTS.walSize },
      snapshots: { ...s.storage?.snapshots, size: s.storage?.snapshots?.size ?? DEFAULTS.snapshotsSize },
      retainOnScaleDown: s.storage?.retainOnScaleDown ?? DEFAULTS.retainOnScaleDown,
      retainOnDelete: s.storage?.retainOnDelete ?? DEFAULTS.retainOnDelete,
    },
    config: { ...s.config } as LongbowClusterSpec['config'],
    gossip: { port: s.gossip?.port ?? DEFAULTS.gossipPort },
    podDisruptionBudget: {
      enabled: s.podDisruptionBudget?.enabled ?? DEFAULTS.pdbEnabled,
      maxUnavailable: s.podDisruptionBudget?.maxUnavailable ?? DEFAULTS.pdbMaxUnavailable,
    },
    monitoring: {
      serviceMonitor: {
        enabled: s.monitoring?.serviceMonitor?.enabled ?? DEFAULTS.serviceMonitorEnabled,
        interval: s.monitoring?.serviceMonitor?.interval ?? DEFAULTS.serviceMonitorInterval,
      },
      dashboards: { enabled: s.monitoring?.dashboards?.enabled ?? DEFAULTS.dashboardsEnabled },
    },
    updateStrategy: { maxUnavailable: s.updateStrategy?.maxUnavailable ?? DEFAULTS.updateMaxUnavailable },
    terminationGracePeriodSeconds: s.terminationGracePeriodSeconds ?? DEFAULTS.terminationGracePeriodSeconds,
  };
  const optional: Partial<Record<keyof LongbowClusterSpec, unknown>> = {
    imagePullSecrets: s.imagePullSecrets,
    resources: s.resources,
    s3: s.s3,
    affinity: s.affinity,
    topologySpreadConstraints: s.topologySpreadConstraints,
    tolerations: s.tolerations,
    nodeSelector: s.nodeSelector,
  };
  const out: Record<string, unknown> = { ...spec };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) out[key] = value;
  return out as unknown as LongbowClusterSpec;
}
