/**
 * The node configuration: the `LONGBOW_*` environment a pod starts with. Settings that are
 * the same for every pod go into the cluster's ConfigMap (and its hash into the pod
 * template, so a change rolls the pods); settings that differ per pod (node id, advertise
 * address) are computed by the kubelet from the downward API.
 */
import { createHash } from 'node:crypto';
import type { LongbowClusterSpec, ObjectMeta } from '../api/types.ts';
import { objectNames, ownedMeta, PORTS } from './names.ts';

/** Where the two volumes are mounted in the container. */
export const MOUNT = { wal: '/data', snapshots: '/snapshots' } as const;

/** The shared environment of every node of a cluster, sorted by name. Pure. */
export function nodeEnvironment(meta: ObjectMeta, spec: LongbowClusterSpec): Record<string, string> {
  const names = objectNames(meta.name);
  const env: Record<string, string> = {
    LONGBOW_LISTEN_ADDR: `0.0.0.0:${PORTS.data}`,
    LONGBOW_META_ADDR: `0.0.0.0:${PORTS.meta}`,
    LONGBOW_METRICS_ADDR: `0.0.0.0:${PORTS.http}`,
    LONGBOW_DATA_PATH: MOUNT.wal,
    LONGBOW_SNAPSHOT_PATH: MOUNT.snapshots,
    LONGBOW_GOSSIP_ENABLED: 'true',
    LONGBOW_GOSSIP_PORT: String(spec.gossip.port),
    LONGBOW_GOSSIP_DNS_RECORD: `${names.headless}.${meta.namespace}.svc`,
  };
  const c = spec.config;
  if (c.maxMemoryBytes !== undefined) env.LONGBOW_MAX_MEMORY = String(c.maxMemoryBytes);
  if (c.snapshotInterval !== undefined) env.LONGBOW_SNAPSHOT_INTERVAL = c.snapshotInterval;
  if (c.maxWalSizeBytes !== undefined) env.LONGBOW_MAX_WAL_SIZE = String(c.maxWalSizeBytes);
  if (c.asyncFsync !== undefined) env.LONGBOW_STORAGE_ASYNC_FSYNC = String(c.asyncFsync);
  if (c.flightCompression !== undefined) env.LONGBOW_FLIGHT_COMPRESSION = c.flightCompression;
  if (spec.s3) {
    env.LONGBOW_STORAGE_BACKEND = 's3';
    env.LONGBOW_S3_BUCKET = spec.s3.bucket;
    if (spec.s3.prefix !== undefined) env.LONGBOW_S3_PREFIX = spec.s3.prefix;
    if (spec.s3.region !== undefined) env.LONGBOW_S3_REGION = spec.s3.region;
    if (spec.s3.endpoint !== undefined) env.LONGBOW_S3_ENDPOINT = spec.s3.endpoint;
    if (spec.s3.usePathStyle !== undefined) env.LONGBOW_S3_USE_PATH_STYLE = String(spec.s3.usePathStyle);
  }
  for (const [key, value] of Object.entries(c.extraEnv ?? {})) env[key] = value;
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => a.localeCompare(b)));
}

/** Stable short hash of the environment: changes exactly when a value changes. Pure. */
export function configHash(env: Record<string, string>): string {
  const canonical = JSON.stringify(Object.entries(env).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** The cluster's ConfigMap. Pure. */
export function buildConfigMap(meta: ObjectMeta, spec: LongbowClusterSpec) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMeta(meta, objectNames(meta.name).config),
    data: nodeEnvironment(meta, spec),
  };
}
