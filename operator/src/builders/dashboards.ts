/**
 * Grafana dashboards for a Longbow cluster, as data. They are written to
 * `deploy/dashboards/*.json` by `npm run generate -w operator` and shipped by the operator
 * in each cluster's dashboards ConfigMap.
 *
 * Every PromQL expression names only metrics the node exports (packages/server/src/metrics.ts);
 * e2e/operator/metrics-contract.test.ts starts a real node and fails when a
 * dashboard names a metric the node does not export.
 */

/** A Grafana dashboard JSON model (the subset we emit). */
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly schemaVersion: number;
  readonly time: { readonly from: string; readonly to: string };
  readonly refresh: string;
  readonly templating: { readonly list: readonly object[] };
  readonly panels: readonly object[];
}

interface PanelInput {
  readonly title: string;
  readonly unit: string;
  readonly targets: readonly { readonly expr: string; readonly legend: string }[];
  readonly description?: string;
}

/** Grafana's reference to the dashboard's data source variable (Grafana syntax, not JS). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** Label matcher every expression uses: the dashboard's namespace and cluster variables. */
export const SEL = 'namespace="$namespace", service="$cluster-metrics"';

function dashboard(uid: string, title: string, panels: readonly PanelInput[]): Dashboard {
  return {
    uid,
    title,
    tags: ['longbow'],
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' },
        {
          name: 'namespace',
          type: 'query',
          datasource: DATASOURCE,
          query: 'label_values(longbow_wal_writes_total, namespace)',
          refresh: 2,
        },
        {
          name: 'cluster',
          type: 'query',
          datasource: DATASOURCE,
          query: 'label_values(longbow_wal_writes_total{namespace="$namespace"}, service)',
          regex: '/(.*)-metrics/',
          refresh: 2,
        },
      ],
    },
    panels: panels.map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      ...(p.description ? { description: p.description } : {}),
      datasource: DATASOURCE,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: p.targets.map((t, j) => ({
        refId: String.fromCharCode(65 + j),
        expr: t.expr,
        legendFormat: t.legend,
      })),
    })),
  };
}

const quantiles = (metric: string, by: string) =>
  [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket{${SEL}}[5m])))`,
    legend: `p${q * 100} {{${by}}}`,
  }));

/** The five dashboards: ingest, search latency, WAL and snapshots, memory, gossip and ring. */
export const DASHBOARDS: readonly Dashboard[] = [
  dashboard('longbow-ingest', 'Longbow / Ingest', [
    {
      title: 'Rows ingested per second',
      unit: 'rowsps',
      targets: [{ expr: `sum by (pod) (rate(longbow_ingest_rows_total{${SEL}}[5m]))`, legend: '{{pod}}' }],
    },
    {
      title: 'Bytes ingested per second',
      unit: 'Bps',
      targets: [{ expr: `sum by (pod) (rate(longbow_ingest_bytes_total{${SEL}}[5m]))`, legend: '{{pod}}' }],
    },
    {
      title: 'Flight requests by method and code',
      unit: 'reqps',
      targets: [
        {
          expr: `sum by (method, code) (rate(longbow_flight_requests_total{${SEL}}[5m]))`,
          legend: '{{method}} {{code}}',
        },
      ],
    },
    {
      title: 'Flight request latency (p99)',
      unit: 's',
      targets: [
        {
          expr: `histogram_quantile(0.99, sum by (le, method) (rate(longbow_flight_request_duration_seconds_bucket{${SEL}}[5m])))`,
          legend: '{{method}}',
        },
      ],
    },
  ]),
  dashboard('longbow-search', 'Longbow / Search latency', [
    { title: 'Search latency', unit: 's', targets: quantiles('longbow_search_duration_seconds', 'kind') },
    {
      title: 'Searches per second',
      unit: 'reqps',
      targets: [
        {
          expr: `sum by (kind) (rate(longbow_search_duration_seconds_count{${SEL}}[5m]))`,
          legend: '{{kind}}',
        },
      ],
    },
    {
      title: 'Index queue depth',
      unit: 'short',
      description: 'Rows written but not yet absorbed by the vector index (searched exactly meanwhile).',
      targets: [{ expr: `sum by (dataset) (longbow_index_queue_depth{${SEL}})`, legend: '{{dataset}}' }],
    },
  ]),
  dashboard('longbow-storage', 'Longbow / WAL and snapshots', [
    {
      title: 'WAL writes by status',
      unit: 'ops',
      targets: [
        { expr: `sum by (status) (rate(longbow_wal_writes_total{${SEL}}[5m]))`, legend: '{{status}}' },
      ],
    },
    {
      title: 'WAL bytes written per second',
      unit: 'Bps',
      targets: [
        { expr: `sum by (pod) (rate(longbow_wal_bytes_written_total{${SEL}}[5m]))`, legend: '{{pod}}' },
      ],
    },
    {
      title: 'WAL fsync latency',
      unit: 's',
      targets: quantiles('longbow_wal_fsync_duration_seconds', 'pod'),
    },
    {
      title: 'WAL queue depth',
      unit: 'short',
      targets: [{ expr: `max by (pod) (longbow_wal_queue_depth{${SEL}})`, legend: '{{pod}}' }],
    },
    {
      title: 'WAL replay duration at last start',
      unit: 's',
      // A histogram with one observation per start: sum / count is that start's replay.
      targets: [
        {
          expr: `max by (pod) (longbow_wal_replay_duration_seconds_sum{${SEL}} / longbow_wal_replay_duration_seconds_count{${SEL}})`,
          legend: '{{pod}}',
        },
      ],
    },
    {
      title: 'Snapshots and flushes by status',
      unit: 'ops',
      targets: [
        {
          expr: `sum by (status) (rate(longbow_snapshot_operations_total{${SEL}}[15m]))`,
          legend: 'snapshot {{status}}',
        },
        { expr: `sum by (status) (rate(longbow_flush_ops_total{${SEL}}[15m]))`, legend: 'flush {{status}}' },
      ],
    },
  ]),
  dashboard('longbow-memory', 'Longbow / Memory and datasets', [
    {
      title: 'Resident memory',
      unit: 'bytes',
      targets: [{ expr: `sum by (pod) (process_resident_memory_bytes{${SEL}})`, legend: '{{pod}}' }],
    },
    {
      title: 'V8 heap used',
      unit: 'bytes',
      targets: [{ expr: `sum by (pod) (nodejs_heap_size_used_bytes{${SEL}})`, legend: '{{pod}}' }],
    },
    {
      title: 'Event loop lag',
      unit: 's',
      targets: [{ expr: `max by (pod) (nodejs_eventloop_lag_seconds{${SEL}})`, legend: '{{pod}}' }],
    },
    {
      title: 'Dataset bytes',
      unit: 'bytes',
      targets: [{ expr: `sum by (dataset) (longbow_dataset_bytes{${SEL}})`, legend: '{{dataset}}' }],
    },
    {
      title: 'Dataset records, index size and tombstones',
      unit: 'short',
      targets: [
        { expr: `sum by (dataset) (longbow_dataset_records{${SEL}})`, legend: 'records {{dataset}}' },
        { expr: `sum by (dataset) (longbow_index_size{${SEL}})`, legend: 'indexed {{dataset}}' },
        { expr: `sum by (dataset) (longbow_tombstones{${SEL}})`, legend: 'tombstones {{dataset}}' },
      ],
    },
  ]),
  dashboard('longbow-cluster', 'Longbow / Gossip and ring', [
    {
      title: 'Members by state',
      unit: 'short',
      targets: [{ expr: `max by (state) (longbow_gossip_members{${SEL}})`, legend: '{{state}}' }],
    },
    {
      title: 'Gossip messages per second',
      unit: 'pps',
      targets: [
        {
          expr: `sum by (type, direction) (rate(longbow_gossip_messages_total{${SEL}}[5m]))`,
          legend: '{{type}} {{direction}}',
        },
      ],
    },
    {
      title: 'Nodes on the ring (per observer)',
      unit: 'short',
      targets: [{ expr: `min by (pod) (longbow_ring_nodes{${SEL}})`, legend: '{{pod}}' }],
    },
  ]),
];
