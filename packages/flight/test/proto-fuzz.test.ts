/**
 * Malformed input for every hand-written protobuf decoder (src/proto): each sample is cut
 * at every offset and mutated a few thousand times with a seeded PRNG. A decoder must
 * return a value or throw ProtoDecodeError — never another error, never a `bytes` view
 * reaching outside its input. Round trips check the samples themselves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hexPrefix, mutate, seededRandom } from '@longbow/testkit';
import protobuf from 'protobufjs';
import { FlightErrorCode, ProtoDecodeError } from '../src/errors.ts';
import {
  ActionCodec,
  ActionTypeCodec,
  type Codec,
  CriteriaCodec,
  DescriptorType,
  EmptyCodec,
  FlightDataCodec,
  FlightDescriptorCodec,
  FlightInfoCodec,
  HandshakeCodec,
  PollInfoCodec,
  PutResultCodec,
  ResultCodec,
  SchemaResultCodec,
  TicketCodec,
} from '../src/proto/messages.ts';

const SEED = 0x5eed_f11e;
const MUTATIONS_PER_SAMPLE = 3000;

interface Sample {
  name: string;
  /** The sample's encoding. */
  good: Buffer;
  decode(bytes: Uint8Array): unknown;
  /** Decode then encode again. */
  reencode(bytes: Uint8Array): Buffer;
}

function sample<T>(name: string, codec: Codec<T>, value: T): Sample {
  return {
    name,
    good: codec.encode(value),
    decode: (b) => codec.decode(b),
    reencode: (b) => codec.encode(codec.decode(b)),
  };
}

const bytes = (s: string) => Buffer.from(s);
const info = {
  schema: bytes('schema'),
  flightDescriptor: { type: DescriptorType.cmd, cmd: bytes('{"search":{}}') },
  endpoint: [
    {
      ticket: { ticket: bytes('{"dataset":"d"}') },
      location: [{ uri: 'grpc+tcp://127.0.0.1:3000' }, { uri: 'grpc+tcp://[::1]:3001' }],
      expirationTime: { seconds: -62135596800n, nanos: 999_999_999 },
      appMetadata: bytes('e'),
    },
  ],
  totalRecords: -1n,
  totalBytes: 123_456_789_012n,
  ordered: true,
  appMetadata: bytes('m'),
};

const samples: Sample[] = [
  sample('FlightData', FlightDataCodec, {
    flightDescriptor: { type: DescriptorType.path, path: ['dataset', 'ü'] },
    dataHeader: bytes('header-flatbuffer'),
    appMetadata: bytes('{"a":1}'),
    dataBody: Buffer.alloc(40, 7),
  }),
  sample('FlightDescriptor', FlightDescriptorCodec, { type: DescriptorType.path, path: ['a', '', 'ccc'] }),
  sample('Ticket', TicketCodec, { ticket: bytes('{"dataset":"vectors","limit":10}') }),
  sample('FlightInfo', FlightInfoCodec, info),
  sample('PollInfo', PollInfoCodec, {
    info,
    flightDescriptor: { type: DescriptorType.path, path: ['p'] },
    progress: 0.25,
  }),
  sample('Action', ActionCodec, { type: 'get_stats', body: bytes('{"dataset":"d"}') }),
  sample('ActionType', ActionTypeCodec, { type: 'snapshot', description: 'take a snapshot' }),
  sample('PutResult', PutResultCodec, { appMetadata: bytes('{"status":"ok","rows":3}') }),
  sample('Result', ResultCodec, { body: bytes('{"ok":true}') }),
  sample('Criteria', CriteriaCodec, { expression: bytes('*') }),
  sample('SchemaResult', SchemaResultCodec, { schema: bytes('schema-bytes') }),
  sample('HandshakeRequest', HandshakeCodec, { protocolVersion: 1, payload: bytes('token') }),
];

/** Every Uint8Array reachable from a decoded value (bytes fields are views of the input). */
function* views(value: unknown): Generator<Uint8Array> {
  if (value instanceof Uint8Array) yield value;
  else if (Array.isArray(value)) for (const v of value) yield* views(v);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) yield* views(v);
}

/** Decodes `input`; fails unless it returns views inside `input` or throws ProtoDecodeError. */
function decodeOrReject(s: Sample, input: Uint8Array, label: string): void {
  let decoded: unknown;
  try {
    decoded = s.decode(input);
  } catch (err) {
    assert.ok(
      err instanceof ProtoDecodeError && err.code === FlightErrorCode.malformedProtobuf,
      `${label}: threw ${String(err)} (input ${hexPrefix(input)})`,
    );
    return;
  }
  for (const view of views(decoded)) {
    const inside =
      view.buffer === input.buffer &&
      view.byteOffset >= input.byteOffset &&
      view.byteOffset + view.byteLength <= input.byteOffset + input.byteLength;
    assert.ok(inside || view.byteLength === 0, `${label}: a bytes field points outside the input`);
  }
}

/**
 * Offsets at which a top-level field of `bytes` ends, found by protobufjs (the oracle): a
 * cut there is a shorter valid message, a cut anywhere else must be rejected.
 */
function fieldBoundaries(bytes: Uint8Array): Set<number> {
  const reader = protobuf.Reader.create(bytes);
  const ends = new Set([0]);
  while (reader.pos < reader.len) {
    reader.skipType(reader.uint32() & 7);
    ends.add(reader.pos);
  }
  return ends;
}

describe('protobuf decoders under malformed input', () => {
  for (const s of samples) {
    const { name, good } = s;

    it(`${name} round-trips (decode then encode gives the same bytes)`, () => {
      assert.ok(good.length > 0);
      assert.deepEqual(s.reencode(good), good);
    });

    it(`${name} cut at every offset decodes at field boundaries and throws ProtoDecodeError elsewhere`, () => {
      const boundaries = fieldBoundaries(good);
      for (let cut = 0; cut < good.length; cut++) {
        const input = Uint8Array.from(good.subarray(0, cut));
        decodeOrReject(s, input, `${name} cut at ${cut}`);
        if (!boundaries.has(cut))
          assert.throws(() => s.decode(input), ProtoDecodeError, `${name} cut at ${cut}`);
      }
    });

    it(`${name} under ${MUTATIONS_PER_SAMPLE} seeded mutations decodes or throws ProtoDecodeError`, () => {
      const random = seededRandom(SEED);
      for (let i = 0; i < MUTATIONS_PER_SAMPLE; i++) {
        const m = mutate(good, random);
        decodeOrReject(s, m.bytes, `${name} seed ${SEED} case ${i} (${m.description})`);
      }
    });
  }

  it('Empty ignores any input', () => {
    assert.deepEqual(EmptyCodec.decode(Uint8Array.of(0xff, 0xff)), {});
  });

  it('rejects a length varint far beyond the message without allocating', () => {
    // FlightData.data_body (field 1000, LEN) claiming 2^53 - 1 bytes, then 2^40.
    const huge = Uint8Array.of(0xc2, 0x3e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f);
    assert.throws(() => FlightDataCodec.decode(huge), /runs past the end/);
    const big = Uint8Array.of(0xc2, 0x3e, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 1, 2, 3);
    assert.throws(() => FlightDataCodec.decode(big), ProtoDecodeError);
  });

  it('rejects a varint that does not fit in 2^53 and one longer than ten bytes', () => {
    const tooBig = Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    assert.throws(() => FlightDescriptorCodec.decode(tooBig), /exceeds 2\^53/);
    const tooLong = Uint8Array.of(0x08, ...new Array(11).fill(0x80), 0x00);
    assert.throws(() => FlightDescriptorCodec.decode(tooLong), /longer than 10 bytes/);
  });
});
