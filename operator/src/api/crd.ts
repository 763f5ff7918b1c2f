/**
 * The LongbowCluster CustomResourceDefinition, built in code so the schema, its defaults
 * (`defaults.ts`) and the TypeScript types (`types.ts`) cannot drift apart silently: the
 * chart's `crds/` file and `deploy/crds/` are generated from `buildCrd()` and a unit test
 * fails when they are stale.
 *
 * The schema is structural (every field typed, unknown fields pruned) and validates what
 * the API server can check on its own, so a bad spec is rejected at `kubectl apply` with a
 * message naming the field rather than discovered later by the operator:
 * - ranges and enums on scalar fields;
 * - CEL rules where one field depends on another or on the previous value
 *   (storage sizes may grow but not shrink; storage classes are immutable;
 *   `updateStrategy.maxUnavailable` may not exceed `replicas`).
 */
import { DEFAULTS } from './defaults.ts';
import { GROUP, KIND, PLURAL, VERSION } from './types.ts';

type Schema = Record<string, unknown>;

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const int = (extra: Schema = {}): Schema => ({ type: 'integer', format: 'int32', ...extra });
const bool = (def?: boolean): Schema =>
  def === undefined ? { type: 'boolean' } : { type: 'boolean', default: def };
const obj = (properties: Schema, extra: Schema = {}): Schema => ({ type: 'object', properties, ...extra });
const freeform = (description: string): Schema => ({
  type: 'object',
  description,
  'x-kubernetes-preserve-unknown-fields': true,
});
const QUANTITY_PATTERN = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';

function volume(description: string, defaultSize: string): Schema {
  return obj(
    {
      storageClassName: str({
        description: 'Storage class of the claim; omitted means the default class. Immutable.',
        minLength: 1,
      }),
      size: str({
        description: 'Requested size, e.g. 20Gi. May grow, never shrink.',
        pattern: QUANTITY_PATTERN,
        default: defaultSize,
        'x-kubernetes-validations': [
          {
            rule: 'quantity(self).compareTo(quantity(oldSelf)) >= 0',
            message: 'storage size may grow but not shrink',
          },
        ],
      }),
    },
    {
      description,
      default: {},
      'x-kubernetes-validations': [
        {
          rule: "(has(self.storageClassName) ? self.storageClassName : '') == (has(oldSelf.storageClassName) ? oldSelf.storageClassName : '')",
          message: 'storageClassName is immutable',
        },
      ],
    },
  );
}

const resourceMap: Schema = {
  type: 'object',
  additionalProperties: { 'x-kubernetes-int-or-string': true, pattern: QUANTITY_PATTERN },
};

/** OpenAPI v3 schema of `spec`. */
export const specSchema: Schema = obj(
  {
    replicas: int({
      description: 'Number of Longbow nodes.',
      minimum: 1,
      maximum: 1000,
      default: DEFAULTS.replicas,
    }),
    image: str({ description: 'Node image.', minLength: 1, default: DEFAULTS.image }),
    imagePullPolicy: str({ enum: ['Always', 'IfNotPresent', 'Never'], default: DEFAULTS.imagePullPolicy }),
    imagePullSecrets: {
      type: 'array',
      items: obj({ name: str({ minLength: 1 }) }, { required: ['name'] }),
    },
    resources: obj(
      { requests: resourceMap, limits: resourceMap },
      { description: 'Node container resources.' },
    ),
    storage: obj(
      {
        wal: volume(
          'Write-ahead log volume (LONGBOW_DATA_PATH); put it on a fast class (NVMe).',
          DEFAULTS.walSize,
        ),
        snapshots: volume(
          'Snapshot volume (LONGBOW_SNAPSHOT_PATH); a cheap class (HDD) is fine.',
          DEFAULTS.snapshotsSize,
        ),
        retainOnScaleDown: {
          ...bool(DEFAULTS.retainOnScaleDown),
          description: 'Keep the claims of removed ordinals on scale-down.',
        },
        retainOnDelete: {
          ...bool(DEFAULTS.retainOnDelete),
          description: 'Keep the claims when the LongbowCluster is deleted.',
        },
      },
      { default: {} },
    ),
    s3: obj(
      {
        bucket: str({ minLength: 3, maxLength: 63 }),
        prefix: str(),
        region: str(),
        endpoint: str({ pattern: '^https?://', description: 'Endpoint URL of an S3-compatible store.' }),
        usePathStyle: bool(),
        credentialsSecret: obj(
          {
            name: str({ minLength: 1 }),
            accessKeyIdKey: str({ default: 'AWS_ACCESS_KEY_ID' }),
            secretAccessKeyKey: str({ default: 'AWS_SECRET_ACCESS_KEY' }),
          },
          { required: ['name'] },
        ),
      },
      { description: 'Store snapshots in S3 instead of the snapshot volume.', required: ['bucket'] },
    ),
    config: obj(
      {
        maxMemoryBytes: {
          type: 'integer',
          format: 'int64',
          minimum: 16777216,
          description: 'LONGBOW_MAX_MEMORY',
        },
        snapshotInterval: str({ pattern: '^([0-9]+(ms|s|m|h))+$', description: 'LONGBOW_SNAPSHOT_INTERVAL' }),
        maxWalSizeBytes: {
          type: 'integer',
          format: 'int64',
          minimum: 1048576,
          description: 'LONGBOW_MAX_WAL_SIZE',
        },
        asyncFsync: { ...bool(), description: 'LONGBOW_STORAGE_ASYNC_FSYNC' },
        flightCompression: str({ enum: ['lz4', 'zstd', 'none'], description: 'LONGBOW_FLIGHT_COMPRESSION' }),
        extraEnv: {
          type: 'object',
          description: 'More LONGBOW_* variables, passed through.',
          additionalProperties: { type: 'string' },
          'x-kubernetes-validations': [
            {
              rule: "self.all(k, k.startsWith('LONGBOW_'))",
              message: 'extraEnv keys must start with LONGBOW_',
            },
          ],
        },
      },
      { default: {} },
    ),
    gossip: obj(
      { port: int({ minimum: 1024, maximum: 65535, default: DEFAULTS.gossipPort }) },
      { default: {} },
    ),
    podDisruptionBudget: obj(
      {
        enabled: bool(DEFAULTS.pdbEnabled),
        maxUnavailable: int({ minimum: 1, default: DEFAULTS.pdbMaxUnavailable }),
      },
      { default: {} },
    ),
    affinity: freeform('Pod affinity (core/v1 Affinity).'),
    topologySpreadConstraints: { type: 'array', items: freeform('core/v1 TopologySpreadConstraint') },
    tolerations: { type: 'array', items: freeform('core/v1 Toleration') },
    nodeSelector: { type: 'object', additionalProperties: { type: 'string' } },
    monitoring: obj(
      {
        serviceMonitor: obj(
          {
            enabled: bool(DEFAULTS.serviceMonitorEnabled),
            interval: str({ pattern: '^([0-9]+(ms|s|m|h))+$', default: DEFAULTS.serviceMonitorInterval }),
          },
          { default: {} },
        ),
        dashboards: obj({ enabled: bool(DEFAULTS.dashboardsEnabled) }, { default: {} }),
      },
      { default: {} },
    ),
    updateStrategy: obj(
      { maxUnavailable: int({ minimum: 1, default: DEFAULTS.updateMaxUnavailable }) },
      { default: {} },
    ),
    terminationGracePeriodSeconds: int({ minimum: 10, default: DEFAULTS.terminationGracePeriodSeconds }),
  },
  {
    'x-kubernetes-validations': [
      {
        rule: '!has(self.updateStrategy) || !has(self.updateStrategy.maxUnavailable) || self.updateStrategy.maxUnavailable <= self.replicas',
        message: 'updateStrategy.maxUnavailable must not exceed replicas',
      },
    ],
  },
);

const condition: Schema = obj(
  {
    type: str(),
    status: str({ enum: ['True', 'False', 'Unknown'] }),
    observedGeneration: { type: 'integer', format: 'int64' },
    lastTransitionTime: str({ format: 'date-time' }),
    reason: str(),
    message: str(),
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
);

/** OpenAPI v3 schema of `status`. */
export const statusSchema: Schema = obj({
  observedGeneration: { type: 'integer', format: 'int64' },
  replicas: int(),
  readyReplicas: int(),
  updatedReplicas: int(),
  ready: str({ description: 'ready/desired' }),
  phase: str({ enum: ['Pending', 'Progressing', 'Running', 'Degraded'] }),
  conditions: {
    type: 'array',
    items: condition,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  },
  members: {
    type: 'array',
    items: obj(
      {
        name: str(),
        ordinal: int(),
        ready: bool(),
        updated: bool(),
        podIP: str(),
        nodeName: str(),
      },
      { required: ['name', 'ordinal', 'ready', 'updated'] },
    ),
  },
});

/** The CustomResourceDefinition object for `longbowclusters.longbow.io`. Pure. */
export function buildCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'longbow-operator', 'app.kubernetes.io/part-of': 'longbow' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'longbowcluster',
        shortNames: ['lbc'],
        categories: ['longbow'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
            },
          },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.ready', description: 'ready/desired nodes' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Image', type: 'string', jsonPath: '.spec.image', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: obj(
              {
                apiVersion: str(),
                kind: str(),
                metadata: { type: 'object' },
                spec: { ...specSchema, default: {} },
                status: statusSchema,
              },
              { description: 'A Longbow vector database cluster.' },
            ),
          },
        },
      ],
    },
  };
}
