/**
 * FlightData → Arrow schema and record batches (the reverse of encoder.ts).
 *
 * Zero-copy: record batch columns are views of the received body, except when the body
 * sits at an offset that is not a multiple of 8 (typed arrays need aligned views), in which
 * case the body is copied once into an aligned buffer. Compressed bodies (LZ4_FRAME, ZSTD)
 * are decompressed buffer by buffer.
 *
 * Malformed input becomes an `IpcDecodeError` naming the problem, in three layers: the
 * header flatbuffer is verified before apache-arrow reads it (header-verifier.ts), buffer
 * regions are checked against the body before any column is built, and every column is
 * checked against its buffers before the batch is returned (batch-validator.ts).
 */
import {
  type DataType,
  makeData,
  RecordBatch,
  type Schema,
  Struct,
  type Vector,
  Vector as VectorClass,
} from 'apache-arrow';
import { MessageHeader } from 'apache-arrow/enum';
import {
  BufferRegion,
  type DictionaryBatch,
  Message,
  type RecordBatch as RecordBatchHeader,
} from 'apache-arrow/ipc/metadata/message';
import { CompressedVectorLoader, VectorLoader } from 'apache-arrow/visitor/vectorloader';
import { IpcDecodeError } from '../errors.ts';
import type { FlightData } from '../proto/messages.ts';
import { validateData } from './batch-validator.ts';
import { codecForType } from './compression.ts';
import { verifyMessageHeader } from './header-verifier.ts';

/** What one FlightData message turned out to be. */
export type Decoded =
  | { kind: 'schema'; schema: Schema }
  | { kind: 'batch'; batch: RecordBatch }
  | { kind: 'dictionary'; id: number }
  | { kind: 'empty' };

const EMPTY: Uint8Array = new Uint8Array(0);

function aligned(body: Uint8Array): Uint8Array {
  if (body.byteOffset % 8 === 0) return body;
  const copy = new Uint8Array(body.byteLength);
  copy.set(body);
  return copy;
}

function alignedChunk(chunk: Uint8Array): Uint8Array {
  return chunk.byteOffset % 8 === 0 ? chunk : aligned(chunk);
}

/**
 * Decodes the messages of one stream in order. Holds the schema and the dictionaries
 * seen so far, as the IPC stream format requires.
 */
export class IpcDecoder {
  schema: Schema | undefined;
  readonly dictionaries = new Map<number, Vector>();

  /** Decodes one message; throws IpcDecodeError on malformed input. */
  decode(data: FlightData): Decoded {
    const header = data.dataHeader;
    if (!header || header.byteLength === 0) return { kind: 'empty' };
    verifyMessageHeader(header);
    let message: Message;
    try {
      message = Message.decode(header);
    } catch (err) {
      throw new IpcDecodeError(`data_header is not an Arrow IPC message: ${(err as Error).message}`);
    }
    const body = data.dataBody instanceof Uint8Array ? data.dataBody : EMPTY;
    if (message.bodyLength > body.byteLength) {
      throw new IpcDecodeError(
        `IPC header announces a ${message.bodyLength}-byte body but data_body has ${body.byteLength} bytes`,
      );
    }
    switch (message.headerType) {
      case MessageHeader.Schema:
        return this.onSchema(readHeader<Schema>(message));
      case MessageHeader.RecordBatch:
        return { kind: 'batch', batch: this.onRecordBatch(readHeader<RecordBatchHeader>(message), body) };
      case MessageHeader.DictionaryBatch:
        return { kind: 'dictionary', id: this.onDictionary(readHeader<DictionaryBatch>(message), body) };
      default:
        throw new IpcDecodeError(`unsupported IPC message type ${message.headerType}`);
    }
  }

  private onSchema(schema: Schema): Decoded {
    if (!schema || !Array.isArray(schema.fields))
      throw new IpcDecodeError('IPC schema message has no fields');
    this.schema = schema;
    this.dictionaries.clear();
    return { kind: 'schema', schema };
  }

  private requireSchema(): Schema {
    if (!this.schema) throw new IpcDecodeError('record batch before the schema message');
    return this.schema;
  }

  private onRecordBatch(header: RecordBatchHeader, body: Uint8Array): RecordBatch {
    const schema = this.requireSchema();
    for (const id of schema.dictionaries.keys()) {
      if (!this.dictionaries.has(id))
        throw new IpcDecodeError(`record batch before the dictionary batch for dictionary id ${id}`);
    }
    const children = this.loadChildren(
      header,
      body,
      schema.fields.map((f) => f.type),
    );
    children.forEach((column, i) => {
      const name = schema.fields[i]!.name;
      if (column.length !== header.length) {
        throw new IpcDecodeError(
          `column ${name} has ${column.length} rows, the record batch ${header.length}`,
        );
      }
      validateData(column, name);
    });
    const data = makeData({ type: new Struct(schema.fields), length: header.length, children, nullCount: 0 });
    return new RecordBatch(schema, data);
  }

  private onDictionary(header: DictionaryBatch, body: Uint8Array): number {
    const schema = this.requireSchema();
    const type = schema.dictionaries.get(header.id);
    if (!type) throw new IpcDecodeError(`dictionary batch for unknown dictionary id ${header.id}`);
    const data = this.loadChildren(header.data, body, [type]);
    if (data[0]) validateData(data[0], `dictionary ${header.id}`);
    const incoming = new VectorClass(data);
    const previous = this.dictionaries.get(header.id);
    this.dictionaries.set(header.id, header.isDelta && previous ? previous.concat(incoming) : incoming);
    return header.id;
  }

  private loadChildren(header: RecordBatchHeader, body: Uint8Array, types: DataType[]) {
    checkRegions(header, body);
    const version = this.requireSchema().metadataVersion;
    try {
      if (header.compression == null) {
        return new VectorLoader(
          aligned(body),
          header.nodes,
          header.buffers,
          this.dictionaries,
          version,
          header.variadicBufferCounts,
        ).visitMany(types);
      }
      const codec = codecForType(header.compression.type);
      if (!codec) throw new IpcDecodeError(`unsupported IPC body compression ${header.compression.type}`);
      const chunks: Uint8Array[] = [];
      const regions: BufferRegion[] = [];
      let offset = 0;
      for (const { offset: at, length } of header.buffers) {
        let chunk: Uint8Array = EMPTY;
        if (length > 0) {
          if (length < 8)
            throw new IpcDecodeError(`compressed buffer of ${length} bytes has no length prefix`);
          const view = new DataView(body.buffer, body.byteOffset + at, 8);
          const uncompressedLength = view.getBigInt64(0, true);
          const payload = body.subarray(at + 8, at + length);
          chunk =
            uncompressedLength === -1n ? alignedChunk(payload) : alignedChunk(codec.decompress(payload));
          if (uncompressedLength !== -1n && BigInt(chunk.byteLength) !== uncompressedLength) {
            throw new IpcDecodeError(
              `compressed buffer decompressed to ${chunk.byteLength} bytes, prefix says ${uncompressedLength}`,
            );
          }
        }
        chunks.push(chunk);
        regions.push(new BufferRegion(offset, chunk.byteLength));
        offset += (chunk.byteLength + 7) & ~7;
      }
      return new CompressedVectorLoader(
        chunks,
        header.nodes,
        regions,
        this.dictionaries,
        version,
        header.variadicBufferCounts,
      ).visitMany(types);
    } catch (err) {
      if (err instanceof IpcDecodeError) throw err;
      throw new IpcDecodeError(`record batch body cannot be decoded: ${(err as Error).message}`);
    }
  }
}

/** The message's decoded header; apache-arrow's own errors (bad type ids, int64 overflow) become IpcDecodeError. */
function readHeader<T>(message: Message): T {
  try {
    return message.header() as T;
  } catch (err) {
    throw new IpcDecodeError(
      `IPC ${MessageHeader[message.headerType]} header cannot be read: ${(err as Error).message}`,
    );
  }
}

function checkRegions(header: RecordBatchHeader, body: Uint8Array): void {
  if (!Number.isSafeInteger(header.length) || header.length < 0) {
    throw new IpcDecodeError(`record batch length ${header.length} is invalid`);
  }
  for (const { offset, length } of header.buffers) {
    if (offset < 0 || length < 0 || offset + length > body.byteLength) {
      throw new IpcDecodeError(
        `IPC buffer [${offset}, ${offset + length}) lies outside the ${body.byteLength}-byte body`,
      );
    }
  }
  for (const node of header.nodes) {
    if (node.length < 0 || node.nullCount < 0 || node.nullCount > node.length) {
      throw new IpcDecodeError(`IPC field node (length ${node.length}, nulls ${node.nullCount}) is invalid`);
    }
  }
}

/**
 * Reads an encapsulated IPC schema message (FlightInfo.schema, SchemaResult.schema).
 * Accepts both the continuation-marker form and the legacy 4-byte length form.
 */
export function decodeEncapsulatedSchema(bytes: Uint8Array): Schema {
  if (bytes.byteLength < 8) throw new IpcDecodeError('schema bytes too short for an IPC message');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getInt32(0, true);
  const start = first === -1 ? 8 : 4;
  const length = first === -1 ? view.getInt32(4, true) : first;
  if (length <= 0 || start + length > bytes.byteLength)
    throw new IpcDecodeError('schema message length out of range');
  const message = Message.decode(bytes.subarray(start, start + length));
  if (message.headerType !== MessageHeader.Schema) throw new IpcDecodeError('IPC message is not a schema');
  return message.header() as Schema;
}
