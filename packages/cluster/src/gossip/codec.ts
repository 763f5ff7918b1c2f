/**
 * Binary wire format of gossip packets, version 1.
 *
 * ```
 * packet  := version:u8 count:u8 message{count}
 * message := type:u8 bodyLength:u32be body
 * string  := length:u16be utf8
 * meta    := fieldCount:u8 (tag:u8 string){fieldCount}   tags: 1 dataAddr 2 metaAddr 3 zone 4 version
 * ```
 *
 * Every message is length-prefixed, so a decoder skips message types and meta tags it does
 * not know (append-only evolution) and a body may grow new trailing fields. A packet of an
 * unknown version is rejected whole. Integers are big-endian. Decoding never reads past the
 * buffer: any inconsistency throws {@link GossipDecodeError}.
 */
import { GossipDecodeError, GossipMessageTooLargeError } from '../errors.ts';
import {
  type MemberMeta,
  MemberStateCode,
  type MemberStateName,
  type Message,
  type MessageType,
  MessageTypeCode,
  type Packet,
  type PushPullState,
} from './messages.ts';

/** Version byte of packets this code writes and the only one it reads. */
export const PROTOCOL_VERSION = 1;
/** Most messages in one packet (count is a u8). */
export const PACKET_MESSAGE_COUNT_MAX = 255;
/** Longest string field in bytes (length is a u16). */
export const STRING_LENGTH_MAX_BYTES = 65_535;
/** Largest push/pull frame accepted over TCP: ~4096 members of ~1 KiB. */
export const PUSH_PULL_SIZE_MAX_BYTES = 4 * 1024 * 1024;
/** Bytes of packet header (version, count). */
export const PACKET_HEADER_BYTES = 2;
/** Bytes of per-message header (type, body length). */
export const MESSAGE_HEADER_BYTES = 5;

const TYPE_BY_CODE = new Map<number, MessageType>(
  Object.entries(MessageTypeCode).map(([name, code]) => [code, name as MessageType]),
);
const STATE_BY_CODE = new Map<number, MemberStateName>(
  Object.entries(MemberStateCode).map(([name, code]) => [code, name as MemberStateName]),
);
const META_TAG = Object.freeze({ dataAddr: 1, metaAddr: 2, zone: 3, version: 4 });

class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  lengthBytes = 0;
  private ensure(n: number): void {
    if (this.lengthBytes + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.lengthBytes + n));
    next.set(this.buf.subarray(0, this.lengthBytes));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.lengthBytes, v);
    this.lengthBytes += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.lengthBytes, v);
    this.lengthBytes += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.lengthBytes, v);
    this.lengthBytes += 4;
  }
  u32At(offset: number, v: number): void {
    this.view.setUint32(offset, v);
  }
  str(s: string): void {
    const bytes = new TextEncoder().encode(s);
    if (bytes.length > STRING_LENGTH_MAX_BYTES) {
      throw new GossipMessageTooLargeError('string field', bytes.length, STRING_LENGTH_MAX_BYTES);
    }
    this.u16(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.lengthBytes);
    this.lengthBytes += bytes.length;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.lengthBytes);
  }
}

class Reader {
  offset = 0;
  private readonly view: DataView;
  private readonly buf: Uint8Array;
  private readonly end: number;
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.offset = start;
    this.end = end;
  }
  private need(n: number, what: string): void {
    if (this.offset + n > this.end) throw new GossipDecodeError(`truncated ${what}`, this.offset);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  bool(what: string): boolean {
    const v = this.u8(what);
    if (v > 1) throw new GossipDecodeError(`${what} is not a boolean`, this.offset - 1);
    return v === 1;
  }
  str(what: string): string {
    const n = this.u16(what);
    this.need(n, what);
    const s = new TextDecoder('utf-8', { fatal: true });
    try {
      const out = s.decode(this.buf.subarray(this.offset, this.offset + n));
      this.offset += n;
      return out;
    } catch (cause) {
      throw Object.assign(new GossipDecodeError(`${what} is not UTF-8`, this.offset), { cause });
    }
  }
  get remaining(): number {
    return this.end - this.offset;
  }
}

function writeMeta(w: Writer, meta: MemberMeta): void {
  const fields: [number, string][] = [
    [META_TAG.dataAddr, meta.dataAddr],
    [META_TAG.metaAddr, meta.metaAddr],
    [META_TAG.version, meta.version],
  ];
  if (meta.zone !== undefined) fields.push([META_TAG.zone, meta.zone]);
  w.u8(fields.length);
  for (const [tag, value] of fields) {
    w.u8(tag);
    w.str(value);
  }
}

function readMeta(r: Reader, nodeId: string): MemberMeta {
  const count = r.u8('meta field count');
  let dataAddr = '';
  let metaAddr = '';
  let version = '';
  let zone: string | undefined;
  for (let i = 0; i < count; i++) {
    const tag = r.u8('meta tag');
    const value = r.str('meta value');
    if (tag === META_TAG.dataAddr) dataAddr = value;
    else if (tag === META_TAG.metaAddr) metaAddr = value;
    else if (tag === META_TAG.zone) zone = value;
    else if (tag === META_TAG.version) version = value;
    // Unknown tags come from newer nodes: skipped.
  }
  return zone === undefined
    ? { nodeId, dataAddr, metaAddr, version }
    : { nodeId, dataAddr, metaAddr, zone, version };
}

function writeState(w: Writer, s: PushPullState): void {
  w.str(s.nodeId);
  w.str(s.addr);
  w.u32(s.incarnation);
  w.u8(MemberStateCode[s.state]);
  writeMeta(w, s.meta);
}

function readState(r: Reader): PushPullState {
  const nodeId = r.str('state nodeId');
  const addr = r.str('state addr');
  const incarnation = r.u32('state incarnation');
  const code = r.u8('state code');
  const state = STATE_BY_CODE.get(code);
  if (state === undefined) throw new GossipDecodeError(`unknown member state ${code}`, r.offset - 1);
  return { nodeId, addr, incarnation, state, meta: readMeta(r, nodeId) };
}

function writeBody(w: Writer, m: Message): void {
  switch (m.type) {
    case 'ping':
      w.u32(m.seqNo);
      w.str(m.targetId);
      w.str(m.sourceId);
      w.str(m.sourceAddr);
      return;
    case 'indirectPing':
      w.u32(m.seqNo);
      w.str(m.targetId);
      w.str(m.targetAddr);
      w.str(m.sourceId);
      w.str(m.sourceAddr);
      w.u8(m.wantNack ? 1 : 0);
      return;
    case 'ack':
    case 'nack':
      w.u32(m.seqNo);
      return;
    case 'suspect':
    case 'dead':
      w.u32(m.incarnation);
      w.str(m.nodeId);
      w.str(m.fromId);
      return;
    case 'alive':
      w.u32(m.incarnation);
      w.str(m.nodeId);
      w.str(m.addr);
      writeMeta(w, m.meta);
      return;
    case 'pushPull':
      w.u8(m.join ? 1 : 0);
      w.u8(m.reply ? 1 : 0);
      w.str(m.sourceId);
      w.str(m.sourceAddr);
      w.u32(m.states.length);
      for (const s of m.states) writeState(w, s);
      return;
  }
}

function readBody(r: Reader, type: MessageType): Message {
  switch (type) {
    case 'ping':
      return {
        type,
        seqNo: r.u32('seqNo'),
        targetId: r.str('targetId'),
        sourceId: r.str('sourceId'),
        sourceAddr: r.str('sourceAddr'),
      };
    case 'indirectPing':
      return {
        type,
        seqNo: r.u32('seqNo'),
        targetId: r.str('targetId'),
        targetAddr: r.str('targetAddr'),
        sourceId: r.str('sourceId'),
        sourceAddr: r.str('sourceAddr'),
        wantNack: r.bool('wantNack'),
      };
    case 'ack':
    case 'nack':
      return { type, seqNo: r.u32('seqNo') };
    case 'suspect':
    case 'dead':
      return { type, incarnation: r.u32('incarnation'), nodeId: r.str('nodeId'), fromId: r.str('fromId') };
    case 'alive': {
      const incarnation = r.u32('incarnation');
      const nodeId = r.str('nodeId');
      const addr = r.str('addr');
      return { type, incarnation, nodeId, addr, meta: readMeta(r, nodeId) };
    }
    case 'pushPull': {
      const join = r.bool('join');
      const reply = r.bool('reply');
      const sourceId = r.str('sourceId');
      const sourceAddr = r.str('sourceAddr');
      const count = r.u32('state count');
      // Each state takes at least 10 bytes, so a count the body cannot hold is malformed.
      if (count * 10 > r.remaining) throw new GossipDecodeError('state count exceeds body', r.offset - 4);
      const states: PushPullState[] = [];
      for (let i = 0; i < count; i++) states.push(readState(r));
      return { type, join, reply, sourceId, sourceAddr, states };
    }
  }
}

/** Encodes one message with its header (type, length). */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  writeMessage(w, m);
  return w.bytes();
}

function writeMessage(w: Writer, m: Message): void {
  w.u8(MessageTypeCode[m.type]);
  const lengthAt = w.lengthBytes;
  w.u32(0);
  writeBody(w, m);
  w.u32At(lengthAt, w.lengthBytes - lengthAt - 4);
}

/** Encoded size of one message including its header; what it adds to a packet. */
export function encodedSizeBytes(m: Message): number {
  return encodeMessage(m).length;
}

/** Encodes a packet. @throws GossipMessageTooLargeError over {@link PACKET_MESSAGE_COUNT_MAX} messages. */
export function encodePacket(p: Packet): Uint8Array {
  if (p.messages.length > PACKET_MESSAGE_COUNT_MAX) {
    throw new GossipMessageTooLargeError('packet message count', p.messages.length, PACKET_MESSAGE_COUNT_MAX);
  }
  const w = new Writer();
  w.u8(PROTOCOL_VERSION);
  w.u8(p.messages.length);
  for (const m of p.messages) writeMessage(w, m);
  return w.bytes();
}

/** Result of decoding: the packet and how many messages of unknown type were skipped. */
export interface DecodedPacket {
  readonly packet: Packet;
  readonly skippedCount: number;
}

/**
 * Decodes a packet. Unknown message types are skipped (counted); trailing bytes inside a
 * message body are ignored (newer fields); anything else malformed throws.
 * @throws GossipDecodeError
 */
export function decodePacket(buf: Uint8Array): DecodedPacket {
  const r = new Reader(buf);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new GossipDecodeError(`unsupported version ${version}`, 0);
  const count = r.u8('message count');
  const messages: Message[] = [];
  let skippedCount = 0;
  for (let i = 0; i < count; i++) {
    const code = r.u8('message type');
    const bodyLength = r.u32('message length');
    const start = r.offset;
    if (bodyLength > r.remaining) throw new GossipDecodeError('message length exceeds packet', start - 4);
    const type = TYPE_BY_CODE.get(code);
    if (type === undefined) {
      skippedCount++;
    } else {
      const body = new Reader(buf, start, start + bodyLength);
      messages.push(readBody(body, type));
    }
    r.offset = start + bodyLength;
  }
  if (r.remaining !== 0) throw new GossipDecodeError('trailing bytes after last message', r.offset);
  return { packet: { messages }, skippedCount };
}
