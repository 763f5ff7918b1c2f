import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GossipDecodeError } from '../../src/errors.ts';
import {
  decodePacket,
  encodePacket,
  MESSAGE_HEADER_BYTES,
  PROTOCOL_VERSION,
} from '../../src/gossip/codec.ts';
import { type Message, MessageTypeCode, type Packet } from '../../src/gossip/messages.ts';
import { seededRandom } from '../../src/gossip/random.ts';

const meta = {
  nodeId: 'n1',
  dataAddr: '10.0.0.1:3000',
  metaAddr: '10.0.0.1:3001',
  zone: 'eu-1a',
  version: '0.1.0',
};
const metaNoZone = { nodeId: 'ü-2', dataAddr: '[::1]:3000', metaAddr: '[::1]:3001', version: '0.1.0' };

const samples: Message[] = [
  { type: 'ping', seqNo: 4294967295, targetId: 'n2', sourceId: 'n1', sourceAddr: '10.0.0.1:7946' },
  {
    type: 'indirectPing',
    seqNo: 7,
    targetId: 'n3',
    targetAddr: '10.0.0.3:7946',
    sourceId: 'n1',
    sourceAddr: 'a:1',
    wantNack: true,
  },
  { type: 'ack', seqNo: 0 },
  { type: 'nack', seqNo: 99 },
  { type: 'suspect', incarnation: 3, nodeId: 'n3', fromId: 'n1' },
  { type: 'alive', incarnation: 12, nodeId: 'n1', addr: '10.0.0.1:7946', meta },
  { type: 'alive', incarnation: 0, nodeId: 'ü-2', addr: '[::1]:7946', meta: metaNoZone },
  { type: 'dead', incarnation: 1, nodeId: 'n4', fromId: 'n4' },
  {
    type: 'pushPull',
    join: true,
    reply: false,
    sourceId: 'n1',
    sourceAddr: '10.0.0.1:7946',
    states: [
      { nodeId: 'n1', addr: '10.0.0.1:7946', incarnation: 2, state: 'alive', meta },
      { nodeId: 'ü-2', addr: '[::1]:7946', incarnation: 5, state: 'left', meta: metaNoZone },
    ],
  },
];

describe('gossip codec', () => {
  it('round-trips every message type alone and all together', () => {
    for (const m of samples) {
      assert.deepEqual(decodePacket(encodePacket({ messages: [m] })).packet, { messages: [m] });
    }
    const all: Packet = { messages: samples };
    assert.deepEqual(decodePacket(encodePacket(all)), { packet: all, skippedCount: 0 });
  });

  it('covers every wire type number in the samples', () => {
    const seen = new Set(samples.map((m) => m.type));
    assert.deepEqual([...seen].sort(), Object.keys(MessageTypeCode).sort());
  });

  it('keeps the wire numbers fixed (append-only table)', () => {
    assert.deepEqual(MessageTypeCode, {
      ping: 1,
      indirectPing: 2,
      ack: 3,
      nack: 4,
      suspect: 5,
      alive: 6,
      dead: 7,
      pushPull: 8,
    });
    assert.deepEqual(
      [...encodePacket({ messages: [{ type: 'ack', seqNo: 258 }] })],
      [PROTOCOL_VERSION, 1, 3, 0, 0, 0, 4, 0, 0, 1, 2],
    );
  });

  it('rejects a packet cut at any offset', () => {
    const bytes = encodePacket({ messages: samples });
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decodePacket(bytes.subarray(0, cut)), GossipDecodeError, `cut at ${cut}`);
    }
  });

  it('rejects unknown versions, trailing bytes, bad booleans and bad UTF-8', () => {
    const good = encodePacket({ messages: [samples[1]!] });
    assert.throws(() => decodePacket(Uint8Array.of(2, ...good.subarray(1))), /unsupported version 2/);
    assert.throws(() => decodePacket(Uint8Array.of(...good, 0)), /trailing bytes/);
    const badBool = Uint8Array.from(good);
    badBool[badBool.length - 1] = 7;
    assert.throws(() => decodePacket(badBool), /wantNack is not a boolean/);
    const ping = encodePacket({
      messages: [{ type: 'ping', seqNo: 1, targetId: 'ab', sourceId: 's', sourceAddr: 'x' }],
    });
    const badUtf8 = Uint8Array.from(ping);
    badUtf8[2 + MESSAGE_HEADER_BYTES + 4 + 2] = 0xff;
    assert.throws(() => decodePacket(badUtf8), /targetId is not UTF-8/);
  });

  it('skips message types from newer versions and ignores trailing body fields', () => {
    const ack = encodePacket({ messages: [{ type: 'ack', seqNo: 5 }] });
    // An unknown type 200 with a 3-byte body, then the ack with one extra trailing body byte.
    const bytes = Uint8Array.of(PROTOCOL_VERSION, 2, 200, 0, 0, 0, 3, 1, 2, 3, 3, 0, 0, 0, 5, 0, 0, 0, 5, 9);
    assert.deepEqual(decodePacket(bytes), {
      packet: { messages: [{ type: 'ack', seqNo: 5 }] },
      skippedCount: 1,
    });
    assert.equal(ack.length, 11);
  });

  it('rejects a push/pull whose state count cannot fit', () => {
    const pp = encodePacket({
      messages: [{ ...(samples[8] as Message & { type: 'pushPull' }), states: [] }],
    });
    const lying = Uint8Array.from(pp);
    lying[lying.length - 1] = 200;
    assert.throws(() => decodePacket(lying), /state count exceeds body/);
  });

  it('throws only GossipDecodeError on random bytes and random corruption', () => {
    const random = seededRandom(42);
    const good = encodePacket({ messages: samples });
    for (let i = 0; i < 3000; i++) {
      const bytes = i % 2 === 0 ? Uint8Array.from(good) : new Uint8Array(Math.floor(random.next() * 64));
      for (let j = 0; j < 1 + (i % 4); j++) {
        if (bytes.length > 0)
          bytes[Math.floor(random.next() * bytes.length)] = Math.floor(random.next() * 256);
      }
      try {
        decodePacket(bytes);
      } catch (err) {
        assert.ok(err instanceof GossipDecodeError, String(err));
      }
    }
  });
});
