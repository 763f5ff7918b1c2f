/**
 * The StatefulSet that runs the Longbow nodes.
 *
 * Choices and why:
 * - `podManagementPolicy: Parallel`: nodes find each other by gossip, not by start order,
 *   so all pods start (and stop) at once.
 * - `updateStrategy: OnDelete`: the operator itself rolls pods one at a time, honouring
 *   `spec.updateStrategy.maxUnavailable` and waiting for readiness (see reconcile/rollout.ts);
 *   doing it in the operator makes the rollout resumable after an operator restart.
 * - Two volume claim templates, `wal` and `snapshots`, each with its own storage class.
 * - The pod template carries the ConfigMap's hash, so a config change is a template change.
 * - `terminationGracePeriodSeconds` covers drain + WAL flush + the shutdown snapshot; a short
 *   preStop sleep lets endpoints drop the pod before SIGTERM.
 */
import type { LongbowClusterSpec, ObjectMeta, VolumeSpec } from '../api/types.ts';
import { configHash, MOUNT, nodeEnvironment } from './config.ts';
import {
  CONFIG_HASH_ANNOTATION,
  commonLabels,
  objectNames,
  ownedMeta,
  PORTS,
  selectorLabels,
} from './names.ts';

/** UID/GID the node runs as (matches the image's `longbow` user). */
export const NODE_UID = 10001;

/** Name of the node container. */
export const CONTAINER_NAME = 'longbow';

function claimTemplate(clusterName: string, name: 'wal' | 'snapshots', volume: VolumeSpec) {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, labels: { ...selectorLabels(clusterName), 'longbow.io/volume': name } },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(volume.storageClassName === undefined ? {} : { storageClassName: volume.storageClassName }),
      resources: { requests: { storage: volume.size } },
    },
  };
}

function s3CredentialEnv(spec: LongbowClusterSpec) {
  const secret = spec.s3?.credentialsSecret;
  if (!secret) return [];
  return [
    {
      name: 'AWS_ACCESS_KEY_ID',
      valueFrom: { secretKeyRef: { name: secret.name, key: secret.accessKeyIdKey ?? 'AWS_ACCESS_KEY_ID' } },
    },
    {
      name: 'AWS_SECRET_ACCESS_KEY',
      valueFrom: {
        secretKeyRef: { name: secret.name, key: secret.secretAccessKeyKey ?? 'AWS_SECRET_ACCESS_KEY' },
      },
    },
  ];
}

/** The desired StatefulSet. Pure. */
export function buildStatefulSet(meta: ObjectMeta, spec: LongbowClusterSpec) {
  const names = objectNames(meta.name);
  const hash = configHash(nodeEnvironment(meta, spec));
  const httpProbe = (path: string) => ({ httpGet: { path, port: 'http' } });
  const podSpec: Record<string, unknown> = {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: NODE_UID,
      runAsGroup: NODE_UID,
      fsGroup: NODE_UID,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [
      {
        name: CONTAINER_NAME,
        image: spec.image,
        imagePullPolicy: spec.imagePullPolicy,
        args: ['serve'],
        ports: [
          { name: 'data', containerPort: PORTS.data, protocol: 'TCP' },
          { name: 'meta', containerPort: PORTS.meta, protocol: 'TCP' },
          { name: 'http', containerPort: PORTS.http, protocol: 'TCP' },
          { name: 'gossip-udp', containerPort: spec.gossip.port, protocol: 'UDP' },
          { name: 'gossip-tcp', containerPort: spec.gossip.port, protocol: 'TCP' },
        ],
        envFrom: [{ configMapRef: { name: names.config } }],
        env: [
          { name: 'LONGBOW_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'LONGBOW_GOSSIP_ADVERTISE_ADDR', value: `$(POD_IP):${spec.gossip.port}` },
          ...s3CredentialEnv(spec),
        ],
        ...(spec.resources ? { resources: spec.resources } : {}),
        volumeMounts: [
          { name: 'wal', mountPath: MOUNT.wal },
          { name: 'snapshots', mountPath: MOUNT.snapshots },
          { name: 'tmp', mountPath: '/tmp' },
        ],
        startupProbe: { ...httpProbe('/healthz'), periodSeconds: 5, failureThreshold: 120 },
        livenessProbe: { ...httpProbe('/healthz'), periodSeconds: 10, failureThreshold: 6 },
        readinessProbe: { ...httpProbe('/readyz'), periodSeconds: 5, failureThreshold: 2 },
        lifecycle: { preStop: { sleep: { seconds: 5 } } },
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  };
  if (spec.imagePullSecrets) podSpec.imagePullSecrets = spec.imagePullSecrets;
  if (spec.affinity !== undefined) podSpec.affinity = spec.affinity;
  if (spec.topologySpreadConstraints) podSpec.topologySpreadConstraints = spec.topologySpreadConstraints;
  if (spec.tolerations) podSpec.tolerations = spec.tolerations;
  if (spec.nodeSelector) podSpec.nodeSelector = spec.nodeSelector;

  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: ownedMeta(meta, names.statefulSet),
    spec: {
      replicas: spec.replicas,
      serviceName: names.headless,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      persistentVolumeClaimRetentionPolicy: {
        whenScaled: spec.storage.retainOnScaleDown ? 'Retain' : 'Delete',
        whenDeleted: spec.storage.retainOnDelete ? 'Retain' : 'Delete',
      },
      selector: { matchLabels: selectorLabels(meta.name) },
      template: {
        metadata: { labels: commonLabels(meta.name), annotations: { [CONFIG_HASH_ANNOTATION]: hash } },
        spec: podSpec,
      },
      volumeClaimTemplates: [
        claimTemplate(meta.name, 'wal', spec.storage.wal),
        claimTemplate(meta.name, 'snapshots', spec.storage.snapshots),
      ],
    },
  };
}
