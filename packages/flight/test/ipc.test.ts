import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Dictionary,
  Field,
  FixedSizeList,
  Float32,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchReader,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { IpcDecodeError } from '../src/errors.ts';
import type { CompressionName } from '../src/ipc/compression.ts';
import { decodeEncapsulatedSchema, IpcDecoder } from '../src/ipc/decoder.ts';
import { encapsulateSchema, IpcEncoder, toIpcStream } from '../src/ipc/encoder.ts';
import type { FlightData } from '../src/proto/messages.ts';
import { decodeFlightData, encodeFlightData } from '../src/proto/messages.ts';

const DIM = 8;
// One dictionary type for every batch: a stream's batches share its schema's dictionary ids.
const CATEGORY = new Dictionary(new Utf8(), new Int32());

function sampleBatch(rows: number, seed = 1): RecordBatch {
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(i * 7 + seed));
  const floats = Float32Array.from({ length: rows * DIM }, (_, i) => Math.sin(i + seed));
  const vectorType = new FixedSizeList(DIM, new Field('item', new Float32(), false));
  const vector = makeData({
    type: vectorType,
    length: rows,
    nullCount: 0,
    child: makeData({ type: new Float32(), length: rows * DIM, data: floats }),
  });
  const names = vectorFromArray(
    Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : `name-${i % 3}`)),
    CATEGORY,
  );
  const text = vectorFromArray(
    Array.from({ length: rows }, (_, i) => `doc ${i} ${'x'.repeat(i % 40)}`),
    new Utf8(),
  );
  const schema = new Schema([
    new Field('id', new Int64(), false),
    new Field('vector', vectorType, false),
    new Field('category', names.type, true),
    new Field('text', new Utf8(), true),
  ]);
  const data = makeData({
    type: new Struct(schema.fields),
    length: rows,
    nullCount: 0,
    children: [
      makeData({ type: new Int64(), length: rows, data: ids }),
      vector,
      names.data[0]!,
      text.data[0]!,
    ],
  });
  return new RecordBatch(schema, data);
}

// Simulates the wire: encode to protobuf bytes, decode from a copy at an odd offset so the
// decoder's alignment handling is exercised.
function overTheWire(messages: FlightData[]): FlightData[] {
  return messages.map((m) => {
    const bytes = encodeFlightData(m);
    const shifted = Buffer.alloc(bytes.length + 3);
    bytes.copy(shifted, 3);
    return decodeFlightData(shifted.subarray(3));
  });
}

function assertSameRows(a: RecordBatch, b: RecordBatch): void {
  assert.equal(b.numRows, a.numRows);
  for (const name of ['id', 'category', 'text']) {
    assert.deepEqual(b.getChild(name)!.toArray(), a.getChild(name)!.toArray(), name);
  }
  const va = a.getChild('vector')!;
  const vb = b.getChild('vector')!;
  for (let i = 0; i < a.numRows; i++) assert.deepEqual([...vb.get(i)!], [...va.get(i)!]);
}

describe('IPC encoder and decoder', () => {
  for (const compression of ['none', 'lz4', 'zstd'] as CompressionName[]) {
    it(`round-trips a batch with dictionaries and nulls (${compression})`, () => {
      const batch = sampleBatch(300);
      const enc = new IpcEncoder(batch.schema, compression);
      const wire = overTheWire([
        enc.schemaMessage(),
        ...enc.batchMessages(batch),
        ...enc.batchMessages(sampleBatch(10, 2)),
      ]);
      const dec = new IpcDecoder();
      const out = wire.map((m) => dec.decode(m));
      assert.deepEqual(
        out.map((o) => o.kind),
        ['schema', 'dictionary', 'batch', 'dictionary', 'batch'],
      );
      assertSameRows(batch, (out[2] as { batch: RecordBatch }).batch);
      assertSameRows(sampleBatch(10, 2), (out[4] as { batch: RecordBatch }).batch);
    });

    it(`writes streams apache-arrow's own reader accepts (${compression})`, () => {
      const batch = sampleBatch(100);
      const enc = new IpcEncoder(batch.schema, compression);
      const stream = toIpcStream([enc.schemaMessage(), ...enc.batchMessages(batch)]);
      const batches = [...RecordBatchReader.from(stream)];
      assert.equal(batches.length, 1);
      assertSameRows(batch, batches[0]!);
    });
  }

  it('compresses repetitive bodies and stores incompressible ones raw', () => {
    const batch = sampleBatch(2000);
    const plain = new IpcEncoder(batch.schema, 'none').batchMessages(batch).at(-1)!;
    const lz4 = new IpcEncoder(batch.schema, 'lz4').batchMessages(batch).at(-1)!;
    const size = (m: FlightData) => encodeFlightData(m).length;
    assert.ok(size(lz4) < size(plain), `lz4 ${size(lz4)} should be below plain ${size(plain)}`);
  });

  it('encapsulated schema round-trips', () => {
    const schema = sampleBatch(1).schema;
    const back = decodeEncapsulatedSchema(encapsulateSchema(schema));
    assert.deepEqual(
      back.fields.map((f) => `${f.name}:${f.type}`),
      schema.fields.map((f) => `${f.name}:${f.type}`),
    );
  });

  it('names the problem in malformed input', () => {
    const batch = sampleBatch(10);
    const enc = new IpcEncoder(batch.schema);
    const [schemaMsg] = overTheWire([enc.schemaMessage()]);
    const batchMsg = overTheWire(enc.batchMessages(batch)).at(-1)!;
    const dec = new IpcDecoder();
    assert.throws(() => dec.decode(batchMsg), /record batch before the schema/);
    dec.decode(schemaMsg!);
    const body = batchMsg.dataBody as Uint8Array;
    assert.throws(
      () => dec.decode({ dataHeader: batchMsg.dataHeader, dataBody: body.subarray(0, 16) }),
      (e: unknown) => e instanceof IpcDecodeError && /body/.test(e.message),
    );
    assert.throws(
      () => new IpcDecoder().decode({ dataHeader: Buffer.from('not a flatbuffer at all') }),
      IpcDecodeError,
    );
  });
});

describe('dictionaries in several chunks', () => {
  it('sends every chunk (a replacement, then deltas) so indices into later chunks decode', () => {
    // A dictionary grown by a delta arrives as a two-chunk vector (IpcDecoder concatenates).
    const type = new Dictionary(new Utf8(), new Int32());
    const dictionary = vectorFromArray(['a', 'b'], new Utf8()).concat(
      vectorFromArray(['c', 'd'], new Utf8()),
    );
    const indices = Int32Array.from([0, 2, 3, 1]);
    const column = makeData({ type, length: 4, nullCount: 0, data: indices, dictionary });
    const schema = new Schema([new Field('tag', type, false)]);
    const batch = new RecordBatch(
      schema,
      makeData({ type: new Struct(schema.fields), length: 4, nullCount: 0, children: [column] }),
    );
    const enc = new IpcEncoder(schema, 'lz4');
    const messages = overTheWire([
      enc.schemaMessage(),
      ...enc.batchMessages(batch),
      ...enc.batchMessages(batch),
    ]);
    const dec = new IpcDecoder();
    const out = messages.map((m) => dec.decode(m));
    // The second batch shares the dictionary: nothing is re-sent.
    assert.deepEqual(
      out.map((o) => o.kind),
      ['schema', 'dictionary', 'dictionary', 'batch', 'batch'],
    );
    for (const o of out.filter((x) => x.kind === 'batch')) {
      assert.deepEqual([...(o as { batch: RecordBatch }).batch.getChild('tag')!], ['a', 'c', 'd', 'b']);
    }
  });
});
