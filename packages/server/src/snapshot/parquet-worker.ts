/**
 * The Parquet encoder thread. parquet-wasm's writer is synchronous CPU work (seconds for a
 * million rows), so it runs here rather than on the event loop.
 *
 * Protocol (one worker per snapshot file): the parent posts `{kind:'chunk', bytes}` for each
 * piece of an Arrow IPC stream (transferred, in order), then `{kind:'finish', keyValues,
 * compression, rowGroupRows}`; the worker answers `{kind:'done', bytes}` (the Parquet file,
 * transferred) or `{kind:'error', message}`.
 */
import { parentPort } from 'node:worker_threads';
import { encodeParquet, type ParquetCompression } from './parquet.ts';

export type ToParquetWorker =
  | { kind: 'chunk'; bytes: Uint8Array }
  | {
      kind: 'finish';
      keyValues: [string, string][];
      compression: ParquetCompression;
      rowGroupRows: number;
    };
export type FromParquetWorker = { kind: 'done'; bytes: Uint8Array } | { kind: 'error'; message: string };

const chunks: Uint8Array[] = [];
parentPort!.on('message', (msg: ToParquetWorker) => {
  if (msg.kind === 'chunk') {
    chunks.push(msg.bytes);
    return;
  }
  try {
    const stream = Buffer.concat(chunks);
    chunks.length = 0;
    const bytes = encodeParquet(stream, new Map(msg.keyValues), msg.compression, msg.rowGroupRows);
    const reply: FromParquetWorker = { kind: 'done', bytes };
    parentPort!.postMessage(reply, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    const reply: FromParquetWorker = { kind: 'error', message: (err as Error).message };
    parentPort!.postMessage(reply);
  }
});
