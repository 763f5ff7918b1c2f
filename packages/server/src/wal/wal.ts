/**
 * The write-ahead log: segment files of framed entries (entry.ts), replay on open, and
 * group commit.
 *
 * Segments are `wal-<first LSN, 20 digits>.log` in the data directory. Life of a segment:
 * `open for append → full (rotated) → deleted once a snapshot covers all its LSNs`.
 *
 * Group commit: `append` assigns the next LSN at once and queues the entry; a single
 * flush loop takes everything queued, writes it with vectored writes, fsyncs once
 * (fdatasync), then runs each entry's `onDurable` callback and resolves its promise, in LSN
 * order. While one fsync runs, new entries gather for the next. In async mode the promise
 * resolves after the write and a timer fsyncs every `flushIntervalMs`.
 *
 * Failure: a failed write or fsync leaves the file in an unknown state (after a failed
 * fsync the kernel may have dropped the dirty pages), so the WAL stops accepting appends
 * and every queued entry is rejected; reads keep working. A restart replays what is on disk.
 */
import path from 'node:path';
import { type FileLayer, nodeFileLayer, type StorageFile } from '../storage/file-layer.ts';
import { encodeEntry, readEntryAt, type WalEntry } from './entry.ts';

/** A complete entry whose checksum or fields are wrong, before the tail: start-up stops. */
export class WalCorruptionError extends Error {
  override readonly name = 'WalCorruptionError';
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, reason: string) {
    super(`WAL corrupt in ${file} at offset ${offset}: ${reason}`);
    this.file = file;
    this.offset = offset;
  }
}

/** The WAL can no longer accept writes (a write or fsync failed, or it is closed). */
export class WalUnavailableError extends Error {
  override readonly name = 'WalUnavailableError';
}

/** Hooks for metrics and logs; all optional. */
export interface WalObserver {
  /** A group was written (and fsynced unless async): entry count, bytes, seconds in fsync. */
  onFlush?(entryCount: number, byteLength: number, fsyncSeconds: number): void;
  /** A write or fsync failed; the WAL is now unavailable. */
  onFailure?(err: Error): void;
  /** A torn tail was truncated on open. */
  onTornTail?(file: string, offset: number, reason: string): void;
  /** An fsync ran (group commit, async timer, close); `ok` false when it failed. */
  onFsync?(ok: boolean): void;
}

/** Options for {@link Wal.open}. */
export interface WalOptions {
  /** Directory of the segment files; created when missing. */
  dir: string;
  /** Rotate to a new segment past this many bytes. */
  segmentBytes: number;
  /** Bytes allowed in the queue before {@link Wal.waitForRoom} waits. */
  queueBytesMax: number;
  /** Acknowledge after write, fsync on a timer (see module comment). */
  asyncFsync: boolean;
  /** Timer period for async fsync, ms. */
  flushIntervalMs: number;
  observer?: WalObserver;
  /** The file layer (storage/file-layer.ts); the real file system when absent. */
  files?: FileLayer;
}

/** Bounds on one group: this many entries or bytes at most per write+fsync. */
const GROUP_ENTRIES_MAX = 4096;
const GROUP_BYTES_MAX = 128 * 1024 * 1024;
/** Buffers per writev call (below IOV_MAX = 1024). */
const IOVECS_PER_WRITE = 512;

interface Pending {
  lsn: bigint;
  entry: WalEntry;
  buffers: Uint8Array[];
  byteLength: number;
  onDurable: ((entry: WalEntry) => void) | undefined;
  resolve: (lsn: bigint) => void;
  reject: (err: Error) => void;
}

interface Segment {
  firstLsn: bigint;
  file: string;
  byteLength: number;
}

const SEGMENT_RE = /^wal-(\d{20})\.log$/;
const segmentName = (firstLsn: bigint): string => `wal-${firstLsn.toString().padStart(20, '0')}.log`;

/** The write-ahead log of one node. Open with {@link Wal.open}. */
export class Wal {
  private readonly opts: WalOptions;
  private readonly files: FileLayer;
  private readonly segments: Segment[];
  private handle: StorageFile;
  private nextLsn: bigint;
  private appliedLsnValue: bigint;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private flushing = false;
  private failureValue: Error | undefined;
  private closed = false;
  private dirty = false;
  private roomWaiters: (() => void)[] = [];
  private flushIdle: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  private constructor(opts: WalOptions, segments: Segment[], handle: StorageFile, nextLsn: bigint) {
    this.opts = opts;
    this.files = opts.files ?? nodeFileLayer;
    this.segments = segments;
    this.handle = handle;
    this.nextLsn = nextLsn;
    this.appliedLsnValue = nextLsn - 1n;
    if (opts.asyncFsync) {
      this.timer = setInterval(() => void this.syncIfDirty(), opts.flushIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Opens the WAL in `opts.dir`, calling `onEntry` for every entry on disk in LSN order
   * (entries with LSN ≤ `afterLsn` are skipped). A torn tail of the last segment is
   * truncated and reported; any other damage throws {@link WalCorruptionError}.
   */
  static async open(opts: WalOptions, onEntry: (entry: WalEntry) => void, afterLsn = 0n): Promise<Wal> {
    const files = opts.files ?? nodeFileLayer;
    await files.mkdir(opts.dir);
    const names = (await files.readdir(opts.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    const segments: Segment[] = [];
    let expected: bigint | undefined;
    for (const [i, name] of names.entries()) {
      const file = path.join(opts.dir, name);
      const firstLsn = BigInt(SEGMENT_RE.exec(name)![1]!);
      const isLast = i === names.length - 1;
      const buf = await files.readFile(file);
      let offset = 0;
      for (;;) {
        const r = readEntryAt(buf, offset);
        if (r.kind === 'end') break;
        if (r.kind === 'corrupt') throw new WalCorruptionError(file, offset, r.reason);
        if (r.kind === 'torn') {
          if (!isLast)
            throw new WalCorruptionError(
              file,
              offset,
              `incomplete entry before the last segment: ${r.reason}`,
            );
          await truncateFile(files, file, offset);
          opts.observer?.onTornTail?.(file, offset, r.reason);
          break;
        }
        const { entry } = r;
        if (expected === undefined && entry.lsn !== firstLsn) {
          throw new WalCorruptionError(
            file,
            offset,
            `first LSN ${entry.lsn} does not match the segment name (${firstLsn})`,
          );
        }
        if (expected !== undefined && entry.lsn !== expected) {
          throw new WalCorruptionError(file, offset, `LSN ${entry.lsn} where ${expected} was expected`);
        }
        expected = entry.lsn + 1n;
        if (entry.lsn > afterLsn) onEntry(entry);
        offset = r.nextOffset;
      }
      if (expected === undefined) expected = firstLsn; // an empty segment
      segments.push({ firstLsn, file, byteLength: offset });
    }
    const nextLsn = expected ?? afterLsn + 1n;
    let last = segments.at(-1);
    if (!last || last.byteLength >= opts.segmentBytes) {
      last = { firstLsn: nextLsn, file: path.join(opts.dir, segmentName(nextLsn)), byteLength: 0 };
      segments.push(last);
    }
    const handle = await files.open(last.file, 'append');
    await files.syncDir(opts.dir);
    return new Wal(opts, segments, handle, nextLsn);
  }

  /** LSN of the last entry appended (0 when none). */
  get lastLsn(): bigint {
    return this.nextLsn - 1n;
  }

  /**
   * LSN of the last entry whose `onDurable` callback has run (every entry up to it has been
   * applied, in order). A snapshot captured in one tick reflects exactly the entries up to
   * this LSN, whatever is still queued.
   */
  get appliedLsn(): bigint {
    return this.appliedLsnValue;
  }

  /** Why the WAL stopped accepting writes (a failed write or fsync), or undefined while healthy. */
  get failure(): Error | undefined {
    return this.failureValue;
  }

  /** Fraction of the queue in use, 0..1+ (DoPut sends `slow_down` above 0.8). */
  queueFill(): number {
    return this.queuedBytes / this.opts.queueBytesMax;
  }

  /** Bytes of entries waiting to be written and fsynced. */
  queueBytes(): number {
    return this.queuedBytes;
  }

  /** Entries waiting to be written. */
  queueDepth(): number {
    return this.queue.length;
  }

  /** Bytes across all segment files. */
  sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.byteLength, 0);
  }

  /** Resolves when the queue has room for `bytes` more (always soon for an empty queue). */
  waitForRoom(bytes: number): Promise<void> {
    if (this.queuedBytes === 0 || this.queuedBytes + bytes <= this.opts.queueBytesMax || this.failureValue) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /**
   * Appends an entry. The LSN is assigned now; the promise resolves with it once the entry
   * is durable (fsynced, or written in async mode). `onDurable` runs just before with the
   * entry as logged (LSN filled in), and all `onDurable` callbacks run in LSN order —
   * callers apply the write there. Throws RangeError for an entry the format cannot hold;
   * rejects with {@link WalUnavailableError} after a failure or close.
   */
  append(fields: Omit<WalEntry, 'lsn'>, onDurable?: (entry: WalEntry) => void): Promise<bigint> {
    if (this.failureValue)
      return Promise.reject(new WalUnavailableError(`WAL failed earlier: ${this.failureValue.message}`));
    if (this.closed) return Promise.reject(new WalUnavailableError('WAL is closed'));
    const lsn = this.nextLsn;
    const entry: WalEntry = { ...fields, lsn };
    const { buffers, byteLength } = encodeEntry(entry);
    this.nextLsn = lsn + 1n;
    return new Promise((resolve, reject) => {
      this.queue.push({ lsn, entry, buffers, byteLength, onDurable, resolve, reject });
      this.queuedBytes += byteLength;
      if (!this.flushing) void this.flushLoop();
    });
  }

  /** Resolves once everything appended so far is written and fsynced. */
  async flush(): Promise<void> {
    if (this.flushing || this.queue.length > 0)
      await new Promise<void>((resolve) => this.flushIdle.push(resolve));
    await this.syncIfDirty();
  }

  /**
   * Deletes segments whose entries all have LSN < `lsn` (they are covered by a snapshot).
   * The segment being written is never deleted.
   */
  async truncateBefore(lsn: bigint): Promise<number> {
    let removed = 0;
    while (this.segments.length > 1) {
      const next = this.segments[1]!;
      if (next.firstLsn > lsn) break;
      const seg = this.segments.shift()!;
      await this.files.rm(seg.file);
      removed++;
    }
    if (removed > 0) await this.files.syncDir(this.opts.dir);
    return removed;
  }

  /** Flushes, fsyncs and closes. Later appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => {});
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.handle.close();
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0 && !this.failureValue) {
      const group = this.takeGroup();
      const bytes = group.reduce((n, p) => n + p.byteLength, 0);
      let fsyncSeconds = 0;
      try {
        await this.writeGroup(group);
        if (!this.opts.asyncFsync) {
          const t0 = performance.now();
          await this.datasyncObserved();
          fsyncSeconds = (performance.now() - t0) / 1000;
        } else {
          this.dirty = true;
        }
      } catch (err) {
        this.fail(err as Error, group);
        break;
      }
      this.queuedBytes -= bytes;
      this.segments.at(-1)!.byteLength += bytes;
      this.opts.observer?.onFlush?.(group.length, bytes, fsyncSeconds);
      for (const p of group) {
        p.onDurable?.(p.entry);
        this.appliedLsnValue = p.lsn;
        p.resolve(p.lsn);
      }
      this.wakeRoomWaiters();
      if (this.segments.at(-1)!.byteLength >= this.opts.segmentBytes) {
        try {
          await this.rotate();
        } catch (err) {
          this.fail(err as Error, []);
          break;
        }
      }
    }
    this.flushing = false;
    for (const resolve of this.flushIdle.splice(0)) resolve();
  }

  private takeGroup(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < GROUP_ENTRIES_MAX) {
      const size = this.queue[n]!.byteLength;
      if (n > 0 && bytes + size > GROUP_BYTES_MAX) break;
      bytes += size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    const iovecs = group.flatMap((p) => p.buffers);
    for (let i = 0; i < iovecs.length; i += IOVECS_PER_WRITE) {
      const chunk = iovecs.slice(i, i + IOVECS_PER_WRITE);
      const expected = chunk.reduce((n, b) => n + b.byteLength, 0);
      const bytesWritten = await this.handle.writev(chunk);
      if (bytesWritten !== expected) throw new Error(`short WAL write: ${bytesWritten} of ${expected} bytes`);
    }
  }

  private async rotate(): Promise<void> {
    await this.datasyncObserved();
    await this.handle.close();
    const seg: Segment = { firstLsn: this.nextLsnWritten(), file: '', byteLength: 0 };
    seg.file = path.join(this.opts.dir, segmentName(seg.firstLsn));
    this.handle = await this.files.open(seg.file, 'append');
    this.segments.push(seg);
    this.dirty = false;
    await this.files.syncDir(this.opts.dir);
  }

  /** fdatasync of the open segment, reported to the observer whether it succeeds or not. */
  private async datasyncObserved(): Promise<void> {
    try {
      await this.handle.datasync();
    } catch (err) {
      this.opts.observer?.onFsync?.(false);
      throw err;
    }
    this.opts.observer?.onFsync?.(true);
  }

  /** LSN of the first entry not yet written (queued entries come after). */
  private nextLsnWritten(): bigint {
    return this.queue[0]?.lsn ?? this.nextLsn;
  }

  private async syncIfDirty(): Promise<void> {
    if (!this.dirty || this.closed || this.failureValue) return;
    this.dirty = false;
    try {
      await this.datasyncObserved();
    } catch (err) {
      this.fail(err as Error, []);
    }
  }

  private fail(err: Error, group: Pending[]): void {
    if (!this.failureValue) {
      this.failureValue = err;
      this.opts.observer?.onFailure?.(err);
    }
    const reason = new WalUnavailableError(`WAL write failed: ${err.message}`, { cause: err });
    for (const p of [...group, ...this.queue.splice(0)]) p.reject(reason);
    this.queuedBytes = 0;
    this.wakeRoomWaiters();
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters.splice(0);
    for (const w of waiters) w();
  }
}

async function truncateFile(files: FileLayer, file: string, length: number): Promise<void> {
  const fh = await files.open(file, 'update');
  try {
    await fh.truncate(length);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
