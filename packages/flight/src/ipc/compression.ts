/**
 * Arrow IPC body compression codecs (Arrow columnar format, "Compression": each buffer of
 * a compressed body is an int64 little-endian *uncompressed* length followed by the
 * compressed bytes, or length -1 followed by the raw bytes when compressing did not help).
 *
 * LZ4 uses the LZ4 *frame* format (`lz4-napi`, backed by lz4_flex), as the spec requires;
 * ZSTD uses Node's built-in zlib bindings. Both are also registered with `apache-arrow`'s
 * compression registry so its readers decode compressed streams (e.g. WAL replay).
 */
import zlib from 'node:zlib';
import { CompressionType } from 'apache-arrow/fb/compression-type';
import { compressionRegistry } from 'apache-arrow/ipc/compression/registry';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';

/** Compression a Flight stream's bodies may use. `none` writes plain bodies. */
export type CompressionName = 'none' | 'lz4' | 'zstd';

/** Byte-level codec for one IPC compression type. */
export interface BodyCodec {
  readonly type: CompressionType;
  compress(data: Uint8Array): Uint8Array;
  decompress(data: Uint8Array): Uint8Array;
}

const asBuffer = (data: Uint8Array): Buffer =>
  Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

const lz4: BodyCodec = {
  type: CompressionType.LZ4_FRAME,
  compress: (data) => compressFrameSync(asBuffer(data)),
  decompress: (data) => decompressFrameSync(asBuffer(data)),
};

const zstd: BodyCodec = {
  type: CompressionType.ZSTD,
  compress: (data) => zlib.zstdCompressSync(data),
  decompress: (data) => zlib.zstdDecompressSync(data),
};

/** Codec by the IPC `CompressionType` found in a RecordBatch header, or undefined. */
export function codecForType(type: CompressionType): BodyCodec | undefined {
  if (type === CompressionType.LZ4_FRAME) return lz4;
  if (type === CompressionType.ZSTD) return zstd;
  return undefined;
}

/** Codec for a configured compression name; undefined for `none`. */
export function codecForName(name: CompressionName): BodyCodec | undefined {
  if (name === 'lz4') return lz4;
  if (name === 'zstd') return zstd;
  return undefined;
}

/** Parses a user-facing compression setting (`lz4`, `zstd`, `none`); throws naming the value. */
export function parseCompressionName(value: string): CompressionName {
  const v = value.trim().toLowerCase();
  if (v === 'lz4' || v === 'lz4_frame') return 'lz4';
  if (v === 'zstd') return 'zstd';
  if (v === 'none' || v === '' || v === 'off') return 'none';
  throw new RangeError(`unknown compression "${value}" (expected lz4, zstd or none)`);
}

compressionRegistry.set(CompressionType.LZ4_FRAME, { encode: lz4.compress, decode: lz4.decompress });
compressionRegistry.set(CompressionType.ZSTD, { encode: zstd.compress, decode: zstd.decompress });
