/**
 * The LongbowCluster custom resource (`longbow.io/v1alpha1`): what a user writes (spec) and
 * what the operator reports back (status).
 *
 * These types mirror the structural OpenAPI schema in `crd.ts`; the API server applies the
 * schema's defaults before the operator ever sees an object, and `resolveSpec` applies the
 * same defaults again so pure builders can be called with partial specs in tests.
 */

/** API group of every Longbow custom resource. */
export const GROUP = 'longbow.io';
/** Served and stored version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` field value. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Kind of the cluster resource. */
export const KIND = 'LongbowCluster';
/** Plural resource name used in URLs. */
export const PLURAL = 'longbowclusters';

/** Kubernetes object metadata fields the operator reads. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly deletionTimestamp?: string;
}

/** A persistent volume request: class and size (a Kubernetes quantity such as `20Gi`). */
export interface VolumeSpec {
  /** Storage class; omitted means the cluster's default class. Immutable. */
  readonly storageClassName?: string;
  /** Requested size; may grow, never shrink (enforced by a CEL rule). */
  readonly size: string;
}

/** The two volumes of every node and what happens to their claims. */
export interface StorageSpec {
  /** Write-ahead log volume (`LONGBOW_DATA_PATH`): small, fsync-heavy, belongs on NVMe. */
  readonly wal: VolumeSpec;
  /** Snapshot volume (`LONGBOW_SNAPSHOT_PATH`): large, sequential, fine on HDD. */
  readonly snapshots: VolumeSpec;
  /** Keep the claims of removed ordinals on scale-down (default true). */
  readonly retainOnScaleDown: boolean;
  /** Keep all claims when the LongbowCluster is deleted (default true). */
  readonly retainOnDelete: boolean;
}

/** Snapshots in S3 (or an S3-compatible store) instead of the local snapshot volume. */
export interface S3Spec {
  readonly bucket: string;
  readonly prefix?: string;
  readonly region?: string;
  /** Endpoint URL for S3-compatible stores; omitted means AWS. */
  readonly endpoint?: string;
  /** Path-style addressing (MinIO and most S3-compatible stores need it). */
  readonly usePathStyle?: boolean;
  /** Secret holding static credentials; omitted means the pod's ambient credentials. */
  readonly credentialsSecret?: {
    readonly name: string;
    readonly accessKeyIdKey?: string;
    readonly secretAccessKeyKey?: string;
  };
}

/** The node settings users tune; each maps to one `LONGBOW_*` environment variable. */
export interface NodeConfigSpec {
  /** `LONGBOW_MAX_MEMORY`: memory budget of the vector store in bytes. */
  readonly maxMemoryBytes?: number;
  /** `LONGBOW_SNAPSHOT_INTERVAL`: Go-style duration such as `5m` or `1h`. */
  readonly snapshotInterval?: string;
  /** `LONGBOW_MAX_WAL_SIZE`: WAL size in bytes that triggers a snapshot and truncation. */
  readonly maxWalSizeBytes?: number;
  /** `LONGBOW_STORAGE_ASYNC_FSYNC`: acknowledge before fsync (faster, loses the last ms). */
  readonly asyncFsync?: boolean;
  /** `LONGBOW_FLIGHT_COMPRESSION`: compression of DoGet streams. */
  readonly flightCompression?: 'lz4' | 'zstd' | 'none';
  /** Extra `LONGBOW_*` variables passed through verbatim. */
  readonly extraEnv?: Readonly<Record<string, string>>;
}

/** Prometheus and Grafana integration. */
export interface MonitoringSpec {
  readonly serviceMonitor: { readonly enabled: boolean; readonly interval: string };
  readonly dashboards: { readonly enabled: boolean };
}

/** Plain Kubernetes JSON (affinity, tolerations, resources): passed through unchanged. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** The desired state of one Longbow cluster. */
export interface LongbowClusterSpec {
  readonly replicas: number;
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  readonly imagePullSecrets?: readonly { readonly name: string }[];
  readonly resources?: {
    readonly requests?: Record<string, string>;
    readonly limits?: Record<string, string>;
  };
  readonly storage: StorageSpec;
  readonly s3?: S3Spec;
  readonly config: NodeConfigSpec;
  readonly gossip: { readonly port: number };
  readonly podDisruptionBudget: { readonly enabled: boolean; readonly maxUnavailable: number };
  readonly affinity?: Json;
  readonly topologySpreadConstraints?: readonly Json[];
  readonly tolerations?: readonly Json[];
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly monitoring: MonitoringSpec;
  readonly updateStrategy: { readonly maxUnavailable: number };
  /** Seconds a pod gets after SIGTERM to drain, flush the WAL and write its final snapshot. */
  readonly terminationGracePeriodSeconds: number;
}

/** A user-written spec before defaults: every defaulted field may be missing. */
export type LongbowClusterSpecInput = DeepPartial<LongbowClusterSpec>;

/** Recursive Partial for spec inputs. */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly U[]
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** Standard Kubernetes condition (metav1.Condition). */
export interface Condition {
  readonly type: ConditionType;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

/** Condition types the operator maintains. */
export const ConditionType = {
  /** Enough ready members to serve within the update budget. */
  Available: 'Available',
  /** A rollout, scale or volume expansion is under way. */
  Progressing: 'Progressing',
  /** Something needs a human: a failed reconcile, unschedulable or crashing pods. */
  Degraded: 'Degraded',
} as const;
/** One of the `ConditionType` values. */
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Cluster phase, a one-word summary of the conditions (see docs/operator.md). */
export const Phase = {
  Pending: 'Pending',
  Progressing: 'Progressing',
  Running: 'Running',
  Degraded: 'Degraded',
} as const;
/** One of the `Phase` values. */
export type Phase = (typeof Phase)[keyof typeof Phase];

/** One node of the cluster as the operator sees its pod. */
export interface MemberStatus {
  readonly name: string;
  readonly ordinal: number;
  readonly ready: boolean;
  /** True when the pod runs the StatefulSet's current template revision. */
  readonly updated: boolean;
  readonly podIP?: string;
  readonly nodeName?: string;
}

/** What the operator reports on the status subresource. */
export interface LongbowClusterStatus {
  readonly observedGeneration: number;
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly updatedReplicas: number;
  /** `ready/desired`, for the printer column. */
  readonly ready: string;
  readonly phase: Phase;
  readonly conditions: readonly Condition[];
  readonly members: readonly MemberStatus[];
}

/** A LongbowCluster as read from the API server. */
export interface LongbowCluster {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: typeof KIND;
  readonly metadata: ObjectMeta;
  readonly spec: LongbowClusterSpecInput;
  readonly status?: Partial<LongbowClusterStatus>;
}
