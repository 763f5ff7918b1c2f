/**
 * The file that holds a dataset's saved index beside its snapshot: every shard's hnswlib
 * graph in one container, with what is needed to tell whether it matches the snapshot.
 *
 * ```
 * offset  size  field
 *      0     8  magic "LBHNSW01"
 *      8     4  header length H (uint32 LE)
 *     12     H  header: UTF-8 JSON {version, lsn, metric, dim, m, efConstruction, shardRows,
 *                shards: [{labelsEnd, bytes, crc32}]}
 *   12+H     …  the shards' graph files, back to back, in shard order
 * ```
 * `lsn` is the snapshot LSN the index belongs to; `labelsEnd` the end of the labels each
 * graph covers (rows at or past it were still queued and are re-added on load).
 */
import zlib from 'node:zlib';
import type { MetricName } from '../config.ts';

const MAGIC = Buffer.from('LBHNSW01', 'latin1');
export const SAVED_INDEX_VERSION = 1;

/** Header of a saved index. */
export interface SavedIndexHeader {
  version: number;
  /** The snapshot LSN this index belongs to (decimal string: it may exceed 2^53). */
  lsn: string;
  metric: MetricName;
  dim: number;
  m: number;
  efConstruction: number;
  shardRows: number;
  shards: { labelsEnd: number; bytes: number; crc32: number }[];
}

/** A saved index that cannot be used: damaged, or not the one the snapshot needs. */
export class SavedIndexError extends Error {
  override readonly name = 'SavedIndexError';
}

/** Packs shard graph files into one container. */
export function encodeSavedIndex(
  header: Omit<SavedIndexHeader, 'version' | 'shards'>,
  shards: { labelsEnd: number; graph: Uint8Array }[],
): Buffer {
  const full: SavedIndexHeader = {
    version: SAVED_INDEX_VERSION,
    ...header,
    shards: shards.map((s) => ({
      labelsEnd: s.labelsEnd,
      bytes: s.graph.byteLength,
      crc32: zlib.crc32(s.graph),
    })),
  };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length, 0);
  return Buffer.concat([MAGIC, length, json, ...shards.map((s) => s.graph)]);
}

/** Unpacks a container; throws SavedIndexError when it is damaged. */
export function decodeSavedIndex(blob: Uint8Array): { header: SavedIndexHeader; graphs: Uint8Array[] } {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC))
    throw new SavedIndexError('not a Longbow saved index (bad magic)');
  const headerLength = buf.readUInt32LE(8);
  if (12 + headerLength > buf.length)
    throw new SavedIndexError('saved index header runs past the end of the file');
  let header: SavedIndexHeader;
  try {
    header = JSON.parse(buf.subarray(12, 12 + headerLength).toString('utf8')) as SavedIndexHeader;
  } catch {
    throw new SavedIndexError('saved index header is not JSON');
  }
  if (header.version !== SAVED_INDEX_VERSION)
    throw new SavedIndexError(`saved index version ${header.version} is not supported`);
  const graphs: Uint8Array[] = [];
  let offset = 12 + headerLength;
  for (const [i, s] of header.shards.entries()) {
    if (offset + s.bytes > buf.length) throw new SavedIndexError(`shard ${i} runs past the end of the file`);
    const graph = buf.subarray(offset, offset + s.bytes);
    if (zlib.crc32(graph) !== s.crc32) throw new SavedIndexError(`shard ${i} fails its checksum`);
    graphs.push(graph);
    offset += s.bytes;
  }
  if (offset !== buf.length) throw new SavedIndexError('trailing bytes after the last shard');
  return { header, graphs };
}
