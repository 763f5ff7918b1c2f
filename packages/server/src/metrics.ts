/**
 * The node's Prometheus metrics (prom-client). Names are part of the contract
 * (DESIGN.md, "Metrics"): dashboards and alerts in deploy/ use exactly these.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | longbow_wal_writes_total | counter | status (ok, error) |
 * | longbow_wal_bytes_written_total | counter | |
 * | longbow_wal_fsync_duration_seconds | histogram | |
 * | longbow_wal_group_commit_entries | histogram | |
 * | longbow_wal_queue_depth | gauge | |
 * | longbow_wal_size_bytes | gauge | |
 * | longbow_wal_replay_duration_seconds | histogram | (one observation per start-up) |
 * | longbow_wal_ack_duration_seconds | histogram | |
 * | longbow_wal_queue_bytes | gauge | |
 * | longbow_flush_ops_total | counter | status (ok, error) |
 * | longbow_snapshot_operations_total | counter | status (ok, error) |
 * | longbow_snapshot_duration_seconds | histogram | |
 * | longbow_snapshot_size_bytes | gauge | dataset (the last snapshot written) |
 * | longbow_s3_requests_total | counter | operation (PutObject, GetObject, …), outcome (ok, error) |
 * | longbow_compaction_merges_total | counter | |
 * | longbow_memory_limit_rejections_total | counter | |
 * | longbow_index_worker_restarts_total | counter | |
 * | longbow_flight_requests_total | counter | method, code |
 * | longbow_flight_request_duration_seconds | histogram | method |
 * | longbow_ingest_rows_total, longbow_ingest_bytes_total | counter | |
 * | longbow_search_duration_seconds | histogram | kind (knn, filtered) |
 * | longbow_dataset_records, longbow_dataset_bytes | gauge | dataset |
 * | longbow_index_size, longbow_tombstones, longbow_index_queue_depth | gauge | dataset |
 * | longbow_search_strategy_total | counter | dataset, strategy (unfiltered, post_filter, fallback, traversal_filter, exact) |
 * | longbow_memory_limit_bytes | gauge | |
 * | longbow_gossip_members | gauge | state (alive, suspect, dead, left) |
 * | longbow_gossip_messages_total | counter | type, direction (sent, received) |
 * | longbow_ring_nodes | gauge | |
 * | longbow_proxy_requests_total | counter | method, outcome (local, forwarded, redirected, unavailable) |
 * | longbow_forward_duration_seconds | histogram | method |
 * The cluster metrics are registered always (zero on a node without gossip), so dashboards
 * find them everywhere.
 * plus prom-client's default `process_*` and `nodejs_*` metrics.
 */
import client from 'prom-client';
import { SEARCH_STRATEGIES, type SearchStrategy } from './index/protocol.ts';
import type { Store } from './store/store.ts';
import type { Wal } from './wal/wal.ts';

/** What the cluster metrics read from the running cluster part (src/cluster/cluster.ts). */
export interface ClusterMetricsSource {
  /** Members known to this node, by state. */
  memberCounts(): Partial<Record<string, number>>;
  /** Gossip messages since start, by type and direction. */
  messageCounts(): Array<{ type: string; direction: string; count: number }>;
  /** Nodes on the ring. */
  ringNodeCount(): number;
}

/** `strategy` label values of longbow_search_strategy_total (snake_case, as in get_stats). */
const STRATEGY_LABEL: Record<SearchStrategy, string> = {
  unfiltered: 'unfiltered',
  postFilter: 'post_filter',
  fallback: 'fallback',
  traversalFilter: 'traversal_filter',
  exact: 'exact',
};

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** All metrics of one node, in their own registry. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly walWrites: client.Counter<'status'>;
  readonly walBytes: client.Counter;
  readonly walFsync: client.Histogram;
  readonly walGroupEntries: client.Histogram;
  readonly walReplaySeconds: client.Histogram;
  readonly flushOps: client.Counter<'status'>;
  readonly walAckSeconds: client.Histogram;
  readonly snapshotOps: client.Counter<'status'>;
  readonly snapshotDuration: client.Histogram;
  readonly snapshotSize: client.Gauge<'dataset'>;
  readonly s3Requests: client.Counter<'operation' | 'outcome'>;
  readonly compactionMerges: client.Counter;
  readonly memoryLimitRejections: client.Counter;
  readonly indexWorkerRestarts: client.Counter;
  readonly flightRequests: client.Counter<'method' | 'code'>;
  readonly flightDuration: client.Histogram<'method'>;
  readonly ingestRows: client.Counter;
  readonly ingestBytes: client.Counter;
  readonly searchDuration: client.Histogram<'kind'>;
  readonly proxyRequests: client.Counter<'method' | 'outcome'>;
  readonly forwardDuration: client.Histogram<'method'>;
  private cluster: ClusterMetricsSource | undefined;
  private store: Store | undefined;
  private wal: Wal | undefined;
  private memoryLimitBytes = 0;

  constructor(nodeId: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: nodeId });
    client.collectDefaultMetrics({ register: this.registry });
    this.walWrites = new client.Counter({
      name: 'longbow_wal_writes_total',
      help: 'WAL entries written, by outcome',
      labelNames: ['status'],
      registers,
    });
    this.walBytes = new client.Counter({
      name: 'longbow_wal_bytes_written_total',
      help: 'Bytes written to the WAL',
      registers,
    });
    this.walFsync = new client.Histogram({
      name: 'longbow_wal_fsync_duration_seconds',
      help: 'Time of one group-commit fsync',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.walGroupEntries = new client.Histogram({
      name: 'longbow_wal_group_commit_entries',
      help: 'Entries made durable by one write+fsync (group commit size)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024],
      registers,
    });
    this.walReplaySeconds = new client.Histogram({
      name: 'longbow_wal_replay_duration_seconds',
      help: 'Time a start-up spent loading snapshots and replaying the WAL (one observation per start)',
      buckets: [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.flushOps = new client.Counter({
      name: 'longbow_flush_ops_total',
      help: 'WAL fsync operations, by outcome',
      labelNames: ['status'],
      registers,
    });
    this.walAckSeconds = new client.Histogram({
      name: 'longbow_wal_ack_duration_seconds',
      help: 'Time from WAL append to durable and applied (what a write waits for before its ack)',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.snapshotOps = new client.Counter({
      name: 'longbow_snapshot_operations_total',
      help: 'Dataset snapshots written, by outcome',
      labelNames: ['status'],
      registers,
    });
    this.snapshotDuration = new client.Histogram({
      name: 'longbow_snapshot_duration_seconds',
      help: 'Time to write one dataset snapshot (encode and store)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.snapshotSize = new client.Gauge({
      name: 'longbow_snapshot_size_bytes',
      help: 'Bytes of the last snapshot written, per dataset',
      labelNames: ['dataset'],
      registers,
    });
    this.s3Requests = new client.Counter({
      name: 'longbow_s3_requests_total',
      help: 'S3 requests of the snapshot backend, by operation and outcome (after the SDK retries)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.compactionMerges = new client.Counter({
      name: 'longbow_compaction_merges_total',
      help: 'Background compaction merges of adjacent small batches',
      registers,
    });
    this.memoryLimitRejections = new client.Counter({
      name: 'longbow_memory_limit_rejections_total',
      help: 'Batches refused with MEMORY_LIMIT (LONGBOW_MAX_MEMORY reached)',
      registers,
    });
    this.indexWorkerRestarts = new client.Counter({
      name: 'longbow_index_worker_restarts_total',
      help: 'Index worker threads that died and were replaced (their indexes are rebuilt)',
      registers,
    });
    this.flightRequests = new client.Counter({
      name: 'longbow_flight_requests_total',
      help: 'Flight calls, by method and gRPC status code name',
      labelNames: ['method', 'code'],
      registers,
    });
    this.flightDuration = new client.Histogram({
      name: 'longbow_flight_request_duration_seconds',
      help: 'Flight call duration, by method',
      labelNames: ['method'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.ingestRows = new client.Counter({
      name: 'longbow_ingest_rows_total',
      help: 'Rows acknowledged by DoPut',
      registers,
    });
    this.ingestBytes = new client.Counter({
      name: 'longbow_ingest_bytes_total',
      help: 'Arrow bytes acknowledged by DoPut',
      registers,
    });
    this.searchDuration = new client.Histogram({
      name: 'longbow_search_duration_seconds',
      help: 'Search latency inside the node, by kind',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.proxyRequests = new client.Counter({
      name: 'longbow_proxy_requests_total',
      help: 'Routed Flight calls by method and outcome (local, forwarded, redirected, unavailable)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.forwardDuration = new client.Histogram({
      name: 'longbow_forward_duration_seconds',
      help: 'Duration of calls this node forwarded to their owner, by method',
      labelNames: ['method'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    const metrics = this;
    new client.Gauge({
      name: 'longbow_gossip_members',
      help: 'Cluster members known to this node, by state',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = metrics.cluster?.memberCounts() ?? {};
        for (const state of ['alive', 'suspect', 'dead', 'left']) this.set({ state }, counts[state] ?? 0);
      },
    });
    new client.Counter({
      name: 'longbow_gossip_messages_total',
      help: 'Gossip messages by type and direction (sent, received)',
      labelNames: ['type', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const { type, direction, count } of metrics.cluster?.messageCounts() ?? [])
          if (count > 0) this.inc({ type, direction }, count);
      },
    });
    new client.Gauge({
      name: 'longbow_ring_nodes',
      help: 'Nodes on the consistent-hash ring (0 without gossip)',
      registers,
      collect() {
        this.set(metrics.cluster?.ringNodeCount() ?? 0);
      },
    });
    new client.Gauge({
      name: 'longbow_wal_queue_depth',
      help: 'WAL entries waiting to be written',
      registers,
      collect() {
        this.set(metrics.wal?.queueDepth() ?? 0);
      },
    });
    new client.Gauge({
      name: 'longbow_wal_queue_bytes',
      help: 'Bytes of WAL entries waiting to be made durable (the queue holds LONGBOW_WAL_QUEUE_BYTES at most)',
      registers,
      collect() {
        this.set(metrics.wal?.queueBytes() ?? 0);
      },
    });
    new client.Gauge({
      name: 'longbow_wal_size_bytes',
      help: 'Bytes in WAL segment files',
      registers,
      collect() {
        this.set(metrics.wal?.sizeBytes() ?? 0);
      },
    });
    new client.Gauge({
      name: 'longbow_memory_limit_bytes',
      help: 'LONGBOW_MAX_MEMORY (0 = unlimited)',
      registers,
      collect() {
        this.set(metrics.memoryLimitBytes);
      },
    });
    const perDataset = (
      name: string,
      help: string,
      value: (ds: ReturnType<Store['list']>[number]) => number,
    ) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['dataset'],
        registers,
        collect() {
          this.reset();
          for (const ds of metrics.store?.list() ?? []) this.set({ dataset: ds.name }, value(ds));
        },
      });
    perDataset('longbow_dataset_records', 'Live rows per dataset', (ds) => ds.liveCount);
    perDataset('longbow_dataset_bytes', 'Arrow bytes held per dataset', (ds) => ds.byteLength);
    perDataset(
      'longbow_index_size',
      'Rows processed by the dataset index',
      (ds) => ds.index?.stats().indexed ?? 0,
    );
    perDataset('longbow_tombstones', 'Replaced or deleted rows not yet compacted', (ds) => ds.tombstoneCount);
    perDataset(
      'longbow_index_queue_depth',
      'Rows waiting to be indexed',
      (ds) => ds.index?.stats().queueDepth ?? 0,
    );
    new client.Counter({
      name: 'longbow_search_strategy_total',
      help: 'Shard searches (one query on one shard) by the strategy that answered, per dataset',
      labelNames: ['dataset', 'strategy'],
      registers,
      collect() {
        // Read from each index's own counters: a dropped dataset's series disappear, a
        // rebuilt index restarts at 0 (a counter reset, as after a restart).
        this.reset();
        for (const ds of metrics.store?.list() ?? []) {
          const by = ds.index?.stats().strategies;
          if (!by) continue;
          for (const s of SEARCH_STRATEGIES)
            this.inc({ dataset: ds.name, strategy: STRATEGY_LABEL[s] }, by[s]);
        }
      },
    });
  }

  /** Connects the cluster gauges to the running cluster part. */
  attachCluster(source: ClusterMetricsSource): void {
    this.cluster = source;
  }

  /** Connects the gauges that read live state. */
  attach(store: Store, wal: Wal, memoryLimitBytes: number): void {
    this.store = store;
    this.wal = wal;
    this.memoryLimitBytes = memoryLimitBytes;
  }
}
