/**
 * WAL entry framing (pure: bytes in, bytes out, no I/O).
 *
 * DESIGN.md frames an entry `[CRC32][NameLen][RecLen][Name][Record]`; version 1 extends
 * the header after the three lengths-and-checksum words with a version, the operation, the
 * LSN and the append time. All integers little-endian:
 *
 * ```
 * offset size field
 *      0    4 crc32        CRC-32 (IEEE 802.3, zlib.crc32) over bytes [4, end of entry)
 *      4    4 nameLen      bytes of the dataset name (UTF-8), ≤ MAX_NAME_BYTES
 *      8    4 recLen       bytes of the record, ≤ MAX_RECORD_BYTES
 *     12    1 version      1
 *     13    1 op           1 put, 2 delete, 3 drop_dataset (append-only table)
 *     14    2 reserved     0
 *     16    8 lsn          log sequence number, uint64, strictly increasing by 1
 *     24    8 timestampMs  append time, ms since the Unix epoch (fills `created_at` on replay)
 *     32    4 headerCrc    CRC-32 over bytes [4, 32): lets replay tell a torn tail (header
 *                          intact, body cut short) from a damaged length field
 *     36    … name, then record
 * ```
 *
 * Records: `put` — an Arrow IPC stream (schema + one record batch); `delete` — an Arrow
 * IPC stream of one batch with a single `id` column; `drop_dataset` — empty.
 */
import zlib from 'node:zlib';

/** Bytes of the fixed header. */
export const HEADER_BYTES = 36;
/** Current entry format version. */
export const ENTRY_VERSION = 1;
/** Longest dataset name in bytes. */
export const MAX_NAME_BYTES = 1024;
/** Largest record in bytes (1 GiB); the message size limit keeps real ones far smaller. */
export const MAX_RECORD_BYTES = 1024 ** 3;

/** Logged operations. Numbers are on disk: append only. */
export const WalOp = { put: 1, delete: 2, dropDataset: 3 } as const;
export type WalOp = (typeof WalOp)[keyof typeof WalOp];
const KNOWN_OPS = new Set<number>(Object.values(WalOp));

/** One decoded entry. `record` is a view of the bytes it was read from. */
export interface WalEntry {
  lsn: bigint;
  op: WalOp;
  dataset: string;
  timestampMs: number;
  record: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Frames an entry as two buffers (header+name, record) for a vectored write, so the record
 * is never copied. Returns them and the total size in bytes.
 */
export function encodeEntry(entry: WalEntry): { buffers: [Buffer, Uint8Array]; byteLength: number } {
  const name = encoder.encode(entry.dataset);
  if (name.length > MAX_NAME_BYTES) throw new RangeError(`dataset name longer than ${MAX_NAME_BYTES} bytes`);
  if (entry.record.length > MAX_RECORD_BYTES)
    throw new RangeError(`WAL record larger than ${MAX_RECORD_BYTES} bytes`);
  const head = Buffer.allocUnsafe(HEADER_BYTES + name.length);
  head.writeUInt32LE(name.length, 4);
  head.writeUInt32LE(entry.record.length, 8);
  head.writeUInt8(ENTRY_VERSION, 12);
  head.writeUInt8(entry.op, 13);
  head.writeUInt16LE(0, 14);
  head.writeBigUInt64LE(entry.lsn, 16);
  head.writeBigInt64LE(BigInt(entry.timestampMs), 24);
  head.writeUInt32LE(zlib.crc32(head.subarray(4, 32)), 32);
  head.set(name, HEADER_BYTES);
  let crc = zlib.crc32(head.subarray(4));
  crc = zlib.crc32(entry.record, crc);
  head.writeUInt32LE(crc, 0);
  return { buffers: [head, entry.record], byteLength: head.length + entry.record.length };
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
  if (remaining < HEADER_BYTES)
    return { kind: 'torn', reason: `${remaining} bytes left, header needs ${HEADER_BYTES}` };
  const view = Buffer.from(buf.buffer, buf.byteOffset + offset, remaining);
  const headerCrc = zlib.crc32(view.subarray(4, 32));
  if (headerCrc !== view.readUInt32LE(32)) {
    // A complete header never comes out of a torn write (appends are cut, not scrambled).
    return {
      kind: 'corrupt',
      reason: `header CRC mismatch (stored ${hex(view.readUInt32LE(32))}, computed ${hex(headerCrc)})`,
    };
  }
  const nameLen = view.readUInt32LE(4);
  const recLen = view.readUInt32LE(8);
  if (nameLen > MAX_NAME_BYTES || recLen > MAX_RECORD_BYTES) {
    return { kind: 'corrupt', reason: `implausible lengths name=${nameLen} record=${recLen}` };
  }
  const total = HEADER_BYTES + nameLen + recLen;
  if (total > remaining) return { kind: 'torn', reason: `entry of ${total} bytes, ${remaining} bytes left` };
  const stored = view.readUInt32LE(0);
  const actual = zlib.crc32(view.subarray(4, total));
  if (stored !== actual) {
    return { kind: 'corrupt', reason: `CRC mismatch (stored ${hex(stored)}, computed ${hex(actual)})` };
  }
  const version = view.readUInt8(12);
  const op = view.readUInt8(13);
  if (version !== ENTRY_VERSION) return { kind: 'corrupt', reason: `unknown entry version ${version}` };
  if (!KNOWN_OPS.has(op)) return { kind: 'corrupt', reason: `unknown op ${op}` };
  let dataset: string;
  try {
    dataset = decoder.decode(view.subarray(HEADER_BYTES, HEADER_BYTES + nameLen));
  } catch {
    return { kind: 'corrupt', reason: 'dataset name is not UTF-8' };
  }
  return {
    kind: 'entry',
    entry: {
      lsn: view.readBigUInt64LE(16),
      op: op as WalOp,
      dataset,
      timestampMs: Number(view.readBigInt64LE(24)),
      record: view.subarray(HEADER_BYTES + nameLen, total),
    },
    nextOffset: offset + total,
  };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
