/**
 * Malformed Arrow IPC for IpcDecoder (src/ipc/decoder.ts): the schema, dictionary and
 * record batch messages of a small stream, each with its data_header (flatbuffer) and
 * data_body cut at every offset and mutated with a seeded PRNG, in all three body
 * compressions. The decoder must return a result or throw IpcDecodeError; a batch it
 * returns must have every row of every column readable inside the column's buffers, and
 * uncompressed buffers must be views inside the body.
 *
 * The regression tests at the end are named after the bugs this fuzzing found.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hexPrefix, mutate, seededRandom } from '@longbow/testkit';
import {
  Bool,
  type Data,
  Dictionary,
  Field,
  FixedSizeList,
  Float32,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { FlightErrorCode, IpcDecodeError } from '../src/errors.ts';
import type { CompressionName } from '../src/ipc/compression.ts';
import { type Decoded, IpcDecoder } from '../src/ipc/decoder.ts';
import { IpcEncoder } from '../src/ipc/encoder.ts';
import { IPC_HEADER_TABLES_MAX } from '../src/ipc/header-verifier.ts';

const SEED = 0x1bc_f00d;
const MUTATIONS_PER_PART = 1500;
const DIM = 4;
const ROWS = 12;
const CATEGORY = new Dictionary(new Utf8(), new Int32());
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const TAGS = new List(new Field('item', new Utf8(), true));

/** id, vector, a dictionary column, text, a bool and a list: every validator branch in use. */
function sampleBatch(): RecordBatch {
  const category = vectorFromArray(
    Array.from({ length: ROWS }, (_, i) => (i % 4 === 0 ? null : ['red', 'green', 'blue'][i % 3]!)),
    CATEGORY,
  );
  const text = vectorFromArray(
    Array.from({ length: ROWS }, (_, i) => (i % 5 === 0 ? null : `doc ${i}`)),
    new Utf8(),
  );
  const flag = vectorFromArray(
    Array.from({ length: ROWS }, (_, i) => i % 2 === 0),
    new Bool(),
  );
  const tags = vectorFromArray(
    Array.from({ length: ROWS }, (_, i) => Array.from({ length: i % 3 }, (_, j) => `t${j}`)),
    TAGS,
  );
  const schema = new Schema([
    new Field('id', new Int64(), false),
    new Field('vector', VECTOR, false),
    new Field('category', CATEGORY, true),
    new Field('text', new Utf8(), true),
    new Field('flag', new Bool(), false),
    new Field('tags', TAGS, false),
  ]);
  const children = [
    makeData({
      type: new Int64(),
      length: ROWS,
      data: BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i)),
    }),
    makeData({
      type: VECTOR,
      length: ROWS,
      nullCount: 0,
      child: makeData({
        type: new Float32(),
        length: ROWS * DIM,
        data: Float32Array.from({ length: ROWS * DIM }, (_, i) => i / 2),
      }),
    }),
    category.data[0]!,
    text.data[0]!,
    flag.data[0]!,
    tags.data[0]!,
  ];
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: ROWS, nullCount: 0, children }),
  );
}

interface WireMessage {
  header: Uint8Array;
  body: Uint8Array;
}

function flatten(body: Uint8Array | readonly Uint8Array[] | undefined): Uint8Array {
  if (!body) return new Uint8Array(0);
  return body instanceof Uint8Array ? body : Uint8Array.from(Buffer.concat(body));
}

/** The stream as (header, body) pairs: schema, dictionary, record batch. */
function sampleStream(compression: CompressionName): WireMessage[] {
  const batch = sampleBatch();
  const enc = new IpcEncoder(batch.schema, compression);
  return [enc.schemaMessage(), ...enc.batchMessages(batch)].map((m) => ({
    header: flatten(m.dataHeader),
    body: flatten(m.dataBody),
  }));
}

/** A copy of `bytes` at an 8-aligned offset of its own ArrayBuffer (as the WAL replay sees it). */
function alignedCopy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(bytes.length + 8), 8, bytes.length);
  out.set(bytes);
  return out;
}

function* dataTree(data: Data): Generator<Data> {
  yield data;
  for (const child of data.children) yield* dataTree(child);
}

/**
 * The oracle for a batch the decoder returned: every valid slot of every column reads as a
 * value (not undefined), and with an uncompressed aligned body every buffer lies inside it.
 */
function checkBatch(batch: RecordBatch, body: Uint8Array, label: string): void {
  for (const field of batch.schema.fields) {
    const column = batch.getChild(field.name)!;
    for (let row = 0; row < batch.numRows; row++) {
      if (!column.isValid(row)) continue;
      const value = column.get(row);
      assert.notEqual(value, undefined, `${label}: ${field.name}[${row}] reads past its buffers`);
      if (value && typeof value === 'object' && 'length' in value) {
        for (let k = 0; k < (value as { length: number }).length; k++) {
          // Lists of strings may hold nulls; a null is fine, an undefined is a read past the end.
          assert.notEqual(
            (value as { get(i: number): unknown }).get(k),
            undefined,
            `${label}: ${field.name}[${row}][${k}]`,
          );
        }
      }
    }
    for (const data of column.data.flatMap((d) => [...dataTree(d)])) {
      for (const buffer of [data.values, data.valueOffsets, data.nullBitmap] as (Uint8Array | undefined)[]) {
        if (!buffer || buffer.byteLength === 0 || buffer.buffer !== body.buffer) continue;
        assert.ok(
          buffer.byteOffset >= body.byteOffset &&
            buffer.byteOffset + buffer.byteLength <= body.byteOffset + body.byteLength,
          `${label}: a ${field.name} buffer lies outside the body`,
        );
      }
    }
  }
}

/**
 * Decodes `stream` with message `index` replaced by `replacement`; every message must
 * decode or throw IpcDecodeError. Returns how the replaced message ended.
 */
function decodeStream(
  stream: WireMessage[],
  index: number,
  replacement: WireMessage,
  label: string,
): 'decoded' | 'rejected' {
  const decoder = new IpcDecoder();
  let outcome: 'decoded' | 'rejected' = 'decoded';
  for (const [i, original] of stream.entries()) {
    const m = i === index ? replacement : original;
    let decoded: Decoded;
    try {
      decoded = decoder.decode({ dataHeader: m.header, dataBody: m.body });
    } catch (err) {
      assert.ok(
        err instanceof IpcDecodeError && err.code === FlightErrorCode.malformedIpc,
        `${label}: message ${i} threw ${(err as Error)?.stack ?? String(err)} (header ${hexPrefix(m.header)})`,
      );
      if (i === index) outcome = 'rejected';
      if (i <= index) return outcome; // the stream is broken from here on
      continue;
    }
    if (decoded.kind === 'batch') checkBatch(decoded.batch, m.body, `${label}: message ${i}`);
  }
  return outcome;
}

/** Offsets to cut a part at: all of them up to 512, then every 7th (bodies can be larger). */
function cutOffsets(length: number): number[] {
  const cuts: number[] = [];
  for (let cut = 0; cut < length; cut += cut < 512 ? 1 : 7) cuts.push(cut);
  return cuts;
}

const KINDS = ['schema', 'dictionary', 'batch'] as const;

describe('IpcDecoder under malformed input', () => {
  for (const compression of ['none', 'lz4', 'zstd'] as CompressionName[]) {
    const stream = sampleStream(compression).map((m) => ({
      header: alignedCopy(m.header),
      body: alignedCopy(m.body),
    }));

    it(`the sample stream decodes (${compression})`, () => {
      assert.deepEqual(
        stream.map((_, i) => decodeStream(stream, i, stream[i]!, 'unmodified')),
        ['decoded', 'decoded', 'decoded'],
      );
    });

    for (const [index, kind] of KINDS.entries()) {
      const message = stream[index]!;

      it(`${kind} data_header cut at every offset is rejected with IpcDecodeError (${compression})`, () => {
        for (const cut of cutOffsets(message.header.length)) {
          const header = alignedCopy(message.header.subarray(0, cut));
          // A cut header may still be a well-formed prefix only if nothing is missing: never here.
          const outcome = decodeStream(
            stream,
            index,
            { header, body: message.body },
            `${kind} header cut at ${cut}`,
          );
          assert.equal(outcome, cut === 0 ? 'decoded' : 'rejected', `${kind} header cut at ${cut}`);
        }
      });

      it(`${kind} data_body cut at every offset decodes or throws IpcDecodeError (${compression})`, () => {
        for (const cut of cutOffsets(message.body.length)) {
          const body = alignedCopy(message.body.subarray(0, cut));
          decodeStream(stream, index, { header: message.header, body }, `${kind} body cut at ${cut}`);
        }
      });

      it(`${kind} header and body under seeded mutations decode or throw IpcDecodeError (${compression})`, () => {
        const random = seededRandom(SEED + index);
        for (let i = 0; i < MUTATIONS_PER_PART; i++) {
          const inHeader = i % 2 === 0 || message.body.length === 0;
          const m = mutate(inHeader ? message.header : message.body, random);
          const replacement = inHeader
            ? { header: alignedCopy(m.bytes), body: message.body }
            : { header: message.header, body: alignedCopy(m.bytes) };
          const label = `${kind} seed ${SEED + index} case ${i}: ${inHeader ? 'header' : 'body'} ${m.description}`;
          decodeStream(stream, index, replacement, label);
        }
      });
    }
  }
});

// --- Regressions ------------------------------------------------------------------------

/** Offset of field `slot` of the table at `table` in a flatbuffer (0 when absent). */
function slotOffset(bytes: Uint8Array, table: number, slot: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vtable = table - view.getInt32(table, true);
  const at = view.getInt16(vtable + 4 + 2 * slot, true);
  return at === 0 ? 0 : table + at;
}

/** Offset of the table field `slot` of `table` points to. */
function deref(bytes: Uint8Array, table: number, slot: number): number {
  const at = slotOffset(bytes, table, slot);
  return at + new DataView(bytes.buffer, bytes.byteOffset).getInt32(at, true);
}

const MESSAGE_HEADER_SLOT = 2;

describe('IpcDecoder regressions', () => {
  it('regression: a schema whose fields vector length is corrupt is rejected, not decoded until the heap runs out', () => {
    const [schema] = sampleStream('none');
    const header = alignedCopy(schema!.header);
    const schemaTable = deref(
      header,
      new DataView(header.buffer, header.byteOffset).getInt32(0, true),
      MESSAGE_HEADER_SLOT,
    );
    const fieldsVector = deref(header, schemaTable, 1);
    new DataView(header.buffer, header.byteOffset).setInt32(fieldsVector, 0x7fff_ffff, true);
    assert.throws(
      () => new IpcDecoder().decode({ dataHeader: header }),
      (e: unknown) =>
        e instanceof IpcDecodeError && /Schema\.fields at \d+ \(\+\d+\) lies outside/.test(e.message),
    );
  });

  it('regression: fields that all point at one table cannot multiply the work past the table budget', () => {
    // A schema of 150,000 fields is in bounds (4 bytes each) if every entry points at the
    // same Field table; apache-arrow would build 150,000 Fields. The budget refuses it.
    const [schema] = sampleStream('none');
    const header = schema!.header;
    const count = IPC_HEADER_TABLES_MAX + 50_000;
    const grown = new Uint8Array(header.length + 4 * count + 8);
    grown.set(header);
    const view = new DataView(grown.buffer);
    const root = view.getInt32(0, true);
    const schemaTable = deref(grown, root, MESSAGE_HEADER_SLOT);
    const oldVector = deref(grown, schemaTable, 1);
    const firstField = oldVector + 4 + view.getInt32(oldVector + 4, true);
    const newVector = header.length + ((8 - (header.length % 8)) % 8);
    view.setInt32(newVector, count, true);
    for (let i = 0; i < count; i++) {
      const at = newVector + 4 + 4 * i;
      view.setInt32(at, firstField - at, true);
    }
    const slot = slotOffset(grown, schemaTable, 1);
    view.setInt32(slot, newVector - slot, true);
    assert.throws(
      () => new IpcDecoder().decode({ dataHeader: grown }),
      (e: unknown) => e instanceof IpcDecodeError && /more than 100000 tables/.test(e.message),
    );
  });

  it('regression: a record batch whose length disagrees with its columns is rejected, not a RangeError', () => {
    const stream = sampleStream('none');
    const batch = stream[2]!;
    for (const length of [ROWS + 1, ROWS - 1, 1_000_000]) {
      const header = alignedCopy(batch.header);
      const view = new DataView(header.buffer, header.byteOffset);
      const batchTable = deref(header, view.getInt32(0, true), MESSAGE_HEADER_SLOT);
      view.setBigInt64(slotOffset(header, batchTable, 0), BigInt(length), true);
      const decoder = new IpcDecoder();
      decoder.decode({ dataHeader: stream[0]!.header, dataBody: stream[0]!.body });
      decoder.decode({ dataHeader: stream[1]!.header, dataBody: alignedCopy(stream[1]!.body) });
      assert.throws(
        () => decoder.decode({ dataHeader: header, dataBody: alignedCopy(batch.body) }),
        (e: unknown) => e instanceof IpcDecodeError && /rows, the record batch/.test(e.message),
        `length ${length}`,
      );
    }
  });

  it('regression: a dictionary-encoded column before its dictionary batch is rejected, not left to crash on read', () => {
    const [schema, , batch] = sampleStream('none');
    const decoder = new IpcDecoder();
    decoder.decode({ dataHeader: schema!.header });
    assert.throws(
      () => decoder.decode({ dataHeader: batch!.header, dataBody: alignedCopy(batch!.body) }),
      (e: unknown) =>
        e instanceof IpcDecodeError && /before the dictionary batch for dictionary id 0/.test(e.message),
    );
  });

  it('regression: a dictionary index past the dictionary is rejected', () => {
    const stream = sampleStream('none');
    const decoder = new IpcDecoder();
    decoder.decode({ dataHeader: stream[0]!.header });
    decoder.decode({ dataHeader: stream[1]!.header, dataBody: alignedCopy(stream[1]!.body) });
    // Decode once, then overwrite row 1's index in place (the column is a view of `body`).
    const body = alignedCopy(stream[2]!.body);
    const reference = decoder.decode({ dataHeader: stream[2]!.header, dataBody: body }) as Extract<
      Decoded,
      { kind: 'batch' }
    >;
    const indices = reference.batch.getChild('category')!.data[0]!.values as Int32Array;
    indices[1] = 77;
    assert.throws(
      () => decoder.decode({ dataHeader: stream[2]!.header, dataBody: body }),
      (e: unknown) => e instanceof IpcDecodeError && /index 77 at row 1 is outside/.test(e.message),
    );
  });
});
