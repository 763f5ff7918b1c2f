/**
 * Index worker thread: holds HNSW graphs (hnswlib-node; Malkov & Yashunin, "Efficient and
 * robust approximate nearest neighbor search using Hierarchical Navigable Small World
 * graphs", IEEE TPAMI 2018) and builds them off the main event loop.
 *
 * Vectors arrive in `add` messages and wait in a queue; the worker inserts them in slices
 * of at most SLICE_MS, handling messages (searches) between slices. A search covers the
 * graph *and* the queue (exactly), so every vector posted before the search is visible.
 */
import { parentPort, type Transferable } from 'node:worker_threads';
import hnswlib from 'hnswlib-node';
import type { MetricName } from '../config.ts';
import { hnswSpace, internalDistance, normalized } from './metric.ts';
import {
  type AddMsg,
  type CreateMsg,
  type FromWorker,
  type LoadMsg,
  noStrategies,
  POST_FILTER_MIN_SELECTIVITY,
  POST_FILTER_OVERFETCH,
  type SaveMsg,
  type SearchMsg,
  type ToWorker,
} from './protocol.ts';
import { TopK } from './top-k.ts';

/** Longest stretch of insertions before the worker looks at its messages again, ms. */
const SLICE_MS = 8;
/** First graph capacity; doubled when full. */
const INITIAL_CAPACITY = 1024;

interface Chunk {
  firstLabel: number;
  count: number;
  vectors: Float32Array;
  /** Next row of the chunk to insert. */
  next: number;
}

interface IndexState {
  metric: MetricName;
  dim: number;
  hnsw: hnswlib.HierarchicalNSW;
  capacity: number;
  /** Elements inserted in the graph (including deleted ones). */
  graphCount: number;
  /** Labels processed: inserted, or skipped because deleted while queued. */
  indexedCount: number;
  queue: Chunk[];
  pendingCount: number;
  /** Labels deleted while still queued: skipped on insertion, hidden from exact search. */
  deletedQueued: Set<number>;
  /** Labels deleted after insertion (hnswlib markDelete): the graph's tombstones. */
  tombstones: number;
  /**
   * Labels below indexedCount that are not live in the graph: skipped at insertion or
   * already marked deleted. hnswlib throws on markDelete of such a label, and a native
   * exception thrown while the worker is being stopped aborts the whole process, so the
   * worker never provokes one in normal operation.
   */
  notInGraph: Set<number>;
}

const port = parentPort;
if (!port) throw new Error('hnsw-worker must run in a worker thread');

const indexes = new Map<number, IndexState>();
let working = false;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  port!.postMessage(msg, transfer);
}

function progress(id: number, s: IndexState): void {
  post({
    type: 'progress',
    indexId: id,
    indexedCount: s.indexedCount,
    pendingCount: s.pendingCount,
    tombstoneCount: s.tombstones,
  });
}

/** State of a graph that holds labels below `indexedCount` (0 for a new graph). */
function newState(
  metric: MetricName,
  dim: number,
  hnsw: hnswlib.HierarchicalNSW,
  indexedCount: number,
): IndexState {
  return {
    metric,
    dim,
    hnsw,
    capacity: hnsw.getMaxElements(),
    graphCount: hnsw.getCurrentCount(),
    indexedCount,
    queue: [],
    pendingCount: 0,
    deletedQueued: new Set(),
    tombstones: 0,
    notInGraph: new Set(),
  };
}

function create(msg: CreateMsg): void {
  const hnsw = new hnswlib.HierarchicalNSW(hnswSpace(msg.metric), msg.dim);
  hnsw.initIndex({
    maxElements: INITIAL_CAPACITY,
    m: msg.m,
    efConstruction: msg.efConstruction,
    randomSeed: msg.seed,
  });
  indexes.set(msg.indexId, newState(msg.metric, msg.dim, hnsw, msg.labelsStart));
}

function save(msg: SaveMsg): void {
  const s = indexes.get(msg.indexId);
  if (!s) throw new Error(`index ${msg.indexId} does not exist`);
  s.hnsw.writeIndexSync(msg.path);
  post({ type: 'saved', reqId: msg.reqId, labelsEnd: s.indexedCount });
}

function load(msg: LoadMsg): void {
  const hnsw = new hnswlib.HierarchicalNSW(hnswSpace(msg.metric), msg.dim);
  hnsw.readIndexSync(msg.path);
  indexes.set(msg.indexId, newState(msg.metric, msg.dim, hnsw, msg.labelsEnd));
}

function add(msg: AddMsg): void {
  const s = indexes.get(msg.indexId);
  if (!s) return;
  s.queue.push({ firstLabel: msg.firstLabel, count: msg.count, vectors: msg.vectors, next: 0 });
  s.pendingCount += msg.count;
  scheduleWork();
}

function remove(indexId: number, labels: Float64Array): void {
  const s = indexes.get(indexId);
  if (!s) return;
  for (const label of labels) {
    if (label < s.indexedCount) {
      if (s.notInGraph.has(label)) continue;
      s.notInGraph.add(label);
      try {
        s.hnsw.markDelete(label);
        s.tombstones++;
      } catch {
        // Only a graph loaded from a file can get here: it was deleted before it was saved.
      }
    } else {
      s.deletedQueued.add(label);
    }
  }
  progress(indexId, s);
}

/** Inserts queued vectors for up to SLICE_MS, then yields to the message loop. */
function work(): void {
  working = false;
  const deadline = performance.now() + SLICE_MS;
  let more = false;
  for (const [id, s] of indexes) {
    if (s.queue.length === 0) continue;
    while (s.queue.length > 0 && performance.now() < deadline) insertSome(s, 16);
    progress(id, s);
    if (s.queue.length > 0) more = true;
  }
  if (more) scheduleWork();
}

function insertSome(s: IndexState, maxRows: number): void {
  const chunk = s.queue[0]!;
  const end = Math.min(chunk.count, chunk.next + maxRows);
  for (let row = chunk.next; row < end; row++) {
    const label = chunk.firstLabel + row;
    if (s.deletedQueued.delete(label)) {
      s.notInGraph.add(label);
      s.indexedCount = label + 1;
      continue;
    }
    if (s.graphCount >= s.capacity) {
      // Never resize to 0: realloc(p, 0) frees p and hnswlib then reports failure.
      s.capacity = Math.max(INITIAL_CAPACITY, s.capacity * 2);
      s.hnsw.resizeIndex(s.capacity);
    }
    const v = chunk.vectors.subarray(row * s.dim, (row + 1) * s.dim);
    s.hnsw.addPoint(Array.from(v), label);
    s.graphCount++;
    s.indexedCount = label + 1;
  }
  s.pendingCount -= end - chunk.next;
  chunk.next = end;
  if (chunk.next >= chunk.count) s.queue.shift();
}

function scheduleWork(): void {
  if (working) return;
  working = true;
  setImmediate(work);
}

function bitSet(bits: Uint8Array, label: number): boolean {
  return ((bits[label >>> 3] ?? 0) & (1 << (label & 7))) !== 0;
}

function search(msg: SearchMsg): void {
  const s = indexes.get(msg.indexId);
  const { queryCount, k } = msg;
  const labels = new Float64Array(queryCount * k);
  const distances = new Float32Array(queryCount * k);
  const offsets = new Int32Array(queryCount);
  const counts = new Int32Array(queryCount);
  const strategies = noStrategies();
  if (s) {
    const exact = internalDistance(s.metric);
    const allowed = msg.allowed;
    const filter = allowed ? (label: number) => bitSet(allowed, label) : undefined;
    const ef = Math.max(msg.ef, k);
    // Post-filter (see POST_FILTER_MIN_SELECTIVITY): candidates enough that k of them pass
    // in expectation, POST_FILTER_OVERFETCH times over, and never fewer than the ef the
    // search keeps anyway (returning all of them costs nothing more).
    const overfetch =
      allowed && (msg.selectivity ?? 0) >= POST_FILTER_MIN_SELECTIVITY
        ? Math.min(s.graphCount, Math.max(ef, Math.ceil((k / msg.selectivity!) * POST_FILTER_OVERFETCH)))
        : 0;
    for (let q = 0; q < queryCount; q++) {
      const raw = msg.queries.subarray(q * s.dim, (q + 1) * s.dim);
      const query = s.metric === 'cosine' ? normalized(raw) : raw;
      let top = new TopK(k);
      let traverse = overfetch === 0;
      if (s.graphCount === 0) strategies.exact++;
      else if (!allowed) strategies.unfiltered++;
      else if (traverse) strategies.traversalFilter++;
      if (s.graphCount > 0 && overfetch > 0) {
        s.hnsw.setEf(Math.max(ef, overfetch));
        const res = s.hnsw.searchKnn(Array.from(raw), overfetch);
        for (let i = 0; i < res.neighbors.length; i++)
          if (bitSet(allowed!, res.neighbors[i]!)) top.push(res.neighbors[i]!, res.distances[i]!);
        // Fewer than k passed, and the candidates were not the whole graph: filter in the
        // traversal instead, whose answer replaces these.
        if (top.size < k && overfetch < s.graphCount) {
          top = new TopK(k);
          traverse = true;
          strategies.fallback++;
        } else {
          strategies.postFilter++;
        }
      }
      if (s.graphCount > 0 && traverse) {
        s.hnsw.setEf(ef);
        const res = s.hnsw.searchKnn(Array.from(raw), Math.min(k, s.capacity), filter);
        for (let i = 0; i < res.neighbors.length; i++) top.push(res.neighbors[i]!, res.distances[i]!);
      }
      for (const chunk of s.queue) {
        for (let row = chunk.next; row < chunk.count; row++) {
          const label = chunk.firstLabel + row;
          if (s.deletedQueued.has(label) || (allowed && !bitSet(allowed, label))) continue;
          top.push(label, exact(query, chunk.vectors, row * s.dim));
        }
      }
      const sorted = top.sorted();
      offsets[q] = q * k;
      counts[q] = sorted.labels.length;
      labels.set(sorted.labels, q * k);
      distances.set(sorted.distances, q * k);
    }
  }
  post({ type: 'result', reqId: msg.reqId, labels, distances, offsets, counts, strategies }, [
    labels.buffer,
    distances.buffer,
    offsets.buffer,
    counts.buffer,
  ]);
}

port.on('message', (msg: ToWorker) => {
  try {
    switch (msg.type) {
      case 'create':
        create(msg);
        break;
      case 'add':
        add(msg);
        break;
      case 'delete':
        remove(msg.indexId, msg.labels);
        break;
      case 'search':
        search(msg);
        break;
      case 'drop':
        indexes.delete(msg.indexId);
        break;
      case 'save':
        save(msg);
        break;
      case 'close':
        process.exit(0); // ends this worker thread only, between messages
        break;
      case 'load':
        load(msg);
        post({ type: 'saved', reqId: msg.reqId, labelsEnd: msg.labelsEnd });
        break;
    }
  } catch (err) {
    const reqId = msg.type === 'search' || msg.type === 'save' || msg.type === 'load' ? msg.reqId : undefined;
    post({
      type: 'error',
      reqId,
      indexId: 'indexId' in msg ? msg.indexId : undefined,
      message: (err as Error).message,
    });
  }
});
