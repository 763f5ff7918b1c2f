/**
 * Prometheus alerting rules for Longbow clusters, as a PrometheusRule object. Written to
 * `deploy/prometheus/longbow-rules.yaml` and included by the operator chart when enabled.
 * Thresholds are starting points; each rule's annotation says what to look at.
 */

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly severity: 'warning' | 'critical';
  readonly summary: string;
}

const RULES: readonly Rule[] = [
  {
    alert: 'LongbowWalWriteErrors',
    expr: 'sum by (namespace, pod) (rate(longbow_wal_writes_total{status="error"}[5m])) > 0',
    for: '5m',
    severity: 'critical',
    summary:
      'WAL writes are failing on {{ $labels.pod }}: writes are not acknowledged; check the WAL volume.',
  },
  {
    alert: 'LongbowWalFsyncSlow',
    expr: 'histogram_quantile(0.99, sum by (le, namespace, pod) (rate(longbow_wal_fsync_duration_seconds_bucket[5m]))) > 0.1',
    for: '10m',
    severity: 'warning',
    summary: 'p99 WAL fsync above 100 ms on {{ $labels.pod }}: the WAL volume is too slow (is it on NVMe?).',
  },
  {
    alert: 'LongbowWalQueueBacklog',
    expr: 'max by (namespace, pod) (longbow_wal_queue_depth) > 1000',
    for: '5m',
    severity: 'warning',
    summary: 'WAL queue on {{ $labels.pod }} is backing up; clients will be told to slow down.',
  },
  {
    alert: 'LongbowFlightErrorRate',
    expr: 'sum by (namespace, pod) (rate(longbow_flight_requests_total{code!~"OK|0"}[5m])) / sum by (namespace, pod) (rate(longbow_flight_requests_total[5m])) > 0.05',
    for: '10m',
    severity: 'warning',
    summary: 'More than 5% of Flight calls on {{ $labels.pod }} fail.',
  },
  {
    alert: 'LongbowSearchLatencyHigh',
    expr: 'histogram_quantile(0.99, sum by (le, namespace, kind) (rate(longbow_search_duration_seconds_bucket[5m]))) > 0.5',
    for: '10m',
    severity: 'warning',
    summary: 'p99 {{ $labels.kind }} search latency above 500 ms in {{ $labels.namespace }}.',
  },
  {
    alert: 'LongbowIndexBacklog',
    expr: 'max by (namespace, pod, dataset) (longbow_index_queue_depth) > 100000',
    for: '15m',
    severity: 'warning',
    summary: 'Index of {{ $labels.dataset }} on {{ $labels.pod }} lags; searches fall back to exact scans.',
  },
  {
    alert: 'LongbowEventLoopLag',
    expr: 'max by (namespace, pod) (nodejs_eventloop_lag_seconds) > 0.5',
    for: '5m',
    severity: 'warning',
    summary: 'Event loop lag above 500 ms on {{ $labels.pod }}.',
  },
  {
    alert: 'LongbowSnapshotFailures',
    expr: 'sum by (namespace, pod) (increase(longbow_snapshot_operations_total{status="error"}[30m])) > 0',
    for: '0m',
    severity: 'critical',
    summary: 'Snapshots fail on {{ $labels.pod }}: the WAL cannot be truncated and will grow.',
  },
  {
    alert: 'LongbowGossipMemberSuspect',
    expr: 'max by (namespace, pod) (longbow_gossip_members{state=~"suspect|dead"}) > 0',
    for: '5m',
    severity: 'warning',
    summary: '{{ $labels.pod }} sees suspect or dead members.',
  },
];

/** The PrometheusRule object. Pure. */
export function buildPrometheusRule(namespace = 'monitoring') {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'longbow', namespace, labels: { 'app.kubernetes.io/part-of': 'longbow' } },
    spec: {
      groups: [
        {
          name: 'longbow',
          rules: RULES.map((r) => ({
            alert: r.alert,
            expr: r.expr,
            for: r.for,
            labels: { severity: r.severity },
            annotations: { summary: r.summary },
          })),
        },
      ],
    },
  };
}
