/**
 * Protocol Buffers wire format, the subset Flight needs: varints, 64-bit varints,
 * length-delimited fields and skipping of unknown fields.
 *
 * Source: https://protobuf.dev/programming-guides/encoding/ (wire types 0 VARINT,
 * 1 I64, 2 LEN, 5 I32; a tag is `(field_number << 3) | wire_type`).
 *
 * Decoding is zero-copy: `bytes` fields come back as `subarray`s of the input, so a
 * FlightData body of megabytes is never copied by the codec.
 */
import { ProtoDecodeError } from '../errors.ts';

/** Wire types from the protobuf encoding spec. */
export const WireType = {
  varint: 0,
  i64: 1,
  len: 2,
  i32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const textDecoder = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();

/** Sequential reader over one encoded message. Offsets are byte offsets into `buf`. */
export class ProtoReader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  /** Wire type of the field whose tag was read last; typed reads check it. */
  private wireType = -1;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** True while unread bytes remain. */
  more(): boolean {
    return this.pos < this.end;
  }

  /** Reads a tag; returns field number and wire type. */
  tag(): { field: number; wireType: number } {
    const t = this.rawVarint();
    this.wireType = t & 7;
    return { field: Math.floor(t / 8), wireType: t & 7 };
  }

  private expect(wireType: WireType, what: string): void {
    if (this.wireType !== wireType) {
      throw new ProtoDecodeError(`${what} field has wire type ${this.wireType}, expected ${wireType}`);
    }
  }

  /** Reads a varint field that fits in 2^53 (enums, bools, small ints). */
  varint(): number {
    this.expect(WireType.varint, 'varint');
    return this.rawVarint();
  }

  private rawVarint(): number {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) throw new ProtoDecodeError('varint exceeds 2^53');
        return result;
      }
      shift *= 128;
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** Reads a varint as a signed 64-bit integer (int64 fields; -1 is ten bytes on the wire). */
  varint64(): bigint {
    this.expect(WireType.varint, 'int64');
    return this.rawVarint64();
  }

  private rawVarint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** Reads a length-delimited field as a view into the input (no copy). */
  bytes(): Uint8Array {
    this.expect(WireType.len, 'length-delimited');
    const len = this.rawVarint();
    const start = this.pos;
    if (start + len > this.end) throw new ProtoDecodeError(`length ${len} runs past the end of the message`);
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }

  /** Reads a length-delimited field as UTF-8 text. */
  string(): string {
    try {
      return textDecoder.decode(this.bytes());
    } catch (err) {
      if (err instanceof ProtoDecodeError) throw err;
      throw new ProtoDecodeError('string field is not valid UTF-8');
    }
  }

  /** Reads a little-endian 64-bit float (wire type I64). */
  double(): number {
    this.expect(WireType.i64, 'double');
    if (this.pos + 8 > this.end) throw new ProtoDecodeError('truncated double');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Skips a field of the given wire type (unknown fields are legal and ignored). */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.varint:
        this.rawVarint64();
        return;
      case WireType.i64:
        this.advance(8);
        return;
      case WireType.len:
        this.bytes();
        return;
      case WireType.i32:
        this.advance(4);
        return;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtoDecodeError('truncated fixed-width field');
    this.pos += n;
  }
}

/** Number of bytes the varint encoding of a non-negative integer < 2^53 takes. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/**
 * Growable writer for small messages. Hot paths (FlightData) size their output exactly
 * and write once instead; see messages.ts.
 */
export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Writes a non-negative integer < 2^53 as a varint. */
  varint(n: number): this {
    this.ensure(10);
    this.pos = writeVarint(this.buf, this.pos, n);
    return this;
  }

  /** Writes a signed 64-bit integer as a varint (two's complement, ten bytes if negative). */
  varint64(n: bigint): this {
    this.ensure(10);
    let v = BigInt.asUintN(64, n);
    while (v >= 128n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  tag(field: number, wireType: WireType): this {
    return this.varint(field * 8 + wireType);
  }

  /** Writes a length-delimited field; skipped when empty (proto3 default). */
  bytesField(field: number, value: Uint8Array | undefined): this {
    if (!value || value.length === 0) return this;
    this.tag(field, WireType.len).varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** Writes a string field; skipped when empty. */
  stringField(field: number, value: string | undefined): this {
    if (!value) return this;
    return this.bytesField(field, textEncoder.encode(value));
  }

  /** Writes a string field even when empty (repeated strings keep empty elements). */
  repeatedString(field: number, value: string): this {
    const bytes = textEncoder.encode(value);
    this.tag(field, WireType.len).varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Writes an embedded message field (even when empty: presence matters for messages). */
  messageField(field: number, encoded: Uint8Array): this {
    this.tag(field, WireType.len).varint(encoded.length);
    this.ensure(encoded.length);
    this.buf.set(encoded, this.pos);
    this.pos += encoded.length;
    return this;
  }

  /** Writes a varint field; skipped when zero. */
  uintField(field: number, value: number | undefined): this {
    if (!value) return this;
    return this.tag(field, WireType.varint).varint(value);
  }

  /** Writes an int64 field; skipped when zero. */
  int64Field(field: number, value: bigint | undefined): this {
    if (value === undefined || value === 0n) return this;
    return this.tag(field, WireType.varint).varint64(value);
  }

  /** Writes a bool field; skipped when false. */
  boolField(field: number, value: boolean | undefined): this {
    if (!value) return this;
    return this.tag(field, WireType.varint).varint(1);
  }

  /** Writes a double field (always, for `optional` presence). */
  doubleField(field: number, value: number): this {
    this.tag(field, WireType.i64);
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
    return this;
  }

  /** The encoded message (a view of the internal buffer; valid until the next write). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Writes `n` (non-negative, < 2^53) as a varint at `pos`; returns the new position. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}
