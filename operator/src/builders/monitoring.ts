/**
 * Observability objects: a ServiceMonitor for the Prometheus operator (built only when its
 * CRD is installed; the reconciler checks) and a ConfigMap with the Grafana dashboards,
 * labelled `grafana_dashboard: "1"` so Grafana's dashboard sidecar picks it up.
 */
import type { LongbowClusterSpec, ObjectMeta } from '../api/types.ts';
import { DASHBOARDS } from './dashboards.ts';
import { LABEL, objectNames, ownedMeta } from './names.ts';

/** The desired ServiceMonitor, or undefined when disabled. Pure. */
export function buildServiceMonitor(meta: ObjectMeta, spec: LongbowClusterSpec) {
  if (!spec.monitoring.serviceMonitor.enabled) return undefined;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: ownedMeta(meta, objectNames(meta.name).serviceMonitor),
    spec: {
      selector: {
        matchLabels: { [LABEL.instance]: meta.name, [LABEL.name]: 'longbow', [LABEL.service]: 'metrics' },
      },
      endpoints: [{ port: 'http', path: '/metrics', interval: spec.monitoring.serviceMonitor.interval }],
    },
  };
}

/** The desired dashboards ConfigMap, or undefined when disabled. Pure. */
export function buildDashboardsConfigMap(meta: ObjectMeta, spec: LongbowClusterSpec) {
  if (!spec.monitoring.dashboards.enabled) return undefined;
  const data: Record<string, string> = {};
  for (const dashboard of DASHBOARDS)
    data[`${dashboard.uid}.json`] = `${JSON.stringify(dashboard, null, 2)}\n`;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMeta(meta, objectNames(meta.name).dashboards, { grafana_dashboard: '1' }),
    data,
  };
}
