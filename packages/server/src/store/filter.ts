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
 */
import { type DataType, type RecordBatch, type Schema, Type, type Vector } from 'apache-arrow';
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

/** Orders two cells/values; undefined when they cannot be compared. */
function compare(a: unknown, b: Scalar): number | undefined {
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

/** Compiles filters (a list, implicitly and-ed, or one filter object) against `schema`. */
export function compileFilter(filters: unknown, schema: Schema): RowPredicate | undefined {
  if (filters === undefined || filters === null) return undefined;
  if (Array.isArray(filters)) {
    if (filters.length === 0) return undefined;
    return compileNode({ and: filters }, schema);
  }
  return compileNode(filters, schema);
}

function compileNode(node: unknown, schema: Schema): RowPredicate {
  if (typeof node !== 'object' || node === null || Array.isArray(node))
    fail(`filter must be an object, got ${JSON.stringify(node)}`);
  const n = node as Record<string, unknown>;
  if ('and' in n || 'or' in n) {
    const key = 'and' in n ? 'and' : 'or';
    const list = n[key];
    if (!Array.isArray(list) || list.length === 0) fail(`"${key}" needs a non-empty list of filters`);
    const parts = list.map((c) => compileNode(c, schema));
    return key === 'and'
      ? (batch) => {
          const bound = parts.map((p) => p(batch));
          return (row) => bound.every((f) => f(row));
        }
      : (batch) => {
          const bound = parts.map((p) => p(batch));
          return (row) => bound.some((f) => f(row));
        };
  }
  if ('not' in n) {
    const inner = compileNode(n.not, schema);
    return (batch) => {
      const f = inner(batch);
      return (row) => !f(row);
    };
  }
  return compileLeaf(n, schema);
}

function compileLeaf(n: Record<string, unknown>, schema: Schema): RowPredicate {
  const field = n.field;
  if (typeof field !== 'string') fail(`filter needs "field", "op" and "value"; got ${JSON.stringify(n)}`);
  const rawOp = n.op;
  if (typeof rawOp !== 'string' || !OPS.has(rawOp)) {
    fail(
      `filter on "${field}" has unknown op ${JSON.stringify(rawOp)} (use = != > >= < <= in not_in contains)`,
    );
  }
  const op = ALIASES[rawOp] ?? rawOp;
  const index = schema.fields.findIndex((f) => f.name === field);
  if (index < 0)
    fail(`filter names unknown field "${field}" (fields: ${schema.fields.map((f) => f.name).join(', ')})`);
  const kind = kindOf(schema.fields[index]!.type);
  const column = (batch: RecordBatch): Vector => batch.getChildAt(index)!;

  if (op === 'in' || op === 'not_in') {
    if (!Array.isArray(n.value)) fail(`"${op}" on "${field}" needs a list value`);
    const values = (n.value as unknown[]).map((v) => checkScalar(field, kind, v));
    const negate = op === 'not_in';
    return (batch) => {
      const col = column(batch);
      return (row) => {
        const cell = col.get(row);
        if (cell === null || cell === undefined) return false;
        const found = values.some((v) => compare(cell, v) === 0);
        return negate ? !found : found;
      };
    };
  }
  if (op === 'contains') {
    if (kind === 'string') {
      const needle = checkScalar(field, kind, n.value) as string;
      return (batch) => {
        const col = column(batch);
        return (row) => {
          const cell = col.get(row);
          return typeof cell === 'string' && cell.includes(needle);
        };
      };
    }
    if (kind === 'list') {
      const needle = n.value as Scalar;
      return (batch) => {
        const col = column(batch);
        return (row) => {
          const cell = col.get(row) as Iterable<unknown> | null;
          if (!cell) return false;
          for (const item of cell) if (compare(item, needle) === 0) return true;
          return false;
        };
      };
    }
    fail(`"contains" needs a string or list field; "${field}" is ${kind}`);
  }
  if (kind === 'other' || kind === 'list') fail(`field "${field}" cannot be compared with "${op}"`);
  const value = checkScalar(field, kind, n.value);
  const test = comparisonTest(op as Comparison);
  return (batch) => {
    const col = column(batch);
    return (row) => {
      const cell = col.get(row);
      if (cell === null || cell === undefined) return false;
      const c = compare(cell, value);
      return c !== undefined && test(c);
    };
  };
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
