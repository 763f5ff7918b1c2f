/**
 * The Parquet encoder thread. parquet-wasm's writer is synchronous CPU work (seconds for a
 * million rows), so it runs here rather than on the event loop.
 *
 * Protocol (one file at a time; the worker is reused for the next): the parent posts `{kind:'chunk', bytes}` for each
 * piece of an Arrow IPC stream (transferred, in order), then `{kind:'finish', keyValues,
 * compression, rowGroupRows}`; the worker answers `{kind:'done', bytes}` (the Parquet file,
 * transferred) or `{kind:'error', message}`.
 */
import { parentPort } from 'node:worker_threads';
import * as pq from 'parquet-wasm';

/** Snapshot compression (`LONGBOW_SNAPSHOT_COMPRESSION`). */
export type ParquetCompression = 'zstd' | 'snappy' | 'none';

const CODECS: Record<ParquetCompression, pq.Compression> = {
  zstd: pq.Compression.ZSTD,
  snappy: pq.Compression.SNAPPY,
  none: pq.Compression.UNCOMPRESSED,
};

/**
 * Encodes an Arrow IPC stream as a Parquet file with `keyValues` as its key-value metadata.
 * (Here rather than in parquet.ts so this thread loads parquet-wasm only: it starts in
 * tens of milliseconds, not hundreds.)
 */
export function encodeParquet(
  ipcStream: Uint8Array,
  keyValues: Map<string, string>,
  compression: ParquetCompression,
  rowGroupRows: number,
): Uint8Array {
  const table = pq.Table.fromIPCStream(ipcStream);
  const props = new pq.WriterPropertiesBuilder()
    .setCompression(CODECS[compression])
    .setMaxRowGroupSize(rowGroupRows)
    .setKeyValueMetadata(keyValues)
    .setCreatedBy('longbow')
    .build();
  return pq.writeParquet(table, props);
}

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
parentPort?.on('message', (msg: ToParquetWorker) => {
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
