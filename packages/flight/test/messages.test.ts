import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { ProtoDecodeError } from '../src/errors.ts';
import {
  ActionCodec,
  DescriptorType,
  decodeFlightData,
  decodeFlightInfo,
  encodeFlightData,
  encodeFlightDescriptor,
  encodeFlightInfo,
  FlightDescriptorCodec,
  PutResultCodec,
  TicketCodec,
} from '../src/proto/messages.ts';

// The oracle: protobufjs parsing the Flight.proto we ship. Our hand-written codec must
// agree with it byte for byte in both directions.
const root = protobuf.loadSync(path.join(import.meta.dirname, '../src/proto/Flight.proto'));
const T = (name: string) => root.lookupType(`arrow.flight.protocol.${name}`);

describe('Flight protobuf codec against protobufjs', () => {
  it('FlightData with descriptor, header, metadata and a multi-piece body', () => {
    const body = [Buffer.from([1, 2, 3]), Buffer.alloc(5, 9)];
    const encoded = encodeFlightData({
      flightDescriptor: { type: DescriptorType.path, path: ['ds', ''] },
      dataHeader: Buffer.from('header'),
      appMetadata: Buffer.from('{"a":1}'),
      dataBody: body,
    });
    const viaOracle = T('FlightData').toObject(T('FlightData').decode(encoded), { bytes: Buffer }) as Record<
      string,
      any
    >;
    assert.deepEqual(viaOracle.flightDescriptor.path, ['ds', '']);
    assert.equal(viaOracle.flightDescriptor.type, 1);
    assert.equal(Buffer.from(viaOracle.dataHeader).toString(), 'header');
    assert.deepEqual([...viaOracle.dataBody], [1, 2, 3, 9, 9, 9, 9, 9]);
    const decoded = decodeFlightData(encoded);
    assert.deepEqual([...(decoded.dataBody as Uint8Array)], [1, 2, 3, 9, 9, 9, 9, 9]);
    assert.equal(Buffer.from(decoded.appMetadata!).toString(), '{"a":1}');
  });

  it('decodes FlightData bodies as views of the input (zero copy)', () => {
    const oracleBytes = T('FlightData')
      .encode({ dataHeader: Buffer.from('h'), dataBody: Buffer.alloc(1024, 7) })
      .finish();
    const decoded = decodeFlightData(oracleBytes);
    const body = decoded.dataBody as Uint8Array;
    assert.equal(body.buffer, oracleBytes.buffer);
    assert.equal(body.length, 1024);
  });

  it('FlightInfo with endpoints, locations, negative totals and unknown fields', () => {
    const info = {
      schema: Buffer.from('schema-bytes'),
      flightDescriptor: { type: DescriptorType.cmd, cmd: Buffer.from('select') },
      endpoint: [
        { ticket: { ticket: Buffer.from('t1') }, location: [{ uri: 'grpc+tcp://127.0.0.1:3000' }] },
        { ticket: { ticket: Buffer.from('t2') }, location: [] },
      ],
      totalRecords: -1n,
      totalBytes: 123456789012n,
      ordered: true,
    };
    const encoded = encodeFlightInfo(info);
    const o = T('FlightInfo').toObject(T('FlightInfo').decode(encoded), {
      longs: String,
      bytes: Buffer,
    }) as Record<string, any>;
    assert.equal(o.totalRecords, '-1');
    assert.equal(o.totalBytes, '123456789012');
    assert.equal(o.endpoint[0].location[0].uri, 'grpc+tcp://127.0.0.1:3000');
    assert.equal(o.ordered, true);
    // Round trip through the oracle's encoder, plus an unknown field (number 99) we must skip.
    const oracleBytes = Buffer.concat([
      T('FlightInfo').encode(T('FlightInfo').fromObject(o)).finish(),
      Buffer.from([0x98, 0x06, 0x01]),
    ]);
    const back = decodeFlightInfo(oracleBytes);
    assert.equal(back.totalRecords, -1n);
    assert.equal(back.totalBytes, 123456789012n);
    assert.equal(Buffer.from(back.endpoint![1]!.ticket!.ticket).toString(), 't2');
    assert.equal(back.flightDescriptor?.type, DescriptorType.cmd);
  });

  it('small messages agree with the oracle', () => {
    const d = encodeFlightDescriptor({ type: DescriptorType.path, path: ['a', 'b'] });
    assert.deepEqual(T('FlightDescriptor').toObject(T('FlightDescriptor').decode(d)).path, ['a', 'b']);
    assert.deepEqual(
      FlightDescriptorCodec.decode(
        T('FlightDescriptor')
          .encode({ type: 1, path: ['x'] })
          .finish(),
      ).path,
      ['x'],
    );
    const action = ActionCodec.decode(
      T('Action')
        .encode({ type: 'get_stats', body: Buffer.from('{}') })
        .finish(),
    );
    assert.equal(action.type, 'get_stats');
    assert.equal(Buffer.from(action.body!).toString(), '{}');
    const put = T('PutResult').decode(PutResultCodec.encode({ appMetadata: Buffer.from('ok') })) as any;
    assert.equal(Buffer.from(put.appMetadata).toString(), 'ok');
    assert.equal(
      Buffer.from(TicketCodec.decode(TicketCodec.encode({ ticket: Buffer.from('{}') })).ticket).toString(),
      '{}',
    );
  });

  it('rejects malformed input with ProtoDecodeError', () => {
    assert.throws(() => decodeFlightData(Buffer.from([0x12, 0x05, 0x01])), ProtoDecodeError); // length past end
    assert.throws(() => decodeFlightData(Buffer.from([0x12])), ProtoDecodeError); // truncated varint
    assert.throws(() => decodeFlightData(Buffer.from([0x10, 0x01])), ProtoDecodeError); // header as varint
    assert.throws(() => decodeFlightData(Buffer.from([0x0f])), ProtoDecodeError); // wire type 7
    assert.throws(() => FlightDescriptorCodec.decode(Buffer.from([0x1a, 0x01, 0xff])), ProtoDecodeError); // bad UTF-8
  });
});
