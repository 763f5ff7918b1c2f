/**
 * The cluster's Services:
 * - `<name>-headless`: peer DNS for gossip seeds and node-to-node forwarding. It publishes
 *   not-ready addresses, because a starting node must be able to find its peers before it
 *   is ready (it becomes ready only after joining and replaying its WAL).
 * - `<name>-data` (3000) and `<name>-meta` (3001): what clients connect to. Two Services so
 *   heavy data transfers and metadata calls can be exposed and scaled separately.
 * - `<name>-metrics` (9090): what the ServiceMonitor scrapes.
 */
import type { LongbowClusterSpec, ObjectMeta } from '../api/types.ts';
import { LABEL, objectNames, ownedMeta, PORTS, selectorLabels } from './names.ts';

function service(meta: ObjectMeta, name: string, role: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(meta, name, { [LABEL.service]: role }),
    spec: { selector: selectorLabels(meta.name), ...spec },
  };
}

/** All four Services of a cluster. Pure. */
export function buildServices(meta: ObjectMeta, spec: LongbowClusterSpec) {
  const names = objectNames(meta.name);
  const gossip = spec.gossip.port;
  return [
    service(meta, names.headless, 'peers', {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      ports: [
        { name: 'gossip-udp', port: gossip, targetPort: gossip, protocol: 'UDP' },
        { name: 'gossip-tcp', port: gossip, targetPort: gossip, protocol: 'TCP' },
        { name: 'data', port: PORTS.data, targetPort: 'data', protocol: 'TCP' },
        { name: 'meta', port: PORTS.meta, targetPort: 'meta', protocol: 'TCP' },
      ],
    }),
    service(meta, names.data, 'data', {
      type: 'ClusterIP',
      ports: [{ name: 'data', port: PORTS.data, targetPort: 'data', protocol: 'TCP', appProtocol: 'grpc' }],
    }),
    service(meta, names.meta, 'meta', {
      type: 'ClusterIP',
      ports: [{ name: 'meta', port: PORTS.meta, targetPort: 'meta', protocol: 'TCP', appProtocol: 'grpc' }],
    }),
    service(meta, names.metrics, 'metrics', {
      type: 'ClusterIP',
      ports: [{ name: 'http', port: PORTS.http, targetPort: 'http', protocol: 'TCP' }],
    }),
  ];
}
