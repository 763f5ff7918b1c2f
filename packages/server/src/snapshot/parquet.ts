/**
 * Parquet ⇄ Arrow with parquet-wasm (Arrow-native; ZSTD and Snappy).
 *
 * Writing: {@link ParquetEncoder} takes a snapshot's batches one at a time on the event
 * loop (each is turned into an Arrow IPC piece — a copy of its buffers, nothing heavier)
 * and hands them to a worker thread (parquet-worker.ts), where the Parquet encoding and
 * compression run. So the event loop is blocked for one batch's copy at a time, never for
 * the whole file.
 *
 * Reading: {@link decodeParquet} (start-up, on the event loop: nothing else runs yet).
 */
import { Worker } from 'node:worker_threads';
import { IpcEncoder, toIpcStream } from '@longbow/flight';
import { type RecordBatch, type Schema, tableFromIPC } from 'apache-arrow';
import * as pq from 'parquet-wasm';
import type { FromParquetWorker, ParquetCompression, ToParquetWorker } from './parquet-worker.ts';

export type { ParquetCompression };

/** Rows per Parquet row group (and per batch when reading back). */
export const ROW_GROUP_ROWS = 65_536;

/** A Parquet file's batches (of up to `batchRows` rows) and its key-value metadata. */
export function decodeParquet(
  bytes: Uint8Array,
  batchRows: number = ROW_GROUP_ROWS,
): { batches: RecordBatch[]; keyValues: Map<string, string>; schema: Schema } {
  const table = pq.readParquet(bytes, { batchSize: batchRows });
  const arrow = tableFromIPC(table.intoIPCStream());
  return { batches: arrow.batches, schema: arrow.schema, keyValues: new Map(arrow.schema.metadata) };
}

/** Key-value metadata only (reads the footer, not the data). */
export function readParquetKeyValues(bytes: Uint8Array): Map<string, string> {
  const schema = pq.readSchema(bytes);
  const out = new Map<string, string>();
  for (const [k, v] of schema.metadata() as Map<string, string>) out.set(k, v);
  schema.free();
  return out;
}

/**
 * A view whose buffer may be transferred: small Buffers share Node's allocation pool
 * (transferring it would detach other Buffers), so those are copied; large ones own theirs.
 */
function own(bytes: Uint8Array): Uint8Array {
  if (bytes.buffer instanceof ArrayBuffer && bytes.buffer.byteLength > Buffer.poolSize) return bytes;
  return new Uint8Array(bytes);
}

const END_OF_STREAM_BYTES = 8;

/**
 * Streams batches of one schema to a Parquet encoder thread. `add` each batch (awaiting
 * between batches lets the event loop run), then `finish` for the file's bytes.
 * `abort` ends the worker early. Threads are reused from file to file.
 */
export class ParquetEncoder {
  private readonly worker: Worker;
  private readonly encoder: IpcEncoder;
  private readonly result: Promise<Uint8Array>;
  private done = false;
  private postedBytes = 0;

  constructor(schema: Schema) {
    this.worker = idleWorkers.pop() ?? new Worker(new URL('./parquet-worker.ts', import.meta.url));
    this.worker.ref();
    this.encoder = new IpcEncoder(schema, 'none');
    this.result = new Promise((resolve, reject) => {
      const onMessage = (msg: FromParquetWorker) => {
        cleanup();
        if (msg.kind === 'done') resolve(msg.bytes);
        else reject(new Error(`Parquet encoding failed: ${msg.message}`));
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`Parquet worker exited with code ${code}`));
      };
      const cleanup = () => {
        this.worker.off('message', onMessage);
        this.worker.off('error', onError);
        this.worker.off('exit', onExit);
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', onError);
      this.worker.on('exit', onExit);
    });
    this.result.catch(() => {});
    const head = toIpcStream([this.encoder.schemaMessage()]);
    this.post(head.subarray(0, head.byteLength - END_OF_STREAM_BYTES));
  }

  /** Adds one batch (in the schema given to the constructor). */
  add(batch: RecordBatch): void {
    const piece = toIpcStream(this.encoder.batchMessages(batch));
    this.post(piece.subarray(0, piece.byteLength - END_OF_STREAM_BYTES));
  }

  /** Encodes everything added; resolves with the Parquet file's bytes. */
  async finish(
    keyValues: Map<string, string>,
    compression: ParquetCompression,
    rowGroupRows: number = ROW_GROUP_ROWS,
  ): Promise<Uint8Array> {
    this.post(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0));
    const msg: ToParquetWorker = { kind: 'finish', keyValues: [...keyValues], compression, rowGroupRows };
    this.worker.postMessage(msg);
    try {
      const bytes = await this.result;
      this.release();
      return bytes;
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Stops the worker without a result. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.worker.terminate();
  }

  /** Keeps one idle worker for the next file (unreferenced: it never holds the process up). */
  private release(): void {
    this.done = true;
    // WebAssembly memory never shrinks: a thread that encoded a large file keeps its peak.
    if (idleWorkers.length >= IDLE_WORKERS_MAX || this.postedBytes > KEEP_WORKER_BYTES_MAX) {
      void this.worker.terminate();
      return;
    }
    this.worker.unref();
    idleWorkers.push(this.worker);
  }

  private post(bytes: Uint8Array): void {
    const owned = own(bytes);
    this.postedBytes += owned.byteLength;
    const msg: ToParquetWorker = { kind: 'chunk', bytes: owned };
    this.worker.postMessage(msg, [owned.buffer as ArrayBuffer]);
  }
}

/** Encoder threads kept between files (starting one costs ~100 ms: it compiles the wasm). */
const IDLE_WORKERS_MAX = 1;
/** A thread that encoded more than this (bytes of Arrow input) is not kept. */
const KEEP_WORKER_BYTES_MAX = 64 * 1024 * 1024;
const idleWorkers: Worker[] = [];
