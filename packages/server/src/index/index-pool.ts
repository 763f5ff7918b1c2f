/**
 * Main-thread side of the index workers: a fixed pool of worker threads, indexes assigned
 * to them round-robin, and a handle per index that posts work and awaits results.
 */
import { type Transferable, Worker } from 'node:worker_threads';
import type { MetricName } from '../config.ts';
import type { FromWorker, ResultMsg, SavedMsg, StrategyCounts, ToWorker } from './protocol.ts';

/** Parameters of one HNSW index. */
export interface IndexParams {
  metric: MetricName;
  dim: number;
  /** HNSW graph degree M. */
  m: number;
  efConstruction: number;
}

/** Hits of one query, nearest first; distances are internal (metric.ts). */
export interface QueryHits {
  labels: Float64Array;
  distances: Float32Array;
}

/** One search on one graph: hits per query, and how the worker answered them. */
export interface GraphSearch {
  hits: QueryHits[];
  /** Queries per strategy (protocol.ts SEARCH_STRATEGIES); sums to the query count. */
  strategies: StrategyCounts;
}

interface WorkerSlot {
  worker: Worker;
  // biome-ignore lint/suspicious/noExplicitAny: each request resolves with its own reply type.
  pending: Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>;
  handles: Map<number, IndexHandle>;
}

/** Thrown when an index worker fails; the index is rebuilt by its owner. */
export class IndexWorkerError extends Error {
  override readonly name = 'IndexWorkerError';
}

/** A pool of index worker threads. */
export class IndexPool {
  private readonly slots: WorkerSlot[] = [];
  private nextIndexId = 1;
  private nextReqId = 1;
  private nextSlot = 0;
  private closed = false;
  private readonly onError: (err: Error) => void;
  private readonly onRestart: () => void;

  /** @param workerCount threads to start (≥ 1). @param onError worker failures, for logs. */
  /**
   * @param onError a worker failed (logged by the caller)
   * @param onRestart a dead worker was replaced by a new one (metrics)
   */
  constructor(
    workerCount: number,
    onError: (err: Error) => void = () => {},
    onRestart: () => void = () => {},
  ) {
    this.onRestart = onRestart;
    this.onError = onError;
    for (let i = 0; i < workerCount; i++) this.slots.push(this.spawn());
  }

  private spawn(): WorkerSlot {
    const worker = new Worker(new URL('./hnsw-worker.ts', import.meta.url));
    const slot: WorkerSlot = { worker, pending: new Map(), handles: new Map() };
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err) => this.onWorkerExit(slot, err));
    worker.on('exit', (code) => {
      if (!this.closed)
        this.onWorkerExit(slot, new IndexWorkerError(`index worker exited with code ${code}`));
    });
    return slot;
  }

  private onMessage(slot: WorkerSlot, msg: FromWorker): void {
    if (msg.type === 'progress') {
      slot.handles.get(msg.indexId)?.onProgress(msg.indexedCount, msg.pendingCount, msg.tombstoneCount);
    } else if (msg.type === 'result' || msg.type === 'saved') {
      const p = slot.pending.get(msg.reqId);
      slot.pending.delete(msg.reqId);
      p?.resolve(msg);
    } else if (msg.type === 'error') {
      const err = new IndexWorkerError(msg.message);
      if (msg.reqId !== undefined) {
        const p = slot.pending.get(msg.reqId);
        slot.pending.delete(msg.reqId);
        p?.reject(err);
      } else {
        this.onError(err);
      }
    }
  }

  private onWorkerExit(slot: WorkerSlot, err: Error): void {
    if (this.closed) return;
    this.onError(err);
    for (const p of slot.pending.values())
      p.reject(new IndexWorkerError(`index worker failed: ${err.message}`));
    slot.pending.clear();
    const handles = [...slot.handles.values()];
    slot.handles.clear();
    const i = this.slots.indexOf(slot);
    if (i >= 0) {
      this.slots[i] = this.spawn();
      this.onRestart();
    }
    for (const h of handles) h.onLost();
  }

  /**
   * Creates an index on the next worker whose labels start at `labelsStart` (a shard's
   * base: labels below it are other shards', never queued here).
   */
  create(params: IndexParams, onLost: () => void, labelsStart = 0): IndexHandle {
    if (this.closed) throw new IndexWorkerError('index pool is closed');
    const slot = this.slots[this.nextSlot++ % this.slots.length]!;
    const id = this.nextIndexId++;
    const handle = new IndexHandle(this, slot, id, params, onLost);
    handle.markLoaded(labelsStart);
    slot.handles.set(id, handle);
    this.post(slot, { type: 'create', indexId: id, ...params, seed: id, labelsStart });
    return handle;
  }

  /**
   * Creates an index from a graph file written by {@link IndexHandle.save}; labels below
   * `labelsEnd` are in it. Resolves once the worker has read the file (it may then be
   * deleted); rejects with the worker's error when the file cannot be read.
   */
  async createFromFile(
    params: IndexParams,
    path: string,
    labelsEnd: number,
    onLost: () => void,
  ): Promise<IndexHandle> {
    if (this.closed) throw new IndexWorkerError('index pool is closed');
    const slot = this.slots[this.nextSlot++ % this.slots.length]!;
    const id = this.nextIndexId++;
    const handle = new IndexHandle(this, slot, id, params, onLost);
    handle.markLoaded(labelsEnd);
    slot.handles.set(id, handle);
    try {
      await this.request<SavedMsg>(slot, (reqId) => ({
        msg: { type: 'load', reqId, indexId: id, metric: params.metric, dim: params.dim, path, labelsEnd },
        transfer: [],
      }));
    } catch (err) {
      slot.handles.delete(id);
      throw err;
    }
    return handle;
  }

  /** @internal */
  post(slot: WorkerSlot, msg: ToWorker, transfer: Transferable[] = []): void {
    slot.worker.postMessage(msg, transfer);
  }

  /** @internal */
  request<R extends ResultMsg | SavedMsg>(
    slot: WorkerSlot,
    build: (reqId: number) => { msg: ToWorker; transfer: Transferable[] },
  ): Promise<R> {
    const reqId = this.nextReqId++;
    const { msg, transfer } = build(reqId);
    return new Promise((resolve, reject) => {
      slot.pending.set(reqId, { resolve, reject });
      this.post(slot, msg, transfer);
    });
  }

  /** @internal */
  forget(slot: WorkerSlot, id: number): void {
    slot.handles.delete(id);
  }

  /**
   * Stops every worker: each finishes the message it is handling and exits (a forced
   * terminate could interrupt a native call, which aborts the process); a worker that has
   * not exited after `graceMs` is terminated.
   */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
        s.worker.postMessage({ type: 'close' } satisfies ToWorker);
        const timer = setTimeout(() => void s.worker.terminate(), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** One index on one worker. Labels are the dataset's row ordinals, or mapped from them (label-map.ts). */
export class IndexHandle {
  readonly id: number;
  readonly params: IndexParams;
  private readonly pool: IndexPool;
  private readonly slot: WorkerSlot;
  private readonly lost: () => void;
  /** Labels sent to the worker. */
  private sentCount = 0;
  private indexedCount = 0;
  private tombstoneCount = 0;
  private caughtUpWaiters: (() => void)[] = [];

  /** @internal use IndexPool.create */
  constructor(pool: IndexPool, slot: WorkerSlot, id: number, params: IndexParams, onLost: () => void) {
    this.pool = pool;
    this.slot = slot;
    this.id = id;
    this.params = params;
    this.lost = onLost;
  }

  /** Vectors received by the worker but not yet in the graph (the index queue depth). */
  get queueDepth(): number {
    return Math.max(0, this.sentCount - this.indexedCount);
  }

  /** Labels processed by the worker. */
  get indexed(): number {
    return this.indexedCount;
  }

  /** Deleted rows still in the graph. */
  get tombstones(): number {
    return this.tombstoneCount;
  }

  /**
   * Queues `count` vectors (row-major, `count × dim`) with labels `firstLabel …`.
   * The array is transferred to the worker: pass a copy you no longer need.
   */
  add(firstLabel: number, count: number, vectors: Float32Array): void {
    this.sentCount = Math.max(this.sentCount, firstLabel + count);
    this.pool.post(this.slot, { type: 'add', indexId: this.id, firstLabel, count, vectors }, [
      vectors.buffer as ArrayBuffer,
    ]);
  }

  /** Marks labels deleted. */
  delete(labels: readonly number[]): void {
    if (labels.length === 0) return;
    this.pool.post(this.slot, { type: 'delete', indexId: this.id, labels: Float64Array.from(labels) });
  }

  /**
   * k nearest neighbours of each query (`queryCount × dim` row-major), optionally only
   * among labels whose bit is set in `allowed`, which admits the fraction `selectivity` of
   * the rows (it picks post-filtering or filtering in the traversal; protocol.ts). Also
   * reports which strategy answered each query.
   */
  async search(
    queries: Float32Array,
    queryCount: number,
    k: number,
    ef: number,
    allowed?: Uint8Array,
    selectivity?: number,
  ): Promise<GraphSearch> {
    const res = await this.pool.request<ResultMsg>(this.slot, (reqId) => ({
      msg: { type: 'search', reqId, indexId: this.id, queries, queryCount, k, ef, allowed, selectivity },
      transfer: [],
    }));
    const out: QueryHits[] = [];
    for (let q = 0; q < queryCount; q++) {
      const at = res.offsets[q]!;
      const n = res.counts[q]!;
      out.push({ labels: res.labels.subarray(at, at + n), distances: res.distances.subarray(at, at + n) });
    }
    return { hits: out, strategies: res.strategies };
  }

  /**
   * Writes the graph to `path` (hnswlib's file format) in the worker; resolves with the end
   * of the labels it covers (rows still queued are not in the file).
   */
  async save(path: string): Promise<number> {
    const res = await this.pool.request<SavedMsg>(this.slot, (reqId) => ({
      msg: { type: 'save', reqId, indexId: this.id, path },
      transfer: [],
    }));
    return res.labelsEnd;
  }

  /**
   * @internal labels below `labelsEnd` are accounted for already: they came from a saved
   * graph, or lie below the graph's range (the worker starts counting there too).
   */
  markLoaded(labelsEnd: number): void {
    this.sentCount = labelsEnd;
    this.indexedCount = labelsEnd;
  }

  /** Resolves once every vector sent so far is in the graph. */
  whenCaughtUp(): Promise<void> {
    if (this.isCaughtUp()) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  /** True when every vector sent is in the graph. */
  isCaughtUp(): boolean {
    return this.indexedCount >= this.sentCount;
  }

  /** Frees the index in the worker. */
  drop(): void {
    this.pool.forget(this.slot, this.id);
    this.pool.post(this.slot, { type: 'drop', indexId: this.id });
  }

  /** @internal */
  onProgress(indexed: number, _pending: number, tombstones: number): void {
    this.indexedCount = indexed;
    this.tombstoneCount = tombstones;
    if (this.isCaughtUp()) for (const w of this.caughtUpWaiters.splice(0)) w();
  }

  /** @internal the worker died; the owner rebuilds. */
  onLost(): void {
    this.lost();
  }
}
