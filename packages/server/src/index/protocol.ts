/**
 * Messages between the main thread and index worker threads (structured clone; typed
 * arrays are transferred, not copied). One worker holds several indexes, keyed by id.
 *
 * Ordering is the visibility guarantee: a worker handles messages in the order they were
 * posted, so a search posted after an `add` sees those rows — indexed already, or still
 * queued, in which case the worker searches them exactly.
 */
import type { MetricName } from '../config.ts';

/** Creates an empty HNSW index. */
export interface CreateMsg {
  type: 'create';
  indexId: number;
  metric: MetricName;
  dim: number;
  /** HNSW graph degree. */
  m: number;
  efConstruction: number;
  seed: number;
  /** The graph's labels start here: labels below it belong to other graphs (0 for most). */
  labelsStart: number;
}

/** Queues `count` vectors with labels `firstLabel ..` for insertion. */
export interface AddMsg {
  type: 'add';
  indexId: number;
  firstLabel: number;
  count: number;
  /** count × dim float32, row-major. */
  vectors: Float32Array;
}

/** Marks labels deleted: they are never returned again. */
export interface DeleteMsg {
  type: 'delete';
  indexId: number;
  labels: Float64Array;
}

/** k-NN for `queryCount` queries. */
export interface SearchMsg {
  type: 'search';
  reqId: number;
  indexId: number;
  /** queryCount × dim float32, row-major. */
  queries: Float32Array;
  queryCount: number;
  k: number;
  ef: number;
  /** Optional bitmap over labels (bit `label` set = may be returned). */
  allowed?: Uint8Array;
  /**
   * With `allowed`: the fraction of the dataset's rows it admits (0..1). From
   * {@link POST_FILTER_MIN_SELECTIVITY} up the worker post-filters an over-fetched
   * unfiltered search instead of filtering inside the traversal.
   */
  selectivity?: number;
}

/**
 * Filters admitting at least this fraction of rows are applied after an unfiltered search
 * that over-fetches max(ef, `k / selectivity × POST_FILTER_OVERFETCH`) candidates; more
 * selective ones filter inside the HNSW traversal (and so does a shard where too few
 * candidates pass). hnswlib-node calls a JavaScript filter through N-API for every node it
 * visits, and a selective filter makes it visit many: on glove100 (4 shards, ef 128) a 10%
 * filter ran at 49.5 QPS in the traversal against 396 unfiltered (bench/filtered.py);
 * post-filtering costs one wider unfiltered search. Figures in docs/benchmarks.md.
 */
export const POST_FILTER_MIN_SELECTIVITY = 0.05;
/** Over-fetch margin of post-filtering (candidates per expected match). */
export const POST_FILTER_OVERFETCH = 3;

export interface DropMsg {
  type: 'drop';
  indexId: number;
}

/** Writes the graph to `path` (hnswlib's format); answered by a SavedMsg. */
export interface SaveMsg {
  type: 'save';
  reqId: number;
  indexId: number;
  path: string;
}

/**
 * Creates an index from a graph file written by `save`. `labelsEnd`: labels below it are
 * in the graph (processed when it was saved).
 */
export interface LoadMsg {
  type: 'load';
  reqId: number;
  indexId: number;
  metric: MetricName;
  dim: number;
  path: string;
  labelsEnd: number;
}

/** Ends the worker after the messages before it (a graceful stop). */
export interface CloseMsg {
  type: 'close';
}

export type ToWorker = CreateMsg | AddMsg | DeleteMsg | SearchMsg | DropMsg | SaveMsg | LoadMsg | CloseMsg;

/** Indexing progress of one index. */
export interface ProgressMsg {
  type: 'progress';
  indexId: number;
  /** Labels processed (inserted into the graph, or skipped because deleted first). */
  indexedCount: number;
  /** Vectors received but not yet in the graph. */
  pendingCount: number;
  /** Deleted labels still present in the graph (HNSW tombstones). */
  tombstoneCount: number;
}

/**
 * How one query was answered on one graph (a shard), for the strategy counters in stats:
 * - `unfiltered`: no filter; plain HNSW search.
 * - `postFilter`: an over-fetched unfiltered search, then the filter (broad filters).
 * - `fallback`: post-filtering was tried but fewer than k candidates passed, so the
 *   traversal answered (filters that admit many rows, none of them near the query).
 * - `traversalFilter`: filtered inside the HNSW traversal from the start (narrow filters).
 * - `exact`: the graph was empty; only the queue answered, by exact distance.
 * Every strategy also scans the queue exactly; that does not change the count.
 */
export const SEARCH_STRATEGIES = [
  'unfiltered',
  'postFilter',
  'fallback',
  'traversalFilter',
  'exact',
] as const;
export type SearchStrategy = (typeof SEARCH_STRATEGIES)[number];
/** Queries answered per strategy (one per query per graph searched). */
export type StrategyCounts = Record<SearchStrategy, number>;

/** Counts all zero. */
export function noStrategies(): StrategyCounts {
  return { unfiltered: 0, postFilter: 0, fallback: 0, traversalFilter: 0, exact: 0 };
}

/** Adds `more` into `into` (mutates `into`, returns it). */
export function addStrategies(into: StrategyCounts, more: Readonly<StrategyCounts>): StrategyCounts {
  for (const s of SEARCH_STRATEGIES) into[s] += more[s];
  return into;
}

/**
 * Search results: for query i, `counts[i]` hits at `offsets[i]` in `labels`/`distances`,
 * nearest first, distances internal (see metric.ts).
 */
export interface ResultMsg {
  type: 'result';
  reqId: number;
  labels: Float64Array;
  distances: Float32Array;
  offsets: Int32Array;
  counts: Int32Array;
  /** How the queries were answered (sums to the query count). */
  strategies: StrategyCounts;
}

export interface ErrorMsg {
  type: 'error';
  reqId?: number;
  indexId?: number;
  message: string;
}

/** A graph was saved (or loaded); labels below `labelsEnd` are in it. */
export interface SavedMsg {
  type: 'saved';
  reqId: number;
  labelsEnd: number;
}

export type FromWorker = ProgressMsg | ResultMsg | ErrorMsg | SavedMsg;
