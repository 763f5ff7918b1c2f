/**
 * The file that holds a dataset's saved index beside its snapshot: every shard's hnswlib
 * graph in one container, with what is needed to tell whether it matches the snapshot.
 *
 * ```
 * offset  size  field
 *      0     8  magic "LBHNSW01"
 *      8     4  header length H (uint32 LE)
 *     12     H  header: UTF-8 JSON {version, lsn, metric, dim, m, efConstruction, shardRows,
 *                shards: [{labelsEnd, bytes, crc32}], dead: {count, crc32}}
 *   12+H     …  the shards' graph files, back to back, in shard order
 *      …   4·D  the dead labels: D uint32 LE, strictly increasing (version 2)
 * ```
 * `lsn` is the snapshot LSN the index belongs to; `labelsEnd` the end of the labels each
 * graph covers (rows at or past it were still queued and are re-added on load); the dead
 * labels are labels of rows the snapshot does not hold (label-map.ts). Version 1 files (no
 * dead labels) are still read.
 */
import zlib from 'node:zlib';
import type { MetricName } from '../config.ts';

const MAGIC = Buffer.from('LBHNSW01', 'latin1');
export const SAVED_INDEX_VERSION = 2;

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
  /** The dead-label section (absent in version 1). */
  dead?: { count: number; crc32: number };
}

/** A saved index that cannot be used: damaged, or not the one the snapshot needs. */
export class SavedIndexError extends Error {
  override readonly name = 'SavedIndexError';
}

/** Packs shard graph files and the dead labels (strictly increasing) into one container. */
export function encodeSavedIndex(
  header: Omit<SavedIndexHeader, 'version' | 'shards' | 'dead'>,
  shards: { labelsEnd: number; graph: Uint8Array }[],
  dead: Uint32Array = new Uint32Array(0),
): Buffer {
  const deadBytes = Buffer.alloc(dead.length * 4);
  for (let i = 0; i < dead.length; i++) deadBytes.writeUInt32LE(dead[i]!, i * 4);
  const full: SavedIndexHeader = {
    version: SAVED_INDEX_VERSION,
    ...header,
    shards: shards.map((s) => ({
      labelsEnd: s.labelsEnd,
      bytes: s.graph.byteLength,
      crc32: zlib.crc32(s.graph),
    })),
    dead: { count: dead.length, crc32: zlib.crc32(deadBytes) },
  };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length, 0);
  return Buffer.concat([MAGIC, length, json, ...shards.map((s) => s.graph), deadBytes]);
}

/** Unpacks a container; throws SavedIndexError when it is damaged. */
export function decodeSavedIndex(blob: Uint8Array): {
  header: SavedIndexHeader;
  graphs: Uint8Array[];
  dead: Uint32Array;
} {
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
  if (header.version !== 1 && header.version !== SAVED_INDEX_VERSION)
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
  const dead = new Uint32Array(header.dead?.count ?? 0);
  if (header.dead) {
    const bytes = buf.subarray(offset, offset + dead.length * 4);
    if (bytes.length !== dead.length * 4)
      throw new SavedIndexError('dead labels run past the end of the file');
    if (zlib.crc32(bytes) !== header.dead.crc32) throw new SavedIndexError('dead labels fail their checksum');
    for (let i = 0; i < dead.length; i++) {
      dead[i] = bytes.readUInt32LE(i * 4);
      if (i > 0 && dead[i]! <= dead[i - 1]!) throw new SavedIndexError('dead labels are not increasing');
    }
    offset += bytes.length;
  }
  if (offset !== buf.length) throw new SavedIndexError('trailing bytes after the last section');
  return { header, graphs, dead };
}
