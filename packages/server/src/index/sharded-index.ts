/**
 * A dataset's vector index: one HNSW graph while the dataset is small, more once it grows.
 *
 * Rows are assigned to shards by ordinal range: shard i holds labels
 * [i·shardRows, (i+1)·shardRows). A dataset under `shardRows` rows has one graph; past it,
 * new rows start a new shard on the next worker thread, so a bulk load builds its shards in
 * parallel on the available cores. (The same idea as Lucene's segments: shards are never
 * re-split, so no row moves.) A search asks every shard for its k nearest — concurrently,
 * since shards sit on different workers — and merges the lists exactly into the global
 * top k.
 *
 * Vacuum: when a shard's deleted fraction passes `vacuumRatio`, a replacement graph is
 * built from the shard's live rows in the background; searches keep using the old graph
 * (whose deletes are masked) until the new one has caught up, then the two are swapped.
 * Writes that arrive meanwhile go to both.
 *
 * Labels and ordinals: the public methods speak row ordinals. Graphs speak labels, which
 * are the ordinals except in an index loaded from a snapshot that dropped tombstoned rows:
 * there a {@link LabelMap} of dead labels translates (label-map.ts), so the saved graphs
 * stay usable. Shards are label ranges.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MetricName } from '../config.ts';
import type { IndexHandle, IndexParams, IndexPool, QueryHits } from './index-pool.ts';
import { LabelMap } from './label-map.ts';
import { addStrategies, noStrategies, type StrategyCounts } from './protocol.ts';
import { decodeSavedIndex, encodeSavedIndex, SavedIndexError } from './saved-index.ts';
import { TopK } from './top-k.ts';

/** Settings of one dataset's index (from schema metadata, else the node's defaults). */
export interface ShardedIndexParams extends IndexParams {
  /** Rows per shard; a dataset below this has one graph. */
  shardRows: number;
  /** Deleted fraction of a shard that triggers its rebuild (0..1; 1 disables vacuum). */
  vacuumRatio: number;
  /** Shards smaller than this are never vacuumed (a rebuild would cost more than it saves). */
  vacuumMinRows: number;
}

/**
 * Reads the live rows of an ordinal range [from, to) from the dataset: their ordinals (in
 * `labels`, increasing) and row-major vectors.
 */
export type LiveRows = (from: number, to: number) => { labels: number[]; vectors: Float32Array };

interface Shard {
  index: number;
  current: IndexHandle;
  /** Replacement graph while a vacuum runs. */
  next: IndexHandle | undefined;
  /** Labels sent to this shard. */
  rows: number;
  /** Labels deleted since the current graph was built. */
  deleted: number;
  /**
   * Labels below this came from a saved graph: adding them again is skipped. The loaded
   * graph itself takes the rows after them (hnswlib's load, resize, add; the worker never
   * resizes a graph to 0, which is what once corrupted the heap here).
   */
  loadedEnd: number;
}

/** Statistics of an index, summed over shards. */
export interface IndexStats {
  shards: number;
  indexed: number;
  queueDepth: number;
  tombstones: number;
  vacuums: number;
  caughtUp: boolean;
  /**
   * Shard searches (one query on one shard) since the index was created, by the strategy
   * that answered (protocol.ts SEARCH_STRATEGIES): a search of q queries over s shards adds
   * q·s. Survives vacuums and worker restarts (counted here, not in the graphs).
   */
  strategies: StrategyCounts;
}

/** The index of one dataset. */
export class ShardedIndex {
  readonly params: ShardedIndexParams;
  readonly metric: MetricName;
  private readonly pool: IndexPool;
  private readonly liveRows: LiveRows;
  private readonly onVacuum: (shard: number, phase: 'start' | 'done') => void;
  private readonly shards: Shard[] = [];
  private vacuums = 0;
  private readonly strategies = noStrategies();
  private dropped = false;
  /** Labels ⇄ ordinals (the identity unless loaded with dead labels). */
  private readonly labels: LabelMap;

  constructor(
    pool: IndexPool,
    params: ShardedIndexParams,
    liveRows: LiveRows,
    onVacuum: ShardedIndex['onVacuum'] = () => {},
    labels: LabelMap = new LabelMap(),
  ) {
    this.pool = pool;
    this.params = params;
    this.metric = params.metric;
    this.liveRows = liveRows;
    this.onVacuum = onVacuum;
    this.labels = labels;
  }

  /** Dead labels carried from saved graphs (0 for an index built from the rows). */
  get deadLabels(): number {
    return this.labels.dead.length;
  }

  /** A new graph for the shard whose labels start at `base`. */
  private newHandle(base: number): IndexHandle {
    return this.pool.create(this.params, () => this.onLost(), base);
  }

  /** Every graph searches go to. */
  private graphs(): IndexHandle[] {
    return this.shards.map((s) => s.current);
  }

  private baseOf(shard: number): number {
    return shard * this.params.shardRows;
  }

  private shardFor(label: number): Shard {
    const i = Math.floor(label / this.params.shardRows);
    while (this.shards.length <= i) {
      this.shards.push({
        index: this.shards.length,
        current: this.newHandle(this.baseOf(this.shards.length)),
        next: undefined,
        rows: 0,
        deleted: 0,
        loadedEnd: 0,
      });
    }
    return this.shards[i]!;
  }

  /**
   * Queues `count` row-major vectors of rows `firstOrdinal …`, split at shard borders.
   * The array may be transferred to workers: pass a copy.
   */
  add(firstOrdinal: number, count: number, vectors: Float32Array): void {
    if (this.labels.identity) {
      this.addLabels(firstOrdinal, count, vectors);
      return;
    }
    // Consecutive ordinals have consecutive labels between dead ones: one add per run.
    const dim = this.params.dim;
    let done = 0;
    while (done < count) {
      const label = this.labels.labelOf(firstOrdinal + done);
      const run = Math.min(count - done, this.labels.nextDeadAfter(label) - label);
      const part = done === 0 && run === count ? vectors : vectors.slice(done * dim, (done + run) * dim);
      this.addLabels(label, run, part);
      done += run;
    }
  }

  /** {@link add} in label space: labels `firstLabel …` are consecutive. */
  private addLabels(firstLabel: number, count: number, vectors: Float32Array): void {
    const dim = this.params.dim;
    let done = 0;
    while (done < count) {
      const label = firstLabel + done;
      const shard = this.shardFor(label);
      if (label < shard.loadedEnd) {
        done = Math.min(count, shard.loadedEnd - firstLabel); // already in the loaded graph
        continue;
      }
      const end = Math.min(count, (shard.index + 1) * this.params.shardRows - firstLabel);
      const part = done === 0 && end === count ? vectors : vectors.slice(done * dim, end * dim);
      if (shard.next) shard.next.add(label, end - done, part.slice());
      shard.current.add(label, end - done, part);
      shard.rows += end - done;
      done = end;
    }
  }

  /** Marks rows deleted in their shards; may start a vacuum. */
  delete(ordinals: readonly number[]): void {
    if (ordinals.length === 0) return;
    const byShard = new Map<Shard, number[]>();
    for (const ordinal of ordinals) {
      const label = this.labels.labelOf(ordinal);
      const shard = this.shards[Math.floor(label / this.params.shardRows)];
      if (!shard) continue;
      const list = byShard.get(shard);
      if (list) list.push(label);
      else byShard.set(shard, [label]);
    }
    for (const [shard, list] of byShard) {
      shard.current.delete(list);
      shard.next?.delete(list);
      shard.deleted += list.length;
      this.maybeVacuum(shard);
    }
  }

  private maybeVacuum(shard: Shard): void {
    const { vacuumRatio, vacuumMinRows } = this.params;
    if (shard.next || this.dropped || vacuumRatio >= 1) return;
    if (shard.rows < vacuumMinRows || shard.deleted / shard.rows < vacuumRatio) return;
    const from = shard.index * this.params.shardRows;
    const to = from + this.params.shardRows;
    const next = this.newHandle(from);
    shard.next = next;
    this.onVacuum(shard.index, 'start');
    this.fill(next, from, to);
    next.whenCaughtUp().then(() => {
      if (shard.next !== next || this.dropped) return;
      const old = shard.current;
      shard.loadedEnd = 0;
      shard.current = next;
      shard.next = undefined;
      shard.deleted = 0;
      old.drop();
      this.vacuums++;
      this.onVacuum(shard.index, 'done');
    });
  }

  /**
   * k nearest neighbours of each query across all shards (exact merge of per-shard top k),
   * as row ordinals. `allowed` (a bitmap over ordinals) restricts results to rows whose bit
   * is set; `selectivity` is the fraction of live rows it admits (index-pool.ts).
   */
  async search(
    queries: Float32Array,
    queryCount: number,
    k: number,
    ef: number,
    allowed?: Uint8Array,
    selectivity?: number,
  ): Promise<QueryHits[]> {
    const allowedLabels = allowed && this.labels.labelBitmap(allowed);
    const perShard = await Promise.all(
      this.graphs().map(async (g) => {
        const r = await g.search(queries, queryCount, k, ef, allowedLabels, selectivity);
        addStrategies(this.strategies, r.strategies);
        return r.hits;
      }),
    );
    const merged = perShard.length === 1 ? perShard[0]! : this.merge(perShard, queryCount, k);
    return this.labels.identity ? merged : merged.map((h) => this.toOrdinals(h));
  }

  /** Hits in label space → hits in ordinal space (a dead label, never expected, is dropped). */
  private toOrdinals(h: QueryHits): QueryHits {
    const labels: number[] = [];
    const distances: number[] = [];
    for (let i = 0; i < h.labels.length; i++) {
      const o = this.labels.ordinalOf(h.labels[i]!);
      if (o < 0) continue;
      labels.push(o);
      distances.push(h.distances[i]!);
    }
    return { labels: Float64Array.from(labels), distances: Float32Array.from(distances) };
  }

  private merge(perShard: QueryHits[][], queryCount: number, k: number): QueryHits[] {
    const out: QueryHits[] = [];
    for (let q = 0; q < queryCount; q++) {
      const top = new TopK(k);
      for (const hits of perShard) {
        const h = hits[q]!;
        for (let i = 0; i < h.labels.length; i++) top.push(h.labels[i]!, h.distances[i]!);
      }
      const { labels, distances } = top.sorted();
      out.push({ labels: Float64Array.from(labels), distances: Float32Array.from(distances) });
    }
    return out;
  }

  /** Resolves once every row sent so far is in a graph. */
  async whenCaughtUp(): Promise<void> {
    await Promise.all(this.graphs().map((g) => g.whenCaughtUp()));
  }

  /** Figures summed over shards; `indexed` counts rows (dead labels are not rows). */
  stats(): IndexStats {
    let indexed = 0;
    let queueDepth = 0;
    let tombstones = 0;
    let caughtUp = true;
    for (const s of this.shards) {
      const base = this.baseOf(s.index);
      const g = s.current;
      indexed += Math.max(
        0,
        this.labels.ordinalCeil(Math.max(base, g.indexed)) - this.labels.ordinalCeil(base),
      );
      queueDepth += g.queueDepth;
      tombstones += g.tombstones;
      caughtUp &&= g.isCaughtUp();
    }
    return {
      shards: this.shards.length,
      indexed,
      queueDepth,
      tombstones,
      vacuums: this.vacuums,
      caughtUp,
      strategies: { ...this.strategies },
    };
  }

  /**
   * Saves every shard's graph into one container (saved-index.ts) for the snapshot at
   * `lsn`. `droppedOrdinals` are the rows the snapshot leaves out (tombstoned when it was
   * captured): their labels are saved as dead, so a restart from the snapshot maps the
   * graphs' labels onto the snapshot's ordinals. Graph files pass through `tmpDir`.
   */
  async serialize(tmpDir: string, lsn: bigint, droppedOrdinals: ArrayLike<number> = []): Promise<Buffer> {
    await fs.mkdir(tmpDir, { recursive: true });
    const dead = this.labels.withDeadOrdinals(droppedOrdinals).dead;
    const shards: { labelsEnd: number; graph: Uint8Array }[] = [];
    for (const shard of this.shards) {
      const file = path.join(tmpDir, `shard-${shard.index}-${process.pid}-${Date.now()}.hnsw`);
      try {
        const labelsEnd = await shard.current.save(file);
        shards.push({ labelsEnd, graph: await fs.readFile(file) });
      } finally {
        await fs.rm(file, { force: true });
      }
    }
    const { metric, dim, m, efConstruction, shardRows } = this.params;
    return encodeSavedIndex({ lsn: lsn.toString(), metric, dim, m, efConstruction, shardRows }, shards, dead);
  }

  /**
   * Rebuilds an index from a saved container instead of from the rows. Throws
   * SavedIndexError when the container is damaged or does not match `params` and `lsn`
   * (the caller then builds from the rows). Rows added later with labels below a shard's
   * saved `labelsEnd` are skipped: they are in the graph already. The container's dead
   * labels become the index's label map.
   */
  static async deserialize(
    pool: IndexPool,
    params: ShardedIndexParams,
    blob: Uint8Array,
    lsn: bigint,
    tmpDir: string,
    liveRows: LiveRows,
    onVacuum?: (shard: number, phase: 'start' | 'done') => void,
  ): Promise<ShardedIndex> {
    const { header, graphs, dead } = decodeSavedIndex(blob);
    const mismatch = (['metric', 'dim', 'm', 'efConstruction', 'shardRows'] as const).find(
      (k) => header[k] !== params[k],
    );
    if (mismatch)
      throw new SavedIndexError(
        `saved index has ${mismatch}=${header[mismatch]}, the dataset needs ${params[mismatch]}`,
      );
    if (header.lsn !== lsn.toString())
      throw new SavedIndexError(`saved index is for LSN ${header.lsn}, the snapshot is at ${lsn}`);
    const index = new ShardedIndex(pool, params, liveRows, onVacuum, new LabelMap(dead));
    await fs.mkdir(tmpDir, { recursive: true });
    try {
      for (const [i, graph] of graphs.entries()) {
        const file = path.join(tmpDir, `load-${i}-${process.pid}-${Date.now()}.hnsw`);
        await fs.writeFile(file, graph);
        try {
          const labelsEnd = header.shards[i]!.labelsEnd;
          if (labelsEnd <= i * params.shardRows) {
            // An empty graph (saved before the shard indexed anything): start a fresh one.
            index.shardFor(i * params.shardRows);
            continue;
          }
          const handle = await pool.createFromFile(params, file, labelsEnd, () => index.onLost());
          index.shards.push({
            index: i,
            current: handle,
            next: undefined,
            rows: Math.max(0, labelsEnd - i * params.shardRows),
            deleted: 0,
            loadedEnd: labelsEnd,
          });
        } finally {
          await fs.rm(file, { force: true });
        }
      }
    } catch (err) {
      index.drop();
      throw err instanceof SavedIndexError
        ? err
        : new SavedIndexError(`saved index cannot be loaded: ${(err as Error).message}`);
    }
    return index;
  }

  /** Frees every graph. */
  drop(): void {
    this.dropped = true;
    for (const s of this.shards) {
      s.current.drop();
      s.next?.drop();
    }
  }

  private lostHandled = false;

  /** A worker died: rebuild every shard from the dataset's live rows. */
  onLost(): void {
    if (this.dropped || this.lostHandled) return;
    this.lostHandled = true;
    queueMicrotask(() => {
      this.lostHandled = false;
      for (const shard of this.shards) {
        shard.next?.drop();
        shard.next = undefined;
        shard.current.drop();
        shard.current = this.newHandle(this.baseOf(shard.index));
        shard.deleted = 0;
        shard.loadedEnd = 0;
        const from = shard.index * this.params.shardRows;
        this.fill(shard.current, from, from + this.params.shardRows);
      }
    });
  }

  /**
   * Sends the live rows of the label range [from, to) to a graph; each contiguous run of
   * labels is one add.
   */
  private fill(handle: IndexHandle, from: number, to: number): void {
    const rows = this.liveRows(this.labels.ordinalCeil(from), this.labels.ordinalCeil(to));
    const vectors = rows.vectors;
    const labels = this.labels.identity ? rows.labels : rows.labels.map((o) => this.labels.labelOf(o));
    const dim = this.params.dim;
    let runStart = 0;
    for (let i = 1; i <= labels.length; i++) {
      if (i === labels.length || labels[i] !== labels[i - 1]! + 1) {
        handle.add(labels[runStart]!, i - runStart, vectors.slice(runStart * dim, i * dim));
        runStart = i;
      }
    }
  }
}
