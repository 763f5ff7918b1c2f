/**
 * WAL entry framing (pure: bytes in, bytes out, no I/O).
 *
 * DESIGN.md frames an entry `[CRC32][NameLen][RecLen][Name][Record]`; the header after the
 * checksum and the two lengths carries a format version, the operation, the LSN, the
 * append time and, from version 2 on, the entry's row version (a hybrid logical clock
 * reading and the coordinating node's tag, see `@longbow/cluster` versions). All integers
 * little-endian. Version 2, written now:
 *
 * ```
 * offset size field
 *      0    4 crc32         CRC-32 (IEEE 802.3, zlib.crc32) over bytes [4, end of entry)
 *      4    4 nameLen       bytes of the dataset name (UTF-8), ≤ MAX_NAME_BYTES
 *      8    4 recLen        bytes of the record, ≤ MAX_RECORD_BYTES
 *     12    1 version       2
 *     13    1 op            1 put, 2 delete, 3 drop_dataset (append-only table)
 *     14    2 reserved      0
 *     16    8 lsn           log sequence number, uint64, strictly increasing by 1
 *     24    8 timestampMs   append time, ms since the Unix epoch (fills `created_at`)
 *     32    8 hlc           the entry's version: encoded HLC reading, uint64
 *     40    4 node          the entry's version: coordinating node's tag, uint32
 *     44    4 versionsLen   bytes of per-row versions after the name: 0 (every row and
 *                           tombstone carries the entry's version) or 12 × rows
 *     48    4 headerCrc     CRC-32 over bytes [4, 48): lets replay tell a torn tail (header
 *                           intact, body cut short) from a damaged length field
 *     52    … name, then per-row versions (rows × [hlc uint64, node uint32]), then record
 * ```
 *
 * Version 1 (written before row versions existed) is the same up to `timestampMs`, then
 * `headerCrc` at 32 and the name at 36. It still replays: its entries get the version
 * `{hlc: lsn, node: 0}`, below every version-2 reading and ordered like the log, so
 * last-writer-wins over old entries is exactly "the later entry wins", as before.
 *
 * Records: `put` — an Arrow IPC stream (schema + one record batch); `delete` — an Arrow
 * IPC stream of one batch with a single `id` column; `drop_dataset` — empty.
 */
import zlib from 'node:zlib';
import type { Version } from '@longbow/cluster';

/** Bytes of the fixed header of the current format. */
export const HEADER_BYTES = 52;
/** Bytes of the fixed header of format version 1. */
export const HEADER_BYTES_V1 = 36;
/** Current entry format version. */
export const ENTRY_VERSION = 2;
/** Bytes of one per-row version: hlc (uint64) and node tag (uint32). */
export const ROW_VERSION_BYTES = 12;
/** Longest dataset name in bytes. */
export const MAX_NAME_BYTES = 1024;
/** Largest record in bytes (1 GiB); the message size limit keeps real ones far smaller. */
export const MAX_RECORD_BYTES = 1024 ** 3;

/** Logged operations. Numbers are on disk: append only. */
export const WalOp = { put: 1, delete: 2, dropDataset: 3 } as const;
export type WalOp = (typeof WalOp)[keyof typeof WalOp];
const KNOWN_OPS = new Set<number>(Object.values(WalOp));

/** One decoded entry. `record` and `rowVersions` are views of the bytes they were read from. */
export interface WalEntry {
  lsn: bigint;
  op: WalOp;
  dataset: string;
  timestampMs: number;
  /** The version of every row or tombstone of the entry, unless `rowVersions` is set. */
  version: Version;
  /**
   * Per-row versions, {@link ROW_VERSION_BYTES} each, in the record's row order (read them
   * with {@link rowVersionAt}); undefined when every row carries `version`.
   */
  rowVersions?: Uint8Array;
  record: Uint8Array;
}

/** The version of row `row` of an entry. */
export function rowVersionAt(entry: WalEntry, row: number): Version {
  const rv = entry.rowVersions;
  if (!rv) return entry.version;
  const view = new DataView(rv.buffer, rv.byteOffset + row * ROW_VERSION_BYTES, ROW_VERSION_BYTES);
  return { hlc: view.getBigUint64(0, true), node: view.getUint32(8, true) };
}

/** Per-row versions as the bytes an entry's `rowVersions` holds. */
export function encodeRowVersions(versions: readonly Version[]): Uint8Array {
  const out = new Uint8Array(versions.length * ROW_VERSION_BYTES);
  const view = new DataView(out.buffer);
  versions.forEach((v, i) => {
    view.setBigUint64(i * ROW_VERSION_BYTES, v.hlc, true);
    view.setUint32(i * ROW_VERSION_BYTES + 8, v.node, true);
  });
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Frames an entry (current format) as buffers for a vectored write — header+name, the
 * per-row versions when present, the record — so the record is never copied. Returns them
 * and the total size in bytes. Throws RangeError for a name, record or version block out
 * of bounds.
 */
export function encodeEntry(entry: WalEntry): { buffers: Uint8Array[]; byteLength: number } {
  const name = encoder.encode(entry.dataset);
  if (name.length > MAX_NAME_BYTES) throw new RangeError(`dataset name longer than ${MAX_NAME_BYTES} bytes`);
  if (entry.record.length > MAX_RECORD_BYTES)
    throw new RangeError(`WAL record larger than ${MAX_RECORD_BYTES} bytes`);
  const versions = entry.rowVersions ?? new Uint8Array(0);
  if (versions.length % ROW_VERSION_BYTES !== 0 || versions.length > MAX_RECORD_BYTES)
    throw new RangeError(`per-row versions of ${versions.length} bytes are not ${ROW_VERSION_BYTES} per row`);
  const head = Buffer.allocUnsafe(HEADER_BYTES + name.length);
  head.writeUInt32LE(name.length, 4);
  head.writeUInt32LE(entry.record.length, 8);
  head.writeUInt8(ENTRY_VERSION, 12);
  head.writeUInt8(entry.op, 13);
  head.writeUInt16LE(0, 14);
  head.writeBigUInt64LE(entry.lsn, 16);
  head.writeBigInt64LE(BigInt(entry.timestampMs), 24);
  head.writeBigUInt64LE(entry.version.hlc, 32);
  head.writeUInt32LE(entry.version.node, 40);
  head.writeUInt32LE(versions.length, 44);
  head.writeUInt32LE(zlib.crc32(head.subarray(4, 48)), 48);
  head.set(name, HEADER_BYTES);
  let crc = zlib.crc32(head.subarray(4));
  crc = zlib.crc32(versions, crc);
  crc = zlib.crc32(entry.record, crc);
  head.writeUInt32LE(crc, 0);
  const buffers = versions.length > 0 ? [head, versions, entry.record] : [head, entry.record];
  return { buffers, byteLength: head.length + versions.length + entry.record.length };
}

/** Result of reading at an offset: an entry, the clean end, a torn tail, or corruption. */
export type ReadResult =
  | { kind: 'entry'; entry: WalEntry; nextOffset: number }
  | { kind: 'end' }
  | { kind: 'torn'; reason: string }
  | { kind: 'corrupt'; reason: string };

/**
 * Reads the entry starting at `offset` of `buf` (a whole segment file).
 * - `end`: offset is exactly the end of the data.
 * - `torn`: the entry is incomplete (header or body runs past the end) — the tail of a
 *   write that never finished; the caller truncates it.
 * - `corrupt`: the entry is complete but its checksum or fields are wrong.
 */
export function readEntryAt(buf: Uint8Array, offset: number): ReadResult {
  const remaining = buf.length - offset;
  if (remaining === 0) return { kind: 'end' };
  if (remaining < 13) return { kind: 'torn', reason: `${remaining} bytes left, a header is longer` };
  const view = Buffer.from(buf.buffer, buf.byteOffset + offset, remaining);
  const version = view.readUInt8(12);
  if (version !== 1 && version !== ENTRY_VERSION) {
    // A torn write cuts bytes off; it never writes a wrong one, so this is damage.
    return {
      kind: 'corrupt',
      reason: `unknown entry version ${version} (this build reads versions 1 and ${ENTRY_VERSION})`,
    };
  }
  const headerBytes = version === 1 ? HEADER_BYTES_V1 : HEADER_BYTES;
  if (remaining < headerBytes)
    return { kind: 'torn', reason: `${remaining} bytes left, header needs ${headerBytes}` };
  const crcAt = headerBytes - 4;
  const headerCrc = zlib.crc32(view.subarray(4, crcAt));
  if (headerCrc !== view.readUInt32LE(crcAt)) {
    // A complete header never comes out of a torn write (appends are cut, not scrambled).
    return {
      kind: 'corrupt',
      reason: `header CRC mismatch (stored ${hex(view.readUInt32LE(crcAt))}, computed ${hex(headerCrc)})`,
    };
  }
  const nameLen = view.readUInt32LE(4);
  const recLen = view.readUInt32LE(8);
  const versionsLen = version === 1 ? 0 : view.readUInt32LE(44);
  if (
    nameLen > MAX_NAME_BYTES ||
    recLen > MAX_RECORD_BYTES ||
    versionsLen > MAX_RECORD_BYTES ||
    versionsLen % ROW_VERSION_BYTES !== 0
  ) {
    return {
      kind: 'corrupt',
      reason: `implausible lengths name=${nameLen} record=${recLen} versions=${versionsLen}`,
    };
  }
  const total = headerBytes + nameLen + versionsLen + recLen;
  if (total > remaining) return { kind: 'torn', reason: `entry of ${total} bytes, ${remaining} bytes left` };
  const stored = view.readUInt32LE(0);
  const actual = zlib.crc32(view.subarray(4, total));
  if (stored !== actual) {
    return { kind: 'corrupt', reason: `CRC mismatch (stored ${hex(stored)}, computed ${hex(actual)})` };
  }
  const op = view.readUInt8(13);
  if (!KNOWN_OPS.has(op)) return { kind: 'corrupt', reason: `unknown op ${op}` };
  let dataset: string;
  try {
    dataset = decoder.decode(view.subarray(headerBytes, headerBytes + nameLen));
  } catch {
    return { kind: 'corrupt', reason: 'dataset name is not UTF-8' };
  }
  const lsn = view.readBigUInt64LE(16);
  const versionsAt = headerBytes + nameLen;
  const entry: WalEntry = {
    lsn,
    op: op as WalOp,
    dataset,
    timestampMs: Number(view.readBigInt64LE(24)),
    version:
      version === 1 ? { hlc: lsn, node: 0 } : { hlc: view.readBigUInt64LE(32), node: view.readUInt32LE(40) },
    record: view.subarray(versionsAt + versionsLen, total),
  };
  if (versionsLen > 0) entry.rowVersions = view.subarray(versionsAt, versionsAt + versionsLen);
  return { kind: 'entry', entry, nextOffset: offset + total };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
