/**
 * DoAction and ListActions. Bodies and results are JSON (one Result per call).
 *
 * | action | body | result |
 * |---|---|---|
 * | get_stats | `{}` or `{"dataset"}` | node, WAL, memory and per-dataset figures |
 * | check_readiness | `{}` | lifecycle state and per-dataset indexing lag |
 * | drop_dataset | `{"dataset"}` | `{"status":"ok","dataset","lsn"}` — logged, stays dropped |
 * | delete | `{"dataset","ids":[...]}` | `{"status":"ok","deleted":n,"lsn"}` — logged |
 * | force_snapshot | `{}` or `{"dataset"}` | per dataset: status, lsn, rows, bytes, location |
 * | query_analytics | `{"dataset","query"}` | DuckDB over the snapshot: columns, rows |
 * | cluster_status | `{}` | node id, members (state, incarnation, addresses), ring, peer channels |
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Action, ActionType, Empty, Result } from '@longbow/flight';
import { queryAnalytics } from '../analytics/duckdb.ts';
import { singleNodeStatus } from '../cluster/cluster.ts';
import { ErrorCode, LongbowError, toStatusError } from '../errors.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { Dataset, IdKey } from '../store/dataset.ts';
import { checkServing, type NodeContext } from './context.ts';

type ActionFn = (ctx: NodeContext, body: Record<string, unknown>) => Promise<unknown> | unknown;

interface ActionSpec {
  description: string;
  run: ActionFn;
}

function bodyDataset(body: Record<string, unknown>, action: string): string {
  const d = body.dataset;
  if (typeof d !== 'string' || d.length === 0)
    throw new LongbowError(ErrorCode.invalidAction, `${action} needs {"dataset": "<name>"}`);
  return d;
}

/**
 * The dataset's index figures. `search_strategies`: shard searches (one query on one shard)
 * since the index was built, by how they were answered — `unfiltered`, `post_filter`
 * (broad filter applied after an over-fetched search), `fallback` (post-filter found too
 * few, the traversal answered), `traversal_filter` (narrow filter inside the traversal),
 * `exact` (empty graph, queue only); index/protocol.ts.
 */
function indexStats(ds: Dataset) {
  const st = ds.index?.stats();
  const by = st?.strategies;
  return {
    type: 'hnsw',
    shards: st?.shards ?? 0,
    indexed: st?.indexed ?? 0,
    queue_depth: st?.queueDepth ?? 0,
    tombstones: st?.tombstones ?? 0,
    vacuums: st?.vacuums ?? 0,
    caught_up: st?.caughtUp ?? true,
    text_terms: ds.text?.terms ?? 0,
    search_strategies: {
      unfiltered: by?.unfiltered ?? 0,
      post_filter: by?.postFilter ?? 0,
      fallback: by?.fallback ?? 0,
      traversal_filter: by?.traversalFilter ?? 0,
      exact: by?.exact ?? 0,
    },
  };
}

/**
 * The dataset's current snapshot: the LSN it covers, when it was written (ISO 8601 UTC) and
 * its age in seconds (null when the file does not record it), and where it is; null before
 * the first snapshot.
 */
function snapshotStats(ctx: NodeContext, ds: Dataset) {
  const st = ctx.snapshots?.statusOf(ds.name);
  if (!st) return null;
  const at = st.writtenAtMs;
  return {
    lsn: Number(st.lsn),
    written_at: at === undefined ? null : new Date(at).toISOString(),
    age_seconds: at === undefined ? null : Math.max(0, (Date.now() - at) / 1000),
    location: st.location,
  };
}

function datasetStats(ctx: NodeContext, ds: Dataset) {
  return {
    records: ds.liveCount,
    rows: ds.rowCount,
    tombstones: ds.tombstoneCount,
    bytes: ds.byteLength,
    batches: ds.batches.length,
    dim: ds.def.dim,
    metric: ds.def.metric,
    id_type: ds.def.idType,
    last_lsn: Number(ds.lastLsn),
    index: indexStats(ds),
    snapshot: snapshotStats(ctx, ds),
  };
}

function snapshotsOf(ctx: NodeContext): Snapshotter {
  if (!ctx.snapshots) throw new LongbowError(ErrorCode.internal, 'snapshots are not configured on this node');
  return ctx.snapshots;
}

/** The action table. Names are part of the wire contract. */
export const ACTIONS: Record<string, ActionSpec> = {
  get_stats: {
    description:
      'Node, WAL, memory and per-dataset statistics (records, bytes, index state). Body: {} or {"dataset"}.',
    run: (ctx, body) => {
      const datasets =
        body.dataset !== undefined ? [ctx.store.require(bodyDataset(body, 'get_stats'))] : ctx.store.list();
      const mem = process.memoryUsage();
      return {
        node_id: ctx.config.nodeId,
        state: ctx.state,
        datasets: Object.fromEntries(datasets.map((ds) => [ds.name, datasetStats(ctx, ds)])),
        total_records: datasets.reduce((n, ds) => n + ds.liveCount, 0),
        total_bytes: datasets.reduce((n, ds) => n + ds.byteLength, 0),
        memory: {
          rss_bytes: mem.rss,
          heap_used_bytes: mem.heapUsed,
          external_bytes: mem.external,
          limit_bytes: ctx.config.maxMemoryBytes,
        },
        wal: {
          last_lsn: Number(ctx.wal.lastLsn),
          size_bytes: ctx.wal.sizeBytes(),
          queue_depth: ctx.wal.queueDepth(),
          queue_fill: ctx.wal.queueFill(),
        },
      };
    },
  },
  check_readiness: {
    description:
      'Whether the node serves, and per dataset whether indexing has caught up (and how far behind it is).',
    run: (ctx) => ({
      ready: ctx.state === 'ready',
      state: ctx.state,
      datasets: Object.fromEntries(
        ctx.store.list().map((ds) => {
          const st = ds.index?.stats();
          return [
            ds.name,
            {
              indexed: st?.indexed ?? 0,
              rows: ds.rowCount,
              lag: st?.queueDepth ?? 0,
              caught_up: st?.caughtUp ?? true,
              shards: st?.shards ?? 0,
            },
          ];
        }),
      ),
    }),
  },
  cluster_status: {
    description:
      'This node id, every known member with state and incarnation and addresses, the ring (version, nodes), routing mode and peer channel health. Without gossip: this node alone. Body: {}.',
    run: (ctx) => {
      if (ctx.cluster) return ctx.cluster.status();
      const host = ctx.config.advertiseHost.includes(':')
        ? `[${ctx.config.advertiseHost}]`
        : ctx.config.advertiseHost;
      return singleNodeStatus(
        ctx.config.nodeId,
        `${host}:${ctx.dataPort}`,
        `${host}:${ctx.metaPort ?? ctx.dataPort}`,
        ctx.config.routingMode,
      );
    },
  },
  drop_dataset: {
    description:
      'Drops a dataset and its index. Logged in the WAL: it stays dropped after a restart. Body: {"dataset"}.',
    run: async (ctx, body) => {
      checkServing(ctx);
      const name = bodyDataset(body, 'drop_dataset');
      const { lsn } = await ctx.committer.drop(name);
      return { status: 'ok', dataset: name, lsn: Number(lsn) };
    },
  },
  force_snapshot: {
    description:
      'Writes Parquet snapshots now (all changed datasets, or {"dataset"}) and truncates the WAL behind them. Body: {} or {"dataset"}.',
    run: async (ctx, body) => {
      checkServing(ctx);
      const name = body.dataset !== undefined ? bodyDataset(body, 'force_snapshot') : undefined;
      if (name !== undefined) ctx.store.require(name);
      const r = await snapshotsOf(ctx).snapshot(name);
      const failed = r.datasets.filter((d) => d.status === 'error');
      if (failed.length > 0) {
        throw new LongbowError(
          ErrorCode.snapshotFailed,
          `snapshot failed for ${failed.map((d) => `"${d.dataset}" (${d.error})`).join(', ')}; the previous snapshots stay current and the node retries`,
        );
      }
      return {
        status: 'ok',
        lsn: r.lsn,
        datasets: r.datasets,
        dropped: r.dropped,
        wal_segments_removed: r.walSegmentsRemoved,
      };
    },
  },
  query_analytics: {
    description:
      'Runs one read-only SQL SELECT with DuckDB over the dataset\'s Parquet snapshot, a table named after the dataset. Body: {"dataset","query"}.',
    run: async (ctx, body) => {
      checkServing(ctx);
      const name = bodyDataset(body, 'query_analytics');
      ctx.store.require(name);
      if (typeof body.query !== 'string')
        throw new LongbowError(ErrorCode.invalidAction, 'query_analytics needs {"query": "<SQL>"}');
      return queryAnalytics(snapshotsOf(ctx).backend, name, body.query);
    },
  },
  delete: {
    description:
      'Deletes rows by id; they never appear in scans or searches again. Logged. Body: {"dataset","ids":[...]}.',
    run: async (ctx, body) => {
      checkServing(ctx);
      const name = bodyDataset(body, 'delete');
      const ds = ctx.store.require(name);
      const ids = body.ids;
      if (!Array.isArray(ids) || ids.length === 0)
        throw new LongbowError(ErrorCode.invalidAction, 'delete needs {"ids": [...]} with at least one id');
      let keys: IdKey[];
      try {
        keys = ids.map((id) => (ds.def.idType === 'utf8' ? String(id) : BigInt(id as number | string)));
      } catch {
        throw new LongbowError(ErrorCode.invalidAction, `ids must be ${ds.def.idType} values`);
      }
      const { lsn, count } = await ctx.committer.delete(name, keys);
      return { status: 'ok', dataset: name, deleted: count, lsn: Number(lsn) };
    },
  },
};

function parseBody(action: Action): Record<string, unknown> {
  const raw = action.body && action.body.byteLength > 0 ? Buffer.from(action.body).toString('utf8') : '';
  if (raw.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new LongbowError(
      ErrorCode.invalidAction,
      `body of action "${action.type}" is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new LongbowError(ErrorCode.invalidAction, `body of action "${action.type}" must be a JSON object`);
  }
  return json as Record<string, unknown>;
}

/** The DoAction handler (served on both ports). */
export function doActionHandler(ctx: NodeContext) {
  return async (call: ServerWritableStream<Action, Result>): Promise<void> => {
    try {
      const spec = ACTIONS[call.request.type];
      if (!spec) {
        throw new LongbowError(
          ErrorCode.unknownAction,
          `unknown action "${call.request.type}" (known: ${Object.keys(ACTIONS).join(', ')})`,
        );
      }
      const result = await spec.run(ctx, parseBody(call.request));
      call.write({ body: Buffer.from(JSON.stringify(result)) });
      call.end();
    } catch (err) {
      if (!(err instanceof LongbowError)) ctx.log.error({ err }, 'DoAction failed');
      call.emit('error', toStatusError(err));
    }
  };
}

/** The ListActions handler. */
export function listActionsHandler() {
  return (call: ServerWritableStream<Empty, ActionType>): void => {
    for (const [type, spec] of Object.entries(ACTIONS)) call.write({ type, description: spec.description });
    call.end();
  };
}
