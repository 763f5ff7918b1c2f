/**
 * Attribute filters of scan and search tickets (DESIGN.md, wire contract):
 *
 * ```
 * Filter := {"field": name, "op": "=|!=|>|>=|<|<=|in|not_in|contains", "value": v}
 *         | {"and": [Filter…]} | {"or": [Filter…]} | {"not": Filter}
 * ```
 * A ticket's `filters` list is an implicit `and`. Comparisons with a null cell are false
 * (SQL's unknown), so `!=` does not match nulls either. `contains` matches a substring of a
 * string column, or an element of a list column.
 *
 * `compileFilter` checks the whole tree against the schema once (unknown fields, unknown
 * ops, values of the wrong kind are INVALID_FILTER naming the problem) and returns a
 * predicate to bind per batch.
 *
 * Binding picks the cheapest way to test a column chunk, all with the same answers (a
 * differential test holds them to the generic path): integer and float columns compare
 * their typed array directly; utf8 equality and `in` compare UTF-8 bytes without decoding;
 * a dictionary column evaluates the leaf once per dictionary entry and then only looks up
 * indices; anything else reads cells through Arrow's `get`. A NaN cell, like a null one,
 * matches no comparison. Measured with bench/filter.bench.ts (331,479 rows): see
 * docs/benchmarks.md.
 */
import { type Data, type DataType, type RecordBatch, type Schema, Type, type Vector } from 'apache-arrow';
import { ErrorCode, LongbowError } from '../errors.ts';

/** A compiled filter: bind to a batch, then test rows. */
export type RowPredicate = (batch: RecordBatch) => (row: number) => boolean;

const COMPARISONS = ['=', '!=', '>', '>=', '<', '<='] as const;
type Comparison = (typeof COMPARISONS)[number];
const OPS = new Set<string>([
  ...COMPARISONS,
  'in',
  'not_in',
  'contains',
  '==',
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
]);
const ALIASES: Record<string, string> = {
  '==': '=',
  eq: '=',
  ne: '!=',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
};

function fail(message: string): never {
  throw new LongbowError(ErrorCode.invalidFilter, message);
}

type Scalar = number | bigint | string | boolean;

/** Orders two cells/values; undefined when they cannot be compared (NaN included). */
function compare(a: unknown, b: Scalar): number | undefined {
  if (Number.isNaN(a) || Number.isNaN(b)) return undefined;
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    const x = toBigIntOrNumber(a);
    const y = toBigIntOrNumber(b);
    if (x === undefined || y === undefined) return undefined;
    if (typeof x === 'bigint' && typeof y === 'bigint') return x < y ? -1 : x > y ? 1 : 0;
    const nx = Number(x);
    const ny = Number(y);
    return nx < ny ? -1 : nx > ny ? 1 : 0;
  }
  if (a instanceof Date) a = a.getTime();
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return undefined;
}

function toBigIntOrNumber(v: unknown): bigint | number | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  return undefined;
}

function kindOf(type: DataType): 'number' | 'string' | 'boolean' | 'list' | 'other' {
  switch (type.typeId) {
    case Type.Int:
    case Type.Float:
    case Type.Timestamp:
    case Type.Date:
    case Type.Decimal:
      return 'number';
    case Type.Utf8:
    case Type.LargeUtf8:
      return 'string';
    case Type.Bool:
      return 'boolean';
    case Type.List:
    case Type.FixedSizeList:
      return 'list';
    case Type.Dictionary:
      return kindOf((type as unknown as { dictionary: DataType }).dictionary);
    default:
      return 'other';
  }
}

function checkScalar(field: string, kind: string, value: unknown): Scalar {
  const ok =
    (kind === 'number' && (typeof value === 'number' || typeof value === 'bigint')) ||
    (kind === 'string' && typeof value === 'string') ||
    (kind === 'boolean' && typeof value === 'boolean');
  if (!ok)
    fail(`filter on "${field}" (${kind}) has a value of type ${value === null ? 'null' : typeof value}`);
  return value as Scalar;
}

/** Options of {@link compileFilter}. */
export interface FilterOptions {
  /**
   * Use the per-column fast paths (default true). False reads every cell through Arrow's
   * `get` — the reference the fast paths are tested against.
   */
  fastPaths?: boolean;
}

/** Compiles filters (a list, implicitly and-ed, or one filter object) against `schema`. */
export function compileFilter(
  filters: unknown,
  schema: Schema,
  options: FilterOptions = {},
): RowPredicate | undefined {
  if (filters === undefined || filters === null) return undefined;
  const fast = options.fastPaths ?? true;
  if (Array.isArray(filters)) {
    if (filters.length === 0) return undefined;
    return compileNode({ and: filters }, schema, fast);
  }
  return compileNode(filters, schema, fast);
}

function compileNode(node: unknown, schema: Schema, fast: boolean): RowPredicate {
  if (typeof node !== 'object' || node === null || Array.isArray(node))
    fail(`filter must be an object, got ${JSON.stringify(node)}`);
  const n = node as Record<string, unknown>;
  if ('and' in n || 'or' in n) {
    const key = 'and' in n ? 'and' : 'or';
    const list = n[key];
    if (!Array.isArray(list) || list.length === 0) fail(`"${key}" needs a non-empty list of filters`);
    const parts = list.map((c) => compileNode(c, schema, fast));
    // `and` stops at the first false part, `or` at the first true one.
    const decisive = key === 'or';
    return (batch) => {
      const bound = parts.map((p) => p(batch));
      return (row) => {
        for (let i = 0; i < bound.length; i++) if (bound[i]!(row) === decisive) return decisive;
        return !decisive;
      };
    };
  }
  if ('not' in n) {
    const inner = compileNode(n.not, schema, fast);
    return (batch) => {
      const f = inner(batch);
      return (row) => !f(row);
    };
  }
  return compileLeaf(n, schema, fast);
}

/** What a compiled leaf knows: how to test one cell, and what a fast path needs. */
interface Leaf {
  /** The generic test of a cell value (null and undefined never match). */
  cell(value: unknown): boolean;
  /** Plain comparison (`=`, `<`, …) with a number or bigint value: typed-array fast path. */
  numeric?: { op: Comparison; value: number | bigint };
  /** Equality against a set of strings (`=`, `!=`, `in`, `not_in`): byte fast path. */
  strings?: { values: string[]; negate: boolean };
}

function compileLeaf(n: Record<string, unknown>, schema: Schema, fast: boolean): RowPredicate {
  const index = leafField(n, schema);
  const leaf = leafTest(n, schema, index);
  return (batch) => {
    const col: Vector = batch.getChildAt(index)!;
    const data = col.data.length === 1 ? col.data[0] : undefined;
    const bound = fast && data ? bindFast(leaf, data) : undefined;
    return bound ?? ((row) => leaf.cell(col.get(row)));
  };
}

/** The schema index of a leaf's field (INVALID_FILTER when the leaf is malformed). */
function leafField(n: Record<string, unknown>, schema: Schema): number {
  const field = n.field;
  if (typeof field !== 'string') fail(`filter needs "field", "op" and "value"; got ${JSON.stringify(n)}`);
  const rawOp = n.op;
  if (typeof rawOp !== 'string' || !OPS.has(rawOp)) {
    fail(
      `filter on "${field}" has unknown op ${JSON.stringify(rawOp)} (use = != > >= < <= in not_in contains)`,
    );
  }
  const index = schema.fields.findIndex((f) => f.name === field);
  if (index < 0)
    fail(`filter names unknown field "${field}" (fields: ${schema.fields.map((f) => f.name).join(', ')})`);
  return index;
}

/** Checks a leaf's op and value against its field and builds its tests. */
function leafTest(n: Record<string, unknown>, schema: Schema, index: number): Leaf {
  const field = n.field as string;
  const op = ALIASES[n.op as string] ?? (n.op as string);
  const kind = kindOf(schema.fields[index]!.type);

  if (op === 'in' || op === 'not_in') {
    if (!Array.isArray(n.value)) fail(`"${op}" on "${field}" needs a list value`);
    const values = (n.value as unknown[]).map((v) => checkScalar(field, kind, v));
    const negate = op === 'not_in';
    return {
      cell: (cell) => {
        if (cell === null || cell === undefined) return false;
        const found = values.some((v) => compare(cell, v) === 0);
        return negate ? !found : found;
      },
      strings: kind === 'string' ? { values: values as string[], negate } : undefined,
    };
  }
  if (op === 'contains') {
    if (kind === 'string') {
      const needle = checkScalar(field, kind, n.value) as string;
      return { cell: (cell) => typeof cell === 'string' && cell.includes(needle) };
    }
    if (kind === 'list') {
      const needle = n.value as Scalar;
      return {
        cell: (cell) => {
          if (!cell) return false;
          for (const item of cell as Iterable<unknown>) if (compare(item, needle) === 0) return true;
          return false;
        },
      };
    }
    fail(`"contains" needs a string or list field; "${field}" is ${kind}`);
  }
  if (kind === 'other' || kind === 'list') fail(`field "${field}" cannot be compared with "${op}"`);
  const value = checkScalar(field, kind, n.value);
  const comparison = op as Comparison;
  const test = comparisonTest(comparison);
  return {
    cell: (cell) => {
      if (cell === null || cell === undefined) return false;
      const c = compare(cell, value);
      return c !== undefined && test(c);
    },
    numeric: typeof value === 'number' || typeof value === 'bigint' ? { op: comparison, value } : undefined,
    strings:
      kind === 'string' && (comparison === '=' || comparison === '!=')
        ? { values: [value as string], negate: comparison === '!=' }
        : undefined,
  };
}

/**
 * Row validity of a column chunk (bit set = valid); undefined when it has no null bitmap.
 * Arrow JS slices value and offset buffers with the chunk, but not the validity bitmap,
 * which stays indexed from `data.offset` (as `Data.getValid` reads it).
 */
function validity(data: Data): ((row: number) => boolean) | undefined {
  const bits = data.nullBitmap;
  if (!bits || bits.length === 0 || data.nullCount === 0) return undefined;
  const offset = data.offset;
  return (row) => {
    const i = offset + row;
    return ((bits[i >> 3]! >> (i & 7)) & 1) === 1;
  };
}

/** A fast test of `leaf` on one column chunk, or undefined to use the generic path. */
function bindFast(leaf: Leaf, data: Data): ((row: number) => boolean) | undefined {
  const typeId = data.type.typeId;
  if (typeId === Type.Dictionary && data.dictionary) {
    // Each dictionary entry is tested once; rows only look up their index.
    const dict = data.dictionary;
    const table = new Uint8Array(dict.length);
    for (let i = 0; i < dict.length; i++) table[i] = leaf.cell(dict.get(i)) ? 1 : 0;
    const indices = data.values as ArrayLike<number>;
    const valid = validity(data);
    return valid ? (row) => valid(row) && table[indices[row]!] === 1 : (row) => table[indices[row]!] === 1;
  }
  if (typeId === Type.Int || typeId === Type.Float) return leaf.numeric && numericTest(leaf.numeric, data);
  if (typeId === Type.Utf8) return leaf.strings && utf8Test(leaf.strings, data);
  return undefined;
}

/** Comparison on an integer or float column's typed array (NaN matches nothing). */
function numericTest(
  { op, value }: { op: Comparison; value: number | bigint },
  data: Data,
): ((row: number) => boolean) | undefined {
  const values = data.values as ArrayLike<number | bigint> & { BYTES_PER_ELEMENT?: number };
  const isBig = values instanceof BigInt64Array || values instanceof BigUint64Array;
  const isNum =
    values instanceof Float64Array ||
    values instanceof Float32Array ||
    values instanceof Int32Array ||
    values instanceof Int16Array ||
    values instanceof Int8Array ||
    values instanceof Uint32Array ||
    values instanceof Uint16Array ||
    values instanceof Uint8Array;
  // Float16 is stored as raw half-precision bits (a Uint16Array): the generic path decodes it.
  if ((!isBig && !isNum) || (data.type.typeId === Type.Float && values instanceof Uint16Array))
    return undefined;
  if (isBig && typeof value === 'number' && !Number.isInteger(value)) return undefined;
  const x: number | bigint = isBig ? BigInt(value) : Number(value);
  const v = values as unknown as { [i: number]: number | bigint };
  let test: (row: number) => boolean;
  switch (op) {
    case '=':
      test = (row) => v[row] === x;
      break;
    case '!=':
      test = (row) => {
        const c = v[row]!;
        return c !== x && !Number.isNaN(c);
      };
      break;
    case '<':
      test = (row) => v[row]! < x;
      break;
    case '<=':
      test = (row) => v[row]! <= x;
      break;
    case '>':
      test = (row) => v[row]! > x;
      break;
    case '>=':
      test = (row) => v[row]! >= x;
      break;
  }
  const valid = validity(data);
  return valid ? (row) => valid(row) && test(row) : test;
}

const utf8 = new TextEncoder();

/** `=`/`!=`/`in`/`not_in` on a utf8 column: compares the stored UTF-8 bytes, no decoding. */
function utf8Test(
  { values, negate }: { values: string[]; negate: boolean },
  data: Data,
): ((row: number) => boolean) | undefined {
  const offsets = data.valueOffsets as Int32Array | undefined;
  const bytes = data.values as Uint8Array | undefined;
  if (!(offsets instanceof Int32Array) || !(bytes instanceof Uint8Array)) return undefined;
  const needles = values.map((v) => utf8.encode(v));
  const matches = (row: number): boolean => {
    const start = offsets[row]!;
    const length = offsets[row + 1]! - start;
    for (const needle of needles) {
      if (needle.length !== length) continue;
      let i = 0;
      while (i < length && bytes[start + i] === needle[i]) i++;
      if (i === length) return true;
    }
    return false;
  };
  const valid = validity(data);
  if (negate) return valid ? (row) => valid(row) && !matches(row) : (row) => !matches(row);
  return valid ? (row) => valid(row) && matches(row) : matches;
}

function comparisonTest(op: Comparison): (c: number) => boolean {
  switch (op) {
    case '=':
      return (c) => c === 0;
    case '!=':
      return (c) => c !== 0;
    case '>':
      return (c) => c > 0;
    case '>=':
      return (c) => c >= 0;
    case '<':
      return (c) => c < 0;
    case '<=':
      return (c) => c <= 0;
  }
}
