/**
 * A flatbuffer verifier for the Arrow IPC `Message` header (format/Message.fbs and
 * format/Schema.fbs), run before `apache-arrow` reads the header.
 *
 * Why: the flatbuffers JavaScript runtime never bounds-checks. A read past the end yields
 * zeros, a vector length is whatever four bytes say, and offsets are signed, so one flipped
 * byte can make apache-arrow build millions of `Field`s (the process runs out of heap — found
 * by test/fuzz.test.ts) or walk a cycle of tables. This walks exactly the tables apache-arrow
 * decodes and checks, like the C++ `flatbuffers::Verifier`:
 *
 * - every table, vtable, inline field, vector and string lies inside the header;
 * - tables apache-arrow dereferences without a null check (the message's header, a
 *   dictionary batch's data, the type table of parameterised types) are present;
 * - at most {@link IPC_HEADER_DEPTH_MAX} nested fields and {@link IPC_HEADER_TABLES_MAX}
 *   tables in all, so shared or cyclic offsets cannot multiply the work.
 *
 * Field slots are the schema's field order (slot n sits at vtable offset 4 + 2n).
 */
import { IpcDecodeError } from '../errors.ts';

/** Deepest nesting of `Field.children` accepted (the C++ verifier's default is 64). */
export const IPC_HEADER_DEPTH_MAX = 64;
/** Most tables one header may contain, counted with repeats (a DAG counts every visit). */
export const IPC_HEADER_TABLES_MAX = 100_000;

/** MessageHeader union tags (Message.fbs). */
const MessageHeaderTag = { schema: 1, dictionaryBatch: 2, recordBatch: 3 } as const;

/**
 * Type union tags whose table apache-arrow reads fields from (Schema.fbs `Type`); for the
 * others (Null, Binary, Utf8, Bool, List, Struct_, …) the table may be absent.
 */
const PARAMETERISED_TYPES = new Set([
  2, // Int
  3, // FloatingPoint
  7, // Decimal
  8, // Date
  9, // Time
  10, // Timestamp
  11, // Interval
  14, // Union
  15, // FixedSizeBinary
  16, // FixedSizeList
  17, // Map
  18, // Duration
]);
const TYPE_TIMESTAMP = 10;
const TYPE_UNION = 14;

/** Byte size of the FieldNode and Buffer structs (two int64 each). */
const STRUCT_16_BYTES = 16;

interface Table {
  /** Offset of the table in the header (where its soffset to the vtable sits). */
  readonly pos: number;
  readonly vtable: number;
  readonly vtableBytes: number;
  readonly objectBytes: number;
}

interface VectorRange {
  /** Offset of the first element. */
  readonly start: number;
  readonly count: number;
}

class Verifier {
  private readonly view: DataView;
  private readonly size: number;
  private tablesLeft = IPC_HEADER_TABLES_MAX;

  constructor(bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.byteLength;
  }

  private need(pos: number, bytes: number, what: string): void {
    if (!Number.isSafeInteger(pos) || pos < 0 || bytes < 0 || pos + bytes > this.size) {
      throw new IpcDecodeError(
        `data_header: ${what} at ${pos} (+${bytes}) lies outside the ${this.size}-byte header`,
      );
    }
  }

  private i32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.view.getInt32(pos, true);
  }

  /** The root table: a uoffset at byte 0. */
  root(): Table {
    return this.table(this.i32(0, 'root offset'), 'Message');
  }

  /** Checks the table at `pos` and its vtable; counts it against the table budget. */
  table(pos: number, what: string): Table {
    if (--this.tablesLeft < 0) {
      throw new IpcDecodeError(`data_header has more than ${IPC_HEADER_TABLES_MAX} tables`);
    }
    const vtable = pos - this.i32(pos, `${what} table`);
    this.need(vtable, 4, `${what} vtable`);
    const vtableBytes = this.view.getInt16(vtable, true);
    const objectBytes = this.view.getInt16(vtable + 2, true);
    if (vtableBytes < 4 || vtableBytes % 2 !== 0 || objectBytes < 4) {
      throw new IpcDecodeError(`data_header: ${what} vtable at ${vtable} is malformed`);
    }
    this.need(vtable, vtableBytes, `${what} vtable`);
    this.need(pos, objectBytes, `${what} table`);
    return { pos, vtable, vtableBytes, objectBytes };
  }

  /** Absolute offset of field `slot` (of `bytes` inline bytes), or 0 when absent. */
  field(t: Table, slot: number, bytes: number, what: string): number {
    const entry = 4 + 2 * slot;
    if (entry >= t.vtableBytes) return 0;
    const at = this.view.getInt16(t.vtable + entry, true);
    if (at === 0) return 0;
    if (at < 4 || at + bytes > t.objectBytes) {
      throw new IpcDecodeError(`data_header: ${what} lies outside its table`);
    }
    return t.pos + at;
  }

  /** Follows the offset stored in field `slot` to a sub-table; undefined when absent. */
  subTable(t: Table, slot: number, what: string): Table | undefined {
    const at = this.field(t, slot, 4, what);
    return at === 0 ? undefined : this.table(at + this.i32(at, what), what);
  }

  /** A vector of `elementBytes`-wide elements (strings are vectors of bytes). */
  vector(t: Table, slot: number, elementBytes: number, what: string): VectorRange | undefined {
    const at = this.field(t, slot, 4, what);
    if (at === 0) return undefined;
    const vec = at + this.i32(at, what);
    const count = this.i32(vec, `${what} length`);
    if (count < 0) throw new IpcDecodeError(`data_header: ${what} has negative length ${count}`);
    this.need(vec + 4, count * elementBytes, what);
    return { start: vec + 4, count };
  }

  /** Visits every table of a vector of tables. */
  tables(t: Table, slot: number, what: string, visit: (element: Table) => void): void {
    const range = this.vector(t, slot, 4, what);
    if (!range) return;
    for (let i = 0; i < range.count; i++) {
      const at = range.start + 4 * i;
      visit(this.table(at + this.view.getInt32(at, true), what));
    }
  }

  keyValues(t: Table, slot: number): void {
    this.tables(t, slot, 'custom_metadata', (kv) => {
      this.vector(kv, 0, 1, 'custom_metadata key');
      this.vector(kv, 1, 1, 'custom_metadata value');
    });
  }

  schema(s: Table): void {
    this.field(s, 0, 2, 'Schema.endianness');
    this.tables(s, 1, 'Schema.fields', (f) => this.fieldTable(f, 1));
    this.keyValues(s, 2);
    this.vector(s, 3, 8, 'Schema.features');
  }

  fieldTable(f: Table, depth: number): void {
    if (depth > IPC_HEADER_DEPTH_MAX) {
      throw new IpcDecodeError(`data_header nests fields deeper than ${IPC_HEADER_DEPTH_MAX}`);
    }
    this.vector(f, 0, 1, 'Field.name');
    this.field(f, 1, 1, 'Field.nullable');
    const tagAt = this.field(f, 2, 1, 'Field.type_type');
    const typeTag = tagAt === 0 ? 0 : this.view.getUint8(tagAt);
    const type = this.subTable(f, 3, 'Field.type');
    if (!type && PARAMETERISED_TYPES.has(typeTag)) {
      throw new IpcDecodeError(`data_header: field of type tag ${typeTag} has no type table`);
    }
    if (type) this.typeTable(type, typeTag);
    const dictionary = this.subTable(f, 4, 'Field.dictionary');
    if (dictionary) {
      this.field(dictionary, 0, 8, 'DictionaryEncoding.id');
      const indexType = this.subTable(dictionary, 1, 'DictionaryEncoding.indexType');
      if (indexType) this.typeTable(indexType, 2);
      this.field(dictionary, 2, 1, 'DictionaryEncoding.isOrdered');
      this.field(dictionary, 3, 2, 'DictionaryEncoding.dictionaryKind');
    }
    this.tables(f, 5, 'Field.children', (child) => this.fieldTable(child, depth + 1));
    this.keyValues(f, 6);
  }

  /** Type tables hold only small scalars (at most three int32s), a timezone or type ids. */
  typeTable(t: Table, typeTag: number): void {
    for (let slot = 0; slot < 3; slot++) this.field(t, slot, 1, 'type parameter');
    if (typeTag === TYPE_TIMESTAMP) this.vector(t, 1, 1, 'Timestamp.timezone');
    if (typeTag === TYPE_UNION) this.vector(t, 1, 4, 'Union.typeIds');
  }

  recordBatch(b: Table): void {
    this.field(b, 0, 8, 'RecordBatch.length');
    this.vector(b, 1, STRUCT_16_BYTES, 'RecordBatch.nodes');
    this.vector(b, 2, STRUCT_16_BYTES, 'RecordBatch.buffers');
    const compression = this.subTable(b, 3, 'RecordBatch.compression');
    if (compression) {
      this.field(compression, 0, 1, 'BodyCompression.codec');
      this.field(compression, 1, 1, 'BodyCompression.method');
    }
    this.vector(b, 4, 8, 'RecordBatch.variadicBufferCounts');
  }
}

/**
 * Checks that `header` is a structurally sound Arrow IPC Message flatbuffer, so that
 * apache-arrow's unchecked reader stays inside it and does bounded work.
 *
 * @throws IpcDecodeError naming the first problem found.
 */
export function verifyMessageHeader(header: Uint8Array): void {
  const v = new Verifier(header);
  const message = v.root();
  v.field(message, 0, 2, 'Message.version');
  const tagAt = v.field(message, 1, 1, 'Message.header_type');
  const tag = tagAt === 0 ? 0 : header[tagAt]!;
  const body = v.subTable(message, 2, 'Message.header');
  v.field(message, 3, 8, 'Message.bodyLength');
  v.keyValues(message, 4);
  if (
    tag !== MessageHeaderTag.schema &&
    tag !== MessageHeaderTag.dictionaryBatch &&
    tag !== MessageHeaderTag.recordBatch
  )
    return; // the decoder rejects other message types by name
  if (!body) throw new IpcDecodeError(`data_header: message of type ${tag} has no header table`);
  if (tag === MessageHeaderTag.schema) v.schema(body);
  else if (tag === MessageHeaderTag.recordBatch) v.recordBatch(body);
  else {
    v.field(body, 0, 8, 'DictionaryBatch.id');
    const data = v.subTable(body, 1, 'DictionaryBatch.data');
    if (!data) throw new IpcDecodeError('data_header: dictionary batch has no data');
    v.recordBatch(data);
    v.field(body, 2, 1, 'DictionaryBatch.isDelta');
  }
}
