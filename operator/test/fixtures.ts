// Sample LongbowClusters shared by the unit tests.
import type { LongbowCluster, LongbowClusterSpecInput } from '../src/api/types.ts';

/** A cluster with the given spec in namespace `data`. */
export function cluster(spec: LongbowClusterSpecInput, name = 'vectors'): LongbowCluster {
  return {
    apiVersion: 'longbow.io/v1alpha1',
    kind: 'LongbowCluster',
    metadata: { name, namespace: 'data', uid: '11111111-2222-3333-4444-555555555555', generation: 4 },
    spec,
  };
}

/** A spec that sets every field. */
export const FULL_SPEC: LongbowClusterSpecInput = {
  replicas: 5,
  image: 'registry.example/longbow:1.2.3',
  imagePullPolicy: 'Always',
  imagePullSecrets: [{ name: 'pull' }],
  resources: { requests: { cpu: '2', memory: '8Gi' }, limits: { memory: '8Gi' } },
  storage: {
    wal: { storageClassName: 'nvme', size: '20Gi' },
    snapshots: { storageClassName: 'hdd', size: '200Gi' },
    retainOnScaleDown: false,
    retainOnDelete: true,
  },
  s3: {
    bucket: 'longbow-snapshots',
    prefix: 'prod',
    region: 'eu-west-1',
    endpoint: 'http://minio.storage:9000',
    usePathStyle: true,
    credentialsSecret: { name: 's3-creds' },
  },
  config: {
    maxMemoryBytes: 6442450944,
    snapshotInterval: '10m',
    maxWalSizeBytes: 268435456,
    asyncFsync: false,
    flightCompression: 'zstd',
    extraEnv: { LONGBOW_ROUTING_MODE: 'redirect' },
  },
  gossip: { port: 7947 },
  podDisruptionBudget: { enabled: true, maxUnavailable: 2 },
  affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
  topologySpreadConstraints: [
    { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
  ],
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'longbow', effect: 'NoSchedule' }],
  nodeSelector: { 'longbow.io/pool': 'vectors' },
  monitoring: { serviceMonitor: { enabled: true, interval: '15s' }, dashboards: { enabled: true } },
  updateStrategy: { maxUnavailable: 2 },
  terminationGracePeriodSeconds: 300,
};
