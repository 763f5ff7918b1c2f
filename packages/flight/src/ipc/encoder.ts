/**
 * Arrow record batches → FlightData, with optional LZ4_FRAME or ZSTD bodies.
 *
 * Layout follows the Arrow IPC format (https://arrow.apache.org/docs/format/Columnar.html,
 * "Serialization and Interprocess Communication"): the flatbuffer `Message` goes in
 * `data_header`, the body buffers back to back in `data_body`, each padded to 8 bytes.
 * Compressed buffers carry an int64 prefix with the *uncompressed* length (-1: stored raw);
 * `apache-arrow`'s own writer (v21) writes the compressed length there, which other
 * implementations reject, hence this encoder. The flatbuffer metadata itself is built with
 * `apache-arrow`'s metadata classes.
 */
import { type Data, type RecordBatch, type Schema, Vector } from 'apache-arrow';
import {
  BodyCompression,
  BufferRegion,
  DictionaryBatch,
  Message,
  RecordBatch as RecordBatchHeader,
} from 'apache-arrow/ipc/metadata/message';
import { VectorAssembler } from 'apache-arrow/visitor/vectorassembler';
import type { FlightData } from '../proto/messages.ts';
import { type BodyCodec, type CompressionName, codecForName } from './compression.ts';

/** Bytes of the int64 uncompressed-length prefix of each compressed buffer. */
const LENGTH_PREFIX_BYTES = 8;
/** Prefix value meaning "this buffer is stored uncompressed". */
const UNCOMPRESSED = -1n;
const ZERO_PADDING = new Uint8Array(8);

const padTo8 = (n: number): number => (n + 7) & ~7;

/** Body pieces and the buffer regions describing them. */
interface AssembledBody {
  pieces: Uint8Array[];
  regions: BufferRegion[];
  byteLength: number;
}

function assembleBody(buffers: readonly ArrayBufferView[], codec: BodyCodec | undefined): AssembledBody {
  const pieces: Uint8Array[] = [];
  const regions: BufferRegion[] = [];
  let offset = 0;
  for (const view of buffers) {
    const raw = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    if (raw.byteLength === 0) {
      regions.push(new BufferRegion(offset, 0));
      continue;
    }
    let stored: Uint8Array[];
    if (codec) {
      const compressed = codec.compress(raw);
      const useCompressed = compressed.byteLength < raw.byteLength;
      const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES);
      prefix.writeBigInt64LE(useCompressed ? BigInt(raw.byteLength) : UNCOMPRESSED, 0);
      stored = [prefix, useCompressed ? compressed : raw];
    } else {
      stored = [raw];
    }
    const length = stored.reduce((n, s) => n + s.byteLength, 0);
    regions.push(new BufferRegion(offset, length));
    pieces.push(...stored);
    const padded = padTo8(length);
    if (padded > length) pieces.push(ZERO_PADDING.subarray(0, padded - length));
    offset += padded;
  }
  return { pieces, regions, byteLength: offset };
}

/**
 * Encodes one stream's messages. Holds the dictionaries already sent so a dictionary is
 * re-sent (as a replacement) only when a batch carries a different one, and a dictionary
 * that grew is followed by delta batches of its new chunks.
 */
export class IpcEncoder {
  readonly schema: Schema;
  private readonly codec: BodyCodec | undefined;
  /** Per dictionary id: its first chunk as sent, and how many chunks the reader has. */
  private readonly sentDictionaries = new Map<number, { first: Data; chunks: number }>();

  /** @param compression body compression for record and dictionary batches. */
  constructor(schema: Schema, compression: CompressionName = 'none') {
    this.schema = schema;
    this.codec = codecForName(compression);
  }

  /** The first message of every stream: the schema, header only. */
  schemaMessage(): FlightData {
    return { dataHeader: Message.encode(Message.from(this.schema)) };
  }

  /**
   * The messages for one batch: any new dictionaries, then the record batch (which carries
   * `appMetadata` when given).
   */
  batchMessages(batch: RecordBatch, appMetadata?: Uint8Array): FlightData[] {
    const out: FlightData[] = [];
    for (const [id, dictionary] of batch.dictionaries) {
      const chunks = dictionary?.data ?? [];
      if (chunks.length === 0) continue;
      // Send the chunks the reader lacks: all of them for a new or replaced dictionary (the
      // first as a replacement, the rest as deltas), only the new ones after a delta.
      const sent = this.sentDictionaries.get(id);
      const from = sent && sent.first === chunks[0] ? sent.chunks : 0;
      for (let i = from; i < chunks.length; i++) out.push(this.dictionaryMessage(id, chunks[i]!, i > 0));
      this.sentDictionaries.set(id, { first: chunks[0]!, chunks: chunks.length });
    }
    const { header, body } = this.assemble(batch, batch.numRows);
    const message = Message.from(header, body.byteLength);
    out.push({ dataHeader: Message.encode(message), dataBody: body.pieces, appMetadata });
    return out;
  }

  private dictionaryMessage(id: number, chunk: Data, isDelta: boolean): FlightData {
    const { header, body } = this.assemble(new Vector([chunk]), chunk.length);
    const message = Message.from(new DictionaryBatch(header, id, isDelta), body.byteLength);
    return { dataHeader: Message.encode(message), dataBody: body.pieces };
  }

  /** The body pieces and RecordBatch header of a batch or a dictionary's values. */
  private assemble(
    source: RecordBatch | Vector,
    length: number,
  ): { header: RecordBatchHeader; body: AssembledBody } {
    const assembled = VectorAssembler.assemble(source);
    const body = assembleBody(assembled.buffers, this.codec);
    const header = new RecordBatchHeader(
      length,
      assembled.nodes,
      body.regions,
      this.compression(),
      assembled.variadicBufferCounts,
    );
    return { header, body };
  }

  private compression(): BodyCompression | null {
    return this.codec ? new BodyCompression(this.codec.type) : null;
  }
}

/**
 * A schema as an encapsulated IPC message (continuation marker, int32 metadata length,
 * flatbuffer, padding to 8), the form FlightInfo.schema and SchemaResult.schema carry.
 */
export function encapsulateSchema(schema: Schema): Uint8Array {
  const flatbuffer = Message.encode(Message.from(schema));
  const metadataLength = padTo8(flatbuffer.byteLength + 8) - 8;
  const out = new Uint8Array(8 + metadataLength);
  const view = new DataView(out.buffer);
  view.setInt32(0, -1, true);
  view.setInt32(4, metadataLength, true);
  out.set(flatbuffer, 8);
  return out;
}

/**
 * Frames FlightData messages as an Arrow IPC *stream* (what `RecordBatchReader` and
 * pyarrow's `ipc.open_stream` read), ending with the end-of-stream marker.
 */
export function toIpcStream(messages: readonly FlightData[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of messages) {
    const header = m.dataHeader ?? new Uint8Array(0);
    const metadataLength = padTo8(header.byteLength + 8) - 8;
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setInt32(0, -1, true);
    new DataView(prefix.buffer).setInt32(4, metadataLength, true);
    parts.push(prefix, header, new Uint8Array(metadataLength - header.byteLength));
    const body = m.dataBody;
    if (body instanceof Uint8Array) parts.push(body);
    else if (body) parts.push(...body);
  }
  parts.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0));
  return Buffer.concat(parts);
}
