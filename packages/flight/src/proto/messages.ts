/**
 * Hand-written codecs for the Arrow Flight protocol messages (Flight.proto beside this
 * file; field numbers are the protocol). FlightData, the message that carries data, is
 * sized exactly and written with a single allocation; decoding leaves its header and body
 * as views of the received buffer.
 */
import { ProtoReader, ProtoWriter, varintSize, WireType, writeVarint } from './wire.ts';

/** FlightDescriptor.DescriptorType. */
export const DescriptorType = { unknown: 0, path: 1, cmd: 2 } as const;
export type DescriptorType = (typeof DescriptorType)[keyof typeof DescriptorType];

/** Identifies a flight: a path (e.g. `[dataset]`) or an opaque command. */
export interface FlightDescriptor {
  type: DescriptorType;
  cmd?: Uint8Array;
  path?: string[];
}

/** An opaque ticket a server hands out and later redeems in DoGet. */
export interface Ticket {
  ticket: Uint8Array;
}

/** google.protobuf.Timestamp. */
export interface Timestamp {
  seconds: bigint;
  nanos: number;
}

/** Where a ticket can be redeemed: `grpc+tcp://host:port` URIs. */
export interface Location {
  uri: string;
}

export interface FlightEndpoint {
  ticket?: Ticket;
  location?: Location[];
  expirationTime?: Timestamp;
  appMetadata?: Uint8Array;
}

/**
 * Describes a flight. `schema` is an encapsulated Arrow IPC Schema message;
 * `totalRecords`/`totalBytes` are -1 when unknown.
 */
export interface FlightInfo {
  schema?: Uint8Array;
  flightDescriptor?: FlightDescriptor;
  endpoint?: FlightEndpoint[];
  totalRecords?: bigint;
  totalBytes?: bigint;
  ordered?: boolean;
  appMetadata?: Uint8Array;
}

export interface PollInfo {
  info?: FlightInfo;
  flightDescriptor?: FlightDescriptor;
  progress?: number;
  expirationTime?: Timestamp;
}

/**
 * One unit of a data stream. `dataHeader` is a flatbuffer Arrow IPC Message;
 * `dataBody` is its body, either one buffer or pieces written back to back (the
 * encoder's padded buffers, so they are never concatenated twice).
 */
export interface FlightData {
  flightDescriptor?: FlightDescriptor;
  dataHeader?: Uint8Array;
  appMetadata?: Uint8Array;
  dataBody?: Uint8Array | readonly Uint8Array[];
}

export interface PutResult {
  appMetadata?: Uint8Array;
}

export interface Action {
  type: string;
  body?: Uint8Array;
}

export interface ActionType {
  type: string;
  description?: string;
}

export interface Result {
  body?: Uint8Array;
}

export interface Criteria {
  expression?: Uint8Array;
}

export interface SchemaResult {
  schema?: Uint8Array;
}

export interface HandshakeMessage {
  protocolVersion?: number;
  payload?: Uint8Array;
}

export type Empty = Record<string, never>;

/** An encode/decode pair for one message type. */
export interface Codec<T> {
  encode(value: T): Buffer;
  decode(buf: Uint8Array): T;
}

function decodeWith<T>(
  buf: Uint8Array,
  init: T,
  onField: (r: ProtoReader, field: number, msg: T) => boolean,
): T {
  const r = new ProtoReader(buf);
  while (r.more()) {
    const { field, wireType } = r.tag();
    if (!onField(r, field, init)) r.skip(wireType);
  }
  return init;
}

// --- FlightDescriptor -------------------------------------------------------------------

export function encodeFlightDescriptor(d: FlightDescriptor): Buffer {
  const w = new ProtoWriter(64);
  w.uintField(1, d.type);
  w.bytesField(2, d.cmd);
  for (const p of d.path ?? []) w.repeatedString(3, p);
  return Buffer.from(w.finish());
}

export function decodeFlightDescriptor(buf: Uint8Array): FlightDescriptor {
  const path: string[] = [];
  const d = decodeWith<FlightDescriptor>(buf, { type: DescriptorType.unknown }, (r, f, m) => {
    if (f === 1) m.type = r.varint() as DescriptorType;
    else if (f === 2) m.cmd = r.bytes();
    else if (f === 3) path.push(r.string());
    else return false;
    return true;
  });
  if (path.length > 0) d.path = path;
  return d;
}

// --- Timestamp, Location, Ticket, FlightEndpoint, FlightInfo -----------------------------

function encodeTimestamp(t: Timestamp): Buffer {
  const w = new ProtoWriter(24);
  w.int64Field(1, t.seconds);
  w.uintField(2, t.nanos);
  return Buffer.from(w.finish());
}

function decodeTimestamp(buf: Uint8Array): Timestamp {
  return decodeWith<Timestamp>(buf, { seconds: 0n, nanos: 0 }, (r, f, m) => {
    if (f === 1) m.seconds = r.varint64();
    else if (f === 2) m.nanos = Number(r.varint64());
    else return false;
    return true;
  });
}

export function encodeTicket(t: Ticket): Buffer {
  return Buffer.from(new ProtoWriter(t.ticket.length + 8).bytesField(1, t.ticket).finish());
}

export function decodeTicket(buf: Uint8Array): Ticket {
  return decodeWith<Ticket>(buf, { ticket: new Uint8Array(0) }, (r, f, m) => {
    if (f !== 1) return false;
    m.ticket = r.bytes();
    return true;
  });
}

function encodeEndpoint(e: FlightEndpoint): Buffer {
  const w = new ProtoWriter(128);
  if (e.ticket) w.messageField(1, encodeTicket(e.ticket));
  for (const loc of e.location ?? []) w.messageField(2, new ProtoWriter(64).stringField(1, loc.uri).finish());
  if (e.expirationTime) w.messageField(3, encodeTimestamp(e.expirationTime));
  w.bytesField(4, e.appMetadata);
  return Buffer.from(w.finish());
}

function decodeEndpoint(buf: Uint8Array): FlightEndpoint {
  const location: Location[] = [];
  const e = decodeWith<FlightEndpoint>(buf, {}, (r, f, m) => {
    if (f === 1) m.ticket = decodeTicket(r.bytes());
    else if (f === 2) {
      const loc = decodeWith<Location>(r.bytes(), { uri: '' }, (lr, lf, lm) => {
        if (lf !== 1) return false;
        lm.uri = lr.string();
        return true;
      });
      location.push(loc);
    } else if (f === 3) m.expirationTime = decodeTimestamp(r.bytes());
    else if (f === 4) m.appMetadata = r.bytes();
    else return false;
    return true;
  });
  e.location = location;
  return e;
}

export function encodeFlightInfo(info: FlightInfo): Buffer {
  const w = new ProtoWriter(512);
  w.bytesField(1, info.schema);
  if (info.flightDescriptor) w.messageField(2, encodeFlightDescriptor(info.flightDescriptor));
  for (const e of info.endpoint ?? []) w.messageField(3, encodeEndpoint(e));
  w.int64Field(4, info.totalRecords);
  w.int64Field(5, info.totalBytes);
  w.boolField(6, info.ordered);
  w.bytesField(7, info.appMetadata);
  return Buffer.from(w.finish());
}

export function decodeFlightInfo(buf: Uint8Array): FlightInfo {
  const endpoint: FlightEndpoint[] = [];
  const info = decodeWith<FlightInfo>(buf, { totalRecords: 0n, totalBytes: 0n }, (r, f, m) => {
    if (f === 1) m.schema = r.bytes();
    else if (f === 2) m.flightDescriptor = decodeFlightDescriptor(r.bytes());
    else if (f === 3) endpoint.push(decodeEndpoint(r.bytes()));
    else if (f === 4) m.totalRecords = r.varint64();
    else if (f === 5) m.totalBytes = r.varint64();
    else if (f === 6) m.ordered = r.varint() !== 0;
    else if (f === 7) m.appMetadata = r.bytes();
    else return false;
    return true;
  });
  info.endpoint = endpoint;
  return info;
}

export function encodePollInfo(p: PollInfo): Buffer {
  const w = new ProtoWriter(512);
  if (p.info) w.messageField(1, encodeFlightInfo(p.info));
  if (p.flightDescriptor) w.messageField(2, encodeFlightDescriptor(p.flightDescriptor));
  if (p.progress !== undefined) w.doubleField(3, p.progress);
  if (p.expirationTime) w.messageField(4, encodeTimestamp(p.expirationTime));
  return Buffer.from(w.finish());
}

export function decodePollInfo(buf: Uint8Array): PollInfo {
  return decodeWith<PollInfo>(buf, {}, (r, f, m) => {
    if (f === 1) m.info = decodeFlightInfo(r.bytes());
    else if (f === 2) m.flightDescriptor = decodeFlightDescriptor(r.bytes());
    else if (f === 3) m.progress = r.double();
    else if (f === 4) m.expirationTime = decodeTimestamp(r.bytes());
    else return false;
    return true;
  });
}

// --- FlightData: the hot path ------------------------------------------------------------

const FLIGHT_DATA_BODY_TAG = 1000 * 8 + WireType.len; // 8002, a two-byte varint

function bodyLength(body: FlightData['dataBody']): number {
  if (!body) return 0;
  if (body instanceof Uint8Array) return body.length;
  let n = 0;
  for (const piece of body) n += piece.length;
  return n;
}

/**
 * Encodes FlightData with one allocation of the exact size: descriptor, header, metadata,
 * then the body pieces copied straight into place.
 */
export function encodeFlightData(d: FlightData): Buffer {
  const descriptor = d.flightDescriptor ? encodeFlightDescriptor(d.flightDescriptor) : undefined;
  const header = d.dataHeader;
  const meta = d.appMetadata;
  const bodyLen = bodyLength(d.dataBody);
  let size = 0;
  if (descriptor) size += 1 + varintSize(descriptor.length) + descriptor.length;
  if (header && header.length > 0) size += 1 + varintSize(header.length) + header.length;
  if (meta && meta.length > 0) size += 1 + varintSize(meta.length) + meta.length;
  if (bodyLen > 0) size += varintSize(FLIGHT_DATA_BODY_TAG) + varintSize(bodyLen) + bodyLen;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  const put = (tag: number, bytes: Uint8Array): void => {
    pos = writeVarint(out, pos, tag);
    pos = writeVarint(out, pos, bytes.length);
    out.set(bytes, pos);
    pos += bytes.length;
  };
  if (descriptor) put(1 * 8 + WireType.len, descriptor);
  if (header && header.length > 0) put(2 * 8 + WireType.len, header);
  if (meta && meta.length > 0) put(3 * 8 + WireType.len, meta);
  if (bodyLen > 0) {
    pos = writeVarint(out, pos, FLIGHT_DATA_BODY_TAG);
    pos = writeVarint(out, pos, bodyLen);
    if (d.dataBody instanceof Uint8Array) {
      out.set(d.dataBody, pos);
      pos += d.dataBody.length;
    } else {
      for (const piece of d.dataBody!) {
        out.set(piece, pos);
        pos += piece.length;
      }
    }
  }
  return out;
}

/** Decodes FlightData; header, metadata and body are views of `buf` (no copy). */
export function decodeFlightData(buf: Uint8Array): FlightData {
  return decodeWith<FlightData>(buf, {}, (r, f, m) => {
    if (f === 1) m.flightDescriptor = decodeFlightDescriptor(r.bytes());
    else if (f === 2) m.dataHeader = r.bytes();
    else if (f === 3) m.appMetadata = r.bytes();
    else if (f === 1000) m.dataBody = r.bytes();
    else return false;
    return true;
  });
}

// --- Small messages ----------------------------------------------------------------------

function singleBytesCodec<T extends object>(key: keyof T & string): Codec<T> {
  return {
    encode: (v) => {
      const value = v[key as keyof T] as Uint8Array | undefined;
      return Buffer.from(new ProtoWriter((value?.length ?? 0) + 8).bytesField(1, value).finish());
    },
    decode: (buf) =>
      decodeWith<T>(buf, {} as T, (r, f, m) => {
        if (f !== 1) return false;
        (m as Record<string, unknown>)[key] = r.bytes();
        return true;
      }),
  };
}

export const PutResultCodec: Codec<PutResult> = singleBytesCodec<PutResult>('appMetadata');
export const ResultCodec: Codec<Result> = singleBytesCodec<Result>('body');
export const CriteriaCodec: Codec<Criteria> = singleBytesCodec<Criteria>('expression');
export const SchemaResultCodec: Codec<SchemaResult> = singleBytesCodec<SchemaResult>('schema');

export const ActionCodec: Codec<Action> = {
  encode: (a) => Buffer.from(new ProtoWriter(64).stringField(1, a.type).bytesField(2, a.body).finish()),
  decode: (buf) =>
    decodeWith<Action>(buf, { type: '' }, (r, f, m) => {
      if (f === 1) m.type = r.string();
      else if (f === 2) m.body = r.bytes();
      else return false;
      return true;
    }),
};

export const ActionTypeCodec: Codec<ActionType> = {
  encode: (a) =>
    Buffer.from(new ProtoWriter(128).stringField(1, a.type).stringField(2, a.description).finish()),
  decode: (buf) =>
    decodeWith<ActionType>(buf, { type: '' }, (r, f, m) => {
      if (f === 1) m.type = r.string();
      else if (f === 2) m.description = r.string();
      else return false;
      return true;
    }),
};

export const HandshakeCodec: Codec<HandshakeMessage> = {
  encode: (h) =>
    Buffer.from(new ProtoWriter(64).uintField(1, h.protocolVersion).bytesField(2, h.payload).finish()),
  decode: (buf) =>
    decodeWith<HandshakeMessage>(buf, {}, (r, f, m) => {
      if (f === 1) {
        m.protocolVersion = r.varint();
      } else if (f === 2) {
        m.payload = r.bytes();
      } else return false;
      return true;
    }),
};

export const EmptyCodec: Codec<Empty> = {
  encode: () => Buffer.alloc(0),
  decode: () => ({}),
};

export const FlightDescriptorCodec: Codec<FlightDescriptor> = {
  encode: encodeFlightDescriptor,
  decode: decodeFlightDescriptor,
};
export const TicketCodec: Codec<Ticket> = { encode: encodeTicket, decode: decodeTicket };
export const FlightInfoCodec: Codec<FlightInfo> = { encode: encodeFlightInfo, decode: decodeFlightInfo };
export const PollInfoCodec: Codec<PollInfo> = { encode: encodePollInfo, decode: decodePollInfo };
export const FlightDataCodec: Codec<FlightData> = { encode: encodeFlightData, decode: decodeFlightData };
