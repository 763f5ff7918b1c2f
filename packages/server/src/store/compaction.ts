/**
 * Background compaction: adjacent small batches of a dataset are merged into larger ones,
 * so a dataset written in many small DoPuts (or restored from a snapshot) does not stay a
 * long list of tiny batches (each costs a scan step, a filter setup and per-batch
 * overhead in snapshots).
 *
 * Leveled: a batch smaller than `targetRows / fanIn` is level 0; runs of adjacent level-0
 * batches are merged up to `targetRows / fanIn` rows (level 1), and runs of adjacent
 * level-1-or-smaller batches up to `targetRows` (level 2, final). Each merge copies rows
 * once; with `fanIn` 10 a row is copied at most twice.
 *
 * Invariants: merging keeps rows in ordinal order, so ordinals — the index's labels and the
 * id map's values — do not change and the index needs nothing. A merge reads only the
 * (immutable) stored batches and is swapped in with `Dataset.replaceBatches`, which carries
 * over the tombstones as they are at that moment; plan, copy and swap are one synchronous
 * step bounded by `targetRows` rows (about a millisecond per 10 000 rows of 128 floats), and
 * the compactor yields to the event loop between merges, so reads and writes interleave.
 * Scans that started before a swap keep the batch list they took.
 */
import type { Data, RecordBatch } from 'apache-arrow';
import { batchOf, concatData } from './columns.ts';
import type { Dataset } from './dataset.ts';
import type { Store } from './store.ts';

/** Compaction settings. */
export interface CompactionOptions {
  /** Rows of a fully compacted batch. Default 10 000. */
  targetRows: number;
  /** Size ratio between levels. Default 10. */
  fanIn: number;
  /** How often datasets are checked, ms. Default 5000. */
  intervalMs: number;
}

export const DEFAULT_COMPACTION: CompactionOptions = { targetRows: 10_000, fanIn: 10, intervalMs: 5000 };

/** A run of adjacent batches [from, to) to merge. */
export interface MergePlan {
  from: number;
  to: number;
  rows: number;
}

/**
 * The next merge for a list of batch sizes (pure), or undefined when none is due. A run
 * needs at least two batches; the first level with a run wins (small batches first).
 */
export function planMerge(
  rowCounts: readonly number[],
  opts: Pick<CompactionOptions, 'targetRows' | 'fanIn'>,
): MergePlan | undefined {
  const levels = [Math.max(1, Math.floor(opts.targetRows / opts.fanIn)), opts.targetRows];
  for (const limit of levels) {
    let from = 0;
    while (from < rowCounts.length) {
      let rows = 0;
      let to = from;
      while (to < rowCounts.length && rowCounts[to]! < limit && rows + rowCounts[to]! <= limit) {
        rows += rowCounts[to]!;
        to++;
      }
      if (to - from >= 2) return { from, to, rows };
      from = Math.max(to, from + 1);
    }
  }
  return undefined;
}

/** The batches as one batch of the same schema. */
export function mergeBatches(batches: readonly RecordBatch[]): RecordBatch {
  const schema = batches[0]!.schema;
  const length = batches.reduce((n, b) => n + b.numRows, 0);
  const children = schema.fields.map((f, i) =>
    concatData(
      batches.map((b) => b.data.children[i] as Data),
      f.type,
    ),
  );
  return batchOf(schema, length, children);
}

/**
 * Runs one merge on `ds` if one is due; returns it (undefined when none was). The merged
 * batch is swapped in only if the dataset's batch list still holds the same batches.
 */
export function compactOnce(
  ds: Dataset,
  opts: Pick<CompactionOptions, 'targetRows' | 'fanIn'>,
): MergePlan | undefined {
  const list = ds.batches;
  const plan = planMerge(
    list.map((b) => b.batch.numRows),
    opts,
  );
  if (!plan) return undefined;
  const olds = list.slice(plan.from, plan.to);
  const merged = mergeBatches(olds.map((b) => b.batch));
  // Synchronous with the planning above: nothing can have changed the list in between.
  ds.replaceBatches(plan.from, plan.to, merged);
  return plan;
}

/** Compacts every dataset of a store in the background, one merge per event-loop turn. */
export class Compactor {
  private readonly store: Store;
  private readonly opts: CompactionOptions;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly onMerge: () => void;
  /** Merges done, for stats and tests. */
  merges = 0;

  /** @param onMerge called after each merge (metrics). */
  constructor(store: Store, opts: Partial<CompactionOptions> = {}, onMerge: () => void = () => {}) {
    this.store = store;
    this.opts = { ...DEFAULT_COMPACTION, ...opts };
    this.onMerge = onMerge;
  }

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Compacts every dataset until no merge is due (yielding between merges). */
  async runOnce(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let n = 0;
    try {
      for (const ds of this.store.list()) {
        while (this.store.get(ds.name) === ds && compactOnce(ds, this.opts)) {
          n++;
          this.onMerge();
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.running = false;
    }
    this.merges += n;
    return n;
  }
}
