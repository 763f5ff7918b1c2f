/**
 * Takes snapshots and truncates the WAL behind them.
 *
 * A *round* snapshots every dataset that changed since its last snapshot (or one named
 * dataset), then deletes the snapshots of dropped datasets, then truncates the WAL:
 *
 * 1. Capture, in one tick: `A = wal.appliedLsn` and, per dataset, its batch list and a copy
 *    of its tombstone maps. Stored batches never change (only tombstones do), so this is
 *    the dataset exactly as of LSN A, whatever arrives meanwhile.
 * 2. Write each captured dataset (format.ts → parquet.ts's worker → backend), one at a
 *    time. The snapshot records `longbow.lsn = A`: every entry of that dataset up to A is in
 *    it. A dataset unchanged since its last snapshot is not rewritten: its snapshot still
 *    covers it up to A (it has no entries after its snapshot).
 * 3. Delete the snapshots of datasets that no longer exist (dropped). Until that deletion is
 *    durable the drop entry must stay in the WAL, or a restart would resurrect the dataset.
 * 4. Truncate: WAL segments whose entries all have LSN ≤ min over datasets of their covered
 *    LSN are deleted (`Wal.truncateBefore`). A dataset whose write failed holds the floor at
 *    its previous snapshot (0 without one); a failed deletion skips truncation.
 *
 * Rounds run one at a time (a queue). Triggers: the `LONGBOW_SNAPSHOT_INTERVAL` ticker,
 * `force_snapshot`, the WAL growing past `LONGBOW_MAX_WAL_SIZE`, and shutdown. A round with
 * failures is retried with exponential backoff (1 s … 60 s) until one succeeds.
 *
 * Start-up ({@link recoverSnapshots}) loads every snapshot and returns each dataset's
 * covered LSN; the WAL replay then skips that dataset's entries up to it.
 */
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Version } from '@longbow/cluster';
import type { RecordBatch } from 'apache-arrow';
import type { Logger } from 'pino';
import type { Compactor } from '../store/compaction.ts';
import type { Dataset, RowVersions } from '../store/dataset.ts';
import { ID_COLUMN, VERSION_HLC_COLUMN, VERSION_NODE_COLUMN, vectorValues } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Wal } from '../wal/wal.ts';
import type { SnapshotBackend } from './backend.ts';
import {
  fromSnapshotBatch,
  readSnapshotHeader,
  SnapshotCorruptError,
  snapshotKeyValues,
  snapshotRowVersions,
  snapshotSchema,
  toSnapshotBatch,
} from './format.ts';
import { decodeParquet, type ParquetCompression, ParquetEncoder } from './parquet.ts';

/** Key-value metadata: CRC-32 over the snapshot's vector values and id values, in row order. */
export const CHECKSUM_KEY = 'longbow.content_crc32';

const RETRY_DELAY_MS_MIN = 1000;
const RETRY_DELAY_MS_MAX = 60_000;
/** How often the WAL size is compared with `maxWalBytes`, ms. */
const WAL_SIZE_CHECK_MS = 1000;

/** Hooks for metrics; all optional. */
export interface SnapshotObserver {
  /** One dataset's snapshot was written (`ok`) or failed (`error`), taking `seconds`. */
  onSnapshot?(status: 'ok' | 'error', seconds: number, dataset: string, bytes: number): void;
}

/** Settings of a {@link Snapshotter}. */
export interface SnapshotterOptions {
  backend: SnapshotBackend;
  compression: ParquetCompression;
  /** Ticker period, ms; 0 disables the ticker. */
  intervalMs: number;
  /** WAL size that triggers a round, bytes; 0 disables. */
  maxWalBytes: number;
  log: Logger;
  /** Background compaction, started and stopped with the snapshotter. */
  compactor?: Compactor;
  observer?: SnapshotObserver;
}

/** The outcome of one dataset in a round. */
export interface DatasetSnapshotResult {
  dataset: string;
  status: 'ok' | 'unchanged' | 'error';
  lsn: number;
  rows?: number;
  bytes?: number;
  seconds?: number;
  location?: string;
  error?: string;
}

/** The outcome of a round. */
export interface RoundResult {
  lsn: number;
  datasets: DatasetSnapshotResult[];
  dropped: string[];
  walSegmentsRemoved: number;
  ok: boolean;
}

interface Covered {
  ds: Dataset;
  lsn: bigint;
  /** When the current snapshot file was written (epoch ms); undefined when it does not say. */
  writtenAtMs: number | undefined;
}

/** A dataset's current snapshot, for `get_stats`. */
export interface SnapshotStatus {
  /** The LSN it covers. */
  lsn: bigint;
  /** When it was written (epoch ms); undefined for a file that does not record it. */
  writtenAtMs: number | undefined;
  /** Where it is (file path or `s3://` URL). */
  location: string;
}

interface Captured {
  ds: Dataset;
  batches: { batch: RecordBatch; deleted: Uint8Array | undefined; versions: RowVersions }[];
  deletedIds: [number | bigint | string, Version][];
  lastLsn: bigint;
}

/**
 * CRC-32 over vector values, id values and (format 2) the version columns, one lane each,
 * independent of how rows are split into batches. Written as `vectors:ids` or
 * `vectors:ids:hlc:node`.
 */
export class ContentChecksum {
  private vectors = 0;
  private ids = 0;
  private hlc: number | undefined;
  private node: number | undefined;

  /** Folds in a snapshot batch's version columns (format 2), their raw little-endian values. */
  updateVersionColumns(batch: RecordBatch): void {
    const lane = (name: string, crc: number | undefined): number => {
      let c = crc ?? 0;
      for (const data of batch.getChild(name)?.data ?? []) {
        const values = data.values as ArrayBufferView & { BYTES_PER_ELEMENT: number };
        c = zlib.crc32(
          new Uint8Array(values.buffer, values.byteOffset, data.length * values.BYTES_PER_ELEMENT),
          c,
        );
      }
      return c;
    };
    this.hlc = lane(VERSION_HLC_COLUMN, this.hlc);
    this.node = lane(VERSION_NODE_COLUMN, this.node);
  }

  update(batch: RecordBatch, dim: number): void {
    const v = vectorValues(batch, dim);
    this.vectors = zlib.crc32(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), this.vectors);
    for (const data of batch.getChild(ID_COLUMN)!.data) {
      const values = data.values as ArrayBufferView;
      let bytes: Uint8Array;
      if (data.valueOffsets) {
        const offsets = data.valueOffsets as Int32Array;
        bytes = (values as Uint8Array).subarray(offsets[0]!, offsets[data.length]!);
      } else {
        const width = (values as BigInt64Array).BYTES_PER_ELEMENT;
        bytes = new Uint8Array(values.buffer, values.byteOffset, data.length * width);
      }
      this.ids = zlib.crc32(bytes, this.ids);
    }
  }

  toString(): string {
    const hex = (x: number) => x.toString(16).padStart(8, '0');
    const base = `${hex(this.vectors)}:${hex(this.ids)}`;
    return this.hlc === undefined ? base : `${base}:${hex(this.hlc)}:${hex(this.node ?? 0)}`;
  }
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Snapshots of one node (see the module comment). */
export class Snapshotter {
  private readonly store: Store;
  private readonly wal: Wal;
  private readonly opts: SnapshotterOptions;
  private readonly covered = new Map<string, Covered>();
  /** Datasets with a snapshot in the backend (loaded or written, not yet deleted). */
  private readonly files = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private ticker: NodeJS.Timeout | undefined;
  private walCheck: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = RETRY_DELAY_MS_MIN;
  private lastRoundLsn = -1n;
  private running = 0;
  private closed = false;
  private intervalMs: number;

  constructor(store: Store, wal: Wal, opts: SnapshotterOptions, recovered: Map<string, Covered> = new Map()) {
    this.store = store;
    this.wal = wal;
    this.opts = opts;
    this.intervalMs = opts.intervalMs;
    for (const [name, c] of recovered) {
      this.files.add(name);
      // A snapshot whose dataset was dropped by the replayed WAL stays in `files` only:
      // the next round deletes it.
      if (store.get(name) === c.ds) this.covered.set(name, c);
    }
  }

  /** Starts the ticker and the WAL size check. */
  start(): void {
    this.setIntervalMs(this.intervalMs);
    this.opts.compactor?.start();
    if (this.opts.maxWalBytes > 0) {
      this.walCheck = setInterval(() => this.checkWalSize(), WAL_SIZE_CHECK_MS);
      this.walCheck.unref();
    }
  }

  /** Changes the ticker period (SIGHUP); 0 stops it. */
  setIntervalMs(ms: number): void {
    this.intervalMs = ms;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (ms > 0 && !this.closed) {
      this.ticker = setInterval(() => void this.runQuietly('interval'), ms);
      this.ticker.unref();
    }
  }

  get snapshotIntervalMs(): number {
    return this.intervalMs;
  }

  /** Where snapshots are stored. */
  get backend(): SnapshotBackend {
    return this.opts.backend;
  }

  /** The current snapshot of dataset `name`, or undefined when it has none yet. */
  statusOf(name: string): SnapshotStatus | undefined {
    const c = this.covered.get(name);
    if (!c || this.store.get(name) !== c.ds) return undefined;
    return { lsn: c.lsn, writtenAtMs: c.writtenAtMs, location: this.opts.backend.locationOf(name) };
  }

  /** True while a round runs or waits. */
  get busy(): boolean {
    return this.running > 0;
  }

  /** Runs a round (all datasets, or only `dataset`) after any round already queued. */
  snapshot(dataset?: string): Promise<RoundResult> {
    this.running++;
    const next = this.chain.then(() => this.round(dataset));
    this.chain = next.catch(() => {});
    return next.finally(() => {
      this.running--;
    });
  }

  /**
   * The shutdown snapshot: one round (snapshots, then WAL truncation), given at most
   * `timeoutMs`. Past it the node stops anyway — nothing is lost: the WAL still holds every
   * entry the unfinished snapshots would have covered.
   */
  async finalSnapshot(timeoutMs: number): Promise<void> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const r = await Promise.race([this.snapshot(), timeout]);
      const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
      if (r === 'timeout')
        this.opts.log.warn(
          { timeoutMs },
          'shutdown snapshot did not finish in time; the WAL keeps its entries',
        );
      else
        this.opts.log.info(
          { lsn: r.lsn, ok: r.ok, seconds, segmentsRemoved: r.walSegmentsRemoved },
          'shutdown snapshot taken',
        );
    } catch (err) {
      this.opts.log.error({ err }, 'shutdown snapshot failed; the WAL keeps its entries');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the timers; waits up to `waitMs` for a running round, then releases the backend. */
  async close(waitMs = 1000): Promise<void> {
    this.closed = true;
    for (const t of [this.ticker, this.walCheck, this.retryTimer]) if (t) clearInterval(t);
    this.opts.compactor?.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.chain, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    if (this.running === 0) this.opts.backend.close?.();
  }

  private checkWalSize(): void {
    if (this.running > 0 || this.closed) return;
    if (this.wal.sizeBytes() <= this.opts.maxWalBytes || this.wal.appliedLsn <= this.lastRoundLsn) return;
    void this.runQuietly('wal_size');
  }

  private async runQuietly(trigger: string): Promise<void> {
    try {
      const r = await this.snapshot();
      if (r.datasets.some((d) => d.status === 'ok'))
        this.opts.log.info(
          { trigger, lsn: r.lsn, segmentsRemoved: r.walSegmentsRemoved },
          'snapshot round done',
        );
    } catch (err) {
      this.opts.log.error({ err, trigger }, 'snapshot round failed');
    }
  }

  private async round(only: string | undefined): Promise<RoundResult> {
    const lsn = this.wal.appliedLsn;
    const captured = this.capture(only);
    this.lastRoundLsn = lsn;
    const results: DatasetSnapshotResult[] = [];
    for (const c of captured) {
      const prev = this.covered.get(c.ds.name);
      if (prev && prev.ds === c.ds && c.lastLsn <= prev.lsn) {
        results.push({ dataset: c.ds.name, status: 'unchanged', lsn: Number(prev.lsn) });
        continue;
      }
      results.push(await this.write(c, lsn));
    }
    const dropped: string[] = [];
    let deletionsOk = true;
    for (const name of [...this.files]) {
      const c = this.covered.get(name);
      if (this.store.get(name) && c && this.store.get(name) === c.ds) continue;
      if (this.store.get(name) && !c) continue; // recreated after a drop; written next round
      try {
        await this.opts.backend.delete(name);
        await this.opts.backend.delete(name, 'index');
        this.files.delete(name);
        this.covered.delete(name);
        dropped.push(name);
      } catch (err) {
        deletionsOk = false;
        this.opts.log.error({ err, dataset: name }, 'could not delete the snapshot of a dropped dataset');
      }
    }
    let removed = 0;
    if (deletionsOk) {
      const floor = this.truncationFloor(lsn);
      if (floor > 0n) removed = await this.wal.truncateBefore(floor + 1n);
    }
    const ok = deletionsOk && results.every((r) => r.status !== 'error');
    this.scheduleRetry(ok);
    return { lsn: Number(lsn), datasets: results, dropped, walSegmentsRemoved: removed, ok };
  }

  private capture(only: string | undefined): Captured[] {
    const list = only === undefined ? this.store.list() : [this.store.require(only)];
    return list.map((ds) => ({
      ds,
      lastLsn: ds.lastLsn,
      // A stored batch's versions never change (a new write is a new row), so no copy.
      batches: ds.batches.map((b) => ({ batch: b.batch, deleted: b.deleted?.slice(), versions: b.versions })),
      deletedIds: ds.deletedIdEntries(),
    }));
  }

  /** Highest LSN such that every entry up to it is covered by a current snapshot. */
  private truncationFloor(roundLsn: bigint): bigint {
    let floor = roundLsn;
    for (const ds of this.store.list()) {
      const c = this.covered.get(ds.name);
      if (!c || c.ds !== ds) return 0n; // never snapshotted (or recreated): needs its entries
      // Changed since its snapshot (a failed write, or entries after the capture): the
      // snapshot covers it up to c.lsn. Unchanged: it has no entries after c.lsn at all.
      const cover = ds.lastLsn > c.lsn ? c.lsn : roundLsn;
      if (cover < floor) floor = cover;
    }
    return floor;
  }

  private scheduleRetry(ok: boolean): void {
    if (ok) {
      this.retryDelayMs = RETRY_DELAY_MS_MIN;
      return;
    }
    if (this.retryTimer || this.closed) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(RETRY_DELAY_MS_MAX, delay * 2);
    this.opts.log.warn({ retryInMs: delay }, 'snapshot round had failures; retrying');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.runQuietly('retry');
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * Saves the dataset's index beside its snapshot, so a restart loads the graphs instead of
   * rebuilding them. The snapshot holds live rows only, so the rows tombstoned at capture
   * are saved as dead labels: after a restart the graphs' labels map onto the snapshot's
   * ordinals (label-map.ts). A failure here costs only a rebuild at the next start, so it is
   * logged, not fatal to the snapshot (any older index file is removed).
   */
  private async saveIndex(c: Captured, lsn: bigint): Promise<void> {
    const name = c.ds.name;
    try {
      if (!c.ds.index || this.store.get(name) !== c.ds) {
        await this.opts.backend.delete(name, 'index');
        return;
      }
      const dropped: number[] = [];
      let first = 0;
      for (const { batch, deleted } of c.batches) {
        if (deleted) for (let i = 0; i < batch.numRows; i++) if (deleted[i] === 1) dropped.push(first + i);
        first += batch.numRows;
      }
      const started = performance.now();
      const blob = await c.ds.index.serialize(path.join(os.tmpdir(), 'longbow-index'), lsn, dropped);
      await this.opts.backend.put(name, blob, 'index');
      this.opts.log.info(
        {
          dataset: name,
          lsn: Number(lsn),
          bytes: blob.byteLength,
          droppedRows: dropped.length,
          seconds: (performance.now() - started) / 1000,
        },
        'index saved',
      );
    } catch (err) {
      this.opts.log.warn({ err, dataset: name }, 'index not saved; a restart will rebuild it');
    }
  }

  private async write(c: Captured, lsn: bigint): Promise<DatasetSnapshotResult> {
    const started = performance.now();
    const name = c.ds.name;
    const location = this.opts.backend.locationOf(name);
    this.opts.log.debug({ dataset: name, lsn: Number(lsn) }, 'snapshot started');
    try {
      const writtenAt = new Date();
      const bytes = await encodeSnapshot(c, lsn, this.opts.compression, writtenAt);
      await this.opts.backend.put(name, bytes.file);
      await this.saveIndex(c, lsn);
      this.files.add(name);
      this.covered.set(name, { ds: c.ds, lsn, writtenAtMs: writtenAt.getTime() });
      const seconds = (performance.now() - started) / 1000;
      this.opts.observer?.onSnapshot?.('ok', seconds, name, bytes.file.byteLength);
      this.opts.log.info(
        {
          dataset: name,
          lsn: Number(lsn),
          rows: bytes.rows,
          bytes: bytes.file.byteLength,
          seconds,
          location,
        },
        'snapshot written',
      );
      return {
        dataset: name,
        status: 'ok',
        lsn: Number(lsn),
        rows: bytes.rows,
        bytes: bytes.file.byteLength,
        seconds: Number(seconds.toFixed(3)),
        location,
      };
    } catch (err) {
      const seconds = (performance.now() - started) / 1000;
      this.opts.observer?.onSnapshot?.('error', seconds, name, 0);
      this.opts.log.error(
        { err, dataset: name, location },
        'snapshot failed; the previous one stays current',
      );
      return { dataset: name, status: 'error', lsn: Number(lsn), error: (err as Error).message, location };
    }
  }
}

/** Encodes a captured dataset as a Parquet file (live rows only). */
async function encodeSnapshot(
  c: Captured,
  lsn: bigint,
  compression: ParquetCompression,
  writtenAt: Date,
): Promise<{ file: Uint8Array; rows: number }> {
  const def = c.ds.def;
  const { schema } = snapshotSchema(def);
  const encoder = new ParquetEncoder(schema);
  const checksum = new ContentChecksum();
  let rows = 0;
  try {
    for (const { batch, deleted, versions } of c.batches) {
      const out = toSnapshotBatch(def, schema, batch, deleted, versions);
      if (out) {
        encoder.add(out);
        checksum.update(out, def.dim);
        checksum.updateVersionColumns(out);
        rows += out.numRows;
      }
      await yieldToLoop();
    }
  } catch (err) {
    await encoder.abort();
    throw err;
  }
  const kv = snapshotKeyValues(def, lsn, rows, writtenAt, c.deletedIds);
  kv.set(CHECKSUM_KEY, checksum.toString());
  const file = await encoder.finish(kv, compression);
  return { file, rows };
}

/** What start-up recovered: per dataset, the restored dataset and the LSN its snapshot covers. */
export type Recovered = Map<string, Covered>;

/**
 * Loads every snapshot of `backend` into `store`. Throws {@link SnapshotCorruptError}
 * naming the file when one cannot be read or fails its checksum: start-up stops rather
 * than serve without it.
 */
export async function recoverSnapshots(
  backend: SnapshotBackend,
  store: Store,
  log: Logger,
): Promise<Recovered> {
  const recovered: Recovered = new Map();
  for (const name of await backend.list()) {
    const file = backend.locationOf(name);
    const started = performance.now();
    const bytes = await backend.get(name);
    if (!bytes) continue;
    let decoded: ReturnType<typeof decodeParquet>;
    try {
      decoded = decodeParquet(bytes);
    } catch (err) {
      throw new SnapshotCorruptError(file, (err as Error).message, { cause: err });
    }
    const header = readSnapshotHeader(file, decoded.keyValues);
    if (header.def.name !== name)
      throw new SnapshotCorruptError(file, `holds dataset "${header.def.name}", not "${name}"`);
    const checksum = new ContentChecksum();
    const versions: RowVersions[] = [];
    const batches = decoded.batches
      .filter((b) => b.numRows > 0)
      .map((b) => {
        const restored = fromSnapshotBatch(file, header.def, b);
        checksum.update(restored, header.def.dim);
        versions.push(snapshotRowVersions(file, header.info, b));
        if (header.info.version >= 2) checksum.updateVersionColumns(b);
        return restored;
      });
    const rows = batches.reduce((n, b) => n + b.numRows, 0);
    if (rows !== header.info.rows)
      throw new SnapshotCorruptError(file, `holds ${rows} rows, its metadata says ${header.info.rows}`);
    const expected = decoded.keyValues.get(CHECKSUM_KEY);
    if (expected !== checksum.toString())
      throw new SnapshotCorruptError(file, `content checksum ${checksum} does not match ${expected}`);
    const savedIndex = await backend.get(name, 'index').catch((err: Error) => {
      log.warn({ err, dataset: name }, 'saved index unreadable; rebuilding the index');
      return undefined;
    });
    const { ds, index, reason } = await store.restore(
      header.def,
      batches,
      header.lsn,
      savedIndex,
      versions,
      header.deletedIds,
    );
    recovered.set(name, { ds, lsn: header.lsn, writtenAtMs: header.writtenAtMs });
    if (reason) log.warn({ dataset: name, reason }, 'saved index not used; rebuilding the index');
    log.info(
      {
        dataset: name,
        rows,
        lsn: Number(header.lsn),
        index,
        seconds: (performance.now() - started) / 1000,
        file,
      },
      'snapshot loaded',
    );
  }
  return recovered;
}
