import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  ENTRY_VERSION,
  encodeEntry,
  encodeRowVersions,
  HEADER_BYTES,
  HEADER_BYTES_V1,
  readEntryAt,
  rowVersionAt,
  type WalEntry,
  WalOp,
} from '../../src/wal/entry.ts';
import { Wal, WalCorruptionError, type WalOptions } from '../../src/wal/wal.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-wal-'));
  dirs.push(d);
  return d;
}

function options(dir: string, extra: Partial<WalOptions> = {}): WalOptions {
  return {
    dir,
    segmentBytes: 64 * 1024 * 1024,
    queueBytesMax: 64 * 1024 * 1024,
    asyncFsync: false,
    flushIntervalMs: 10,
    ...extra,
  };
}

const V = { hlc: 1n << 20n, node: 7 };

/** The fields of an entry to append (the WAL fills in the LSN). */
function put(dataset: string, rec: Uint8Array, timestampMs: number): Omit<WalEntry, 'lsn'> {
  return { op: WalOp.put, dataset, timestampMs, version: V, record: rec };
}

function record(i: number, size = 50): Uint8Array {
  return Uint8Array.from({ length: size }, (_, j) => (i * 31 + j) & 0xff);
}

async function replay(
  dir: string,
  extra: Partial<WalOptions> = {},
): Promise<{ entries: WalEntry[]; wal: Wal; torn: number[] }> {
  const entries: WalEntry[] = [];
  const torn: number[] = [];
  const wal = await Wal.open(
    options(dir, { ...extra, observer: { onTornTail: (_f, offset) => torn.push(offset) } }),
    (e) => entries.push({ ...e, record: e.record.slice() }),
  );
  return { entries, wal, torn };
}

async function writeEntries(dir: string, n: number): Promise<number[]> {
  const { wal } = await replay(dir);
  const ends: number[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    await wal.append(put(`ds${i}`, record(i), 1_700_000_000_000 + i));
    offset += HEADER_BYTES + `ds${i}`.length + 50;
    ends.push(offset);
  }
  await wal.close();
  return ends;
}

describe('WAL entry framing', () => {
  it('round-trips every field', () => {
    const entry: WalEntry = {
      lsn: 42n,
      op: WalOp.delete,
      dataset: 'vectors.ü',
      timestampMs: 1_700_000_000_123,
      version: { hlc: 0xfedcba9876543210n, node: 0xdeadbeef },
      record: record(1, 300),
    };
    const { buffers, byteLength } = encodeEntry(entry);
    const bytes = Buffer.concat(buffers);
    assert.equal(bytes.length, byteLength);
    const r = readEntryAt(bytes, 0);
    assert.equal(r.kind, 'entry');
    if (r.kind !== 'entry') return;
    assert.equal(r.entry.lsn, 42n);
    assert.equal(r.entry.op, WalOp.delete);
    assert.equal(r.entry.dataset, 'vectors.ü');
    assert.equal(r.entry.timestampMs, 1_700_000_000_123);
    assert.deepEqual(r.entry.version, entry.version);
    assert.equal(r.entry.rowVersions, undefined);
    assert.deepEqual([...r.entry.record], [...entry.record]);
    assert.equal(r.nextOffset, byteLength);
    assert.equal(readEntryAt(bytes, byteLength).kind, 'end');
  });

  it('round-trips per-row versions', () => {
    const versions = [
      { hlc: 5n, node: 1 },
      { hlc: 9n, node: 2 },
      { hlc: 2n ** 63n, node: 0xffffffff },
    ];
    const entry: WalEntry = {
      ...put('d', record(2, 30), 3),
      lsn: 9n,
      rowVersions: encodeRowVersions(versions),
    };
    const r = readEntryAt(Buffer.concat(encodeEntry(entry).buffers), 0);
    assert.equal(r.kind, 'entry');
    if (r.kind !== 'entry') return;
    assert.deepEqual(
      [0, 1, 2].map((i) => rowVersionAt(r.entry, i)),
      versions,
    );
    assert.deepEqual([...r.entry.record], [...entry.record]);
  });

  it('still reads version-1 entries, versioned {hlc: lsn, node: 0}', () => {
    const bytes = encodeV1(12n, WalOp.put, 'old', 1_600_000_000_000, record(4, 20));
    const r = readEntryAt(bytes, 0);
    assert.equal(r.kind, 'entry');
    if (r.kind !== 'entry') return;
    assert.equal(r.entry.lsn, 12n);
    assert.equal(r.entry.dataset, 'old');
    assert.equal(r.entry.timestampMs, 1_600_000_000_000);
    assert.deepEqual(r.entry.version, { hlc: 12n, node: 0 });
    assert.deepEqual([...r.entry.record], [...record(4, 20)]);
    for (let cut = 1; cut < bytes.length; cut++)
      assert.equal(readEntryAt(bytes.subarray(0, cut), 0).kind, 'torn', `v1 cut at ${cut}`);
  });

  it('refuses an unknown format version, naming it', () => {
    const bytes = Buffer.concat(encodeEntry({ ...put('d', record(1), 0), lsn: 1n }).buffers);
    bytes[12] = ENTRY_VERSION + 1;
    const r = readEntryAt(bytes, 0);
    assert.equal(r.kind, 'corrupt');
    assert.match(
      r.kind === 'corrupt' ? r.reason : '',
      /unknown entry version 3 \(this build reads versions 1 and 2\)/,
    );
  });

  it('calls every strict prefix of an entry torn, never corrupt or an entry', () => {
    const bytes = Buffer.concat(
      encodeEntry({ ...put('d', record(3, 64), 0), lsn: 1n, rowVersions: encodeRowVersions([V, V]) }).buffers,
    );
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.equal(readEntryAt(bytes.subarray(0, cut), 0).kind, 'torn', `cut at ${cut}`);
    }
  });

  it('detects every single flipped bit of a complete entry', () => {
    const bytes = Buffer.concat(
      encodeEntry({ ...put('abc', record(9, 40), 5), lsn: 7n, rowVersions: encodeRowVersions([V]) }).buffers,
    );
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const damaged = Buffer.from(bytes);
        damaged[i]! ^= bit;
        const r = readEntryAt(damaged, 0);
        // A damaged length may make the entry look longer than the file (torn) only if the
        // header checksum is also damaged — which cannot happen with one flip.
        assert.equal(r.kind, 'corrupt', `flip 0x${bit.toString(16)} at byte ${i} read as ${r.kind}`);
      }
    }
  });
});

/** An entry in format version 1 (before row versions), byte for byte as it was written. */
function encodeV1(lsn: bigint, op: number, dataset: string, timestampMs: number, rec: Uint8Array): Buffer {
  const name = Buffer.from(dataset);
  const head = Buffer.alloc(HEADER_BYTES_V1 + name.length);
  head.writeUInt32LE(name.length, 4);
  head.writeUInt32LE(rec.length, 8);
  head.writeUInt8(1, 12);
  head.writeUInt8(op, 13);
  head.writeBigUInt64LE(lsn, 16);
  head.writeBigInt64LE(BigInt(timestampMs), 24);
  head.writeUInt32LE(zlib.crc32(head.subarray(4, 32)), 32);
  name.copy(head, HEADER_BYTES_V1);
  head.writeUInt32LE(zlib.crc32(rec, zlib.crc32(head.subarray(4))), 0);
  return Buffer.concat([head, rec]);
}

describe('WAL', () => {
  it('group-commits concurrent appends: LSNs and onDurable in order, fewer fsyncs than entries', async () => {
    const dir = await tempDir();
    const flushes: number[] = [];
    const wal = await Wal.open(options(dir, { observer: { onFlush: (n) => flushes.push(n) } }), () => {});
    const durable: bigint[] = [];
    const lsns = await Promise.all(
      Array.from({ length: 200 }, (_, i) => wal.append(put('ds', record(i), i), (e) => durable.push(e.lsn))),
    );
    assert.deepEqual(
      lsns,
      Array.from({ length: 200 }, (_, i) => BigInt(i + 1)),
    );
    assert.deepEqual(durable, lsns);
    assert.equal(
      flushes.reduce((a, b) => a + b, 0),
      200,
    );
    assert.ok(flushes.length < 200, `expected group commit, got ${flushes.length} fsyncs for 200 entries`);
    await wal.close();
    const { entries } = await replay(dir);
    assert.equal(entries.length, 200);
    assert.deepEqual([...entries[123]!.record], [...record(123)]);
    assert.equal(entries[199]!.lsn, 200n);
  });

  it('truncates a torn tail at every cut point and keeps every complete entry', async () => {
    const source = await tempDir();
    const ends = await writeEntries(source, 4);
    const [segment] = await fs.readdir(source);
    const full = await fs.readFile(path.join(source, segment!));
    assert.equal(full.length, ends.at(-1));
    for (let cut = 0; cut < full.length; cut += 7) {
      const dir = await tempDir();
      await fs.writeFile(path.join(dir, segment!), full.subarray(0, cut));
      const { entries, wal, torn } = await replay(dir);
      const complete = ends.filter((e) => e <= cut).length;
      assert.equal(entries.length, complete, `cut at ${cut}`);
      const boundary = complete === 0 ? 0 : ends[complete - 1]!;
      assert.deepEqual(torn, cut === boundary ? [] : [boundary], `cut at ${cut}`);
      assert.equal((await fs.stat(path.join(dir, segment!))).size, boundary);
      // The repaired log continues with the next LSN.
      assert.equal(await wal.append(put('again', record(99), 0)), BigInt(complete + 1));
      await wal.close();
      const again = await replay(dir);
      assert.equal(again.entries.length, complete + 1);
      await again.wal.close();
      await fs.rm(dir, { recursive: true });
    }
  });

  it('refuses to open with a damaged entry before the tail, naming file and offset', async () => {
    const dir = await tempDir();
    const ends = await writeEntries(dir, 3);
    const [segment] = await fs.readdir(dir);
    const file = path.join(dir, segment!);
    const bytes = await fs.readFile(file);
    bytes[ends[0]! + HEADER_BYTES + 10]! ^= 0xff; // inside entry 2's record
    await fs.writeFile(file, bytes);
    await assert.rejects(replay(dir), (err: unknown) => {
      assert.ok(err instanceof WalCorruptionError);
      assert.equal(err.file, file);
      assert.equal(err.offset, ends[0]);
      assert.match(err.message, /CRC mismatch/);
      return true;
    });
  });

  it('rotates segments, replays across them, and deletes the ones a snapshot covers', async () => {
    const dir = await tempDir();
    const { wal } = await replay(dir, { segmentBytes: 1024 });
    for (let i = 0; i < 60; i++) await wal.append(put('ds', record(i, 200), i));
    await wal.close();
    const segments = (await fs.readdir(dir)).sort();
    assert.ok(segments.length > 5, `expected several segments, got ${segments.length}`);
    const reopened = await replay(dir, { segmentBytes: 1024 });
    assert.deepEqual(
      reopened.entries.map((e) => e.lsn),
      Array.from({ length: 60 }, (_, i) => BigInt(i + 1)),
    );
    const removed = await reopened.wal.truncateBefore(40n);
    assert.ok(removed > 0);
    await reopened.wal.close();
    const after = await replay(dir, { segmentBytes: 1024 });
    assert.ok(after.entries[0]!.lsn <= 40n, 'entries from LSN 40 on must remain');
    assert.equal(after.entries.at(-1)!.lsn, 60n);
    await after.wal.close();
  });

  it('in async mode acknowledges after the write and still persists on close', async () => {
    const dir = await tempDir();
    const fsyncs: boolean[] = [];
    const wal = await Wal.open(
      options(dir, { asyncFsync: true, flushIntervalMs: 5, observer: { onFsync: (ok) => fsyncs.push(ok) } }),
      () => {},
    );
    for (let i = 0; i < 20; i++) await wal.append(put('ds', record(i), i));
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(fsyncs.length >= 1 && fsyncs.every(Boolean), 'the timer fsyncs');
    await wal.close();
    const { entries } = await replay(dir);
    assert.equal(entries.length, 20);
  });
});
