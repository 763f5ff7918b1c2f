/**
 * DoGet tickets (DESIGN.md, wire contract). A ticket is UTF-8 JSON, either a scan
 *
 * ```json
 * {"dataset": "d", "filters": [...], "columns": ["a", "b"], "limit": 100}
 * ```
 * or a search (key names follow the Go original, so its clients work):
 * ```json
 * {"search": {"dataset": "d", "vector": [..] | "vectors": [[..], ..] | "id": 42,
 *             "k": 10, "ef": 64, "filters": [...], "include_vectors": false,
 *             "columns": [...], "local_only": false}}
 * ```
 * Parsing checks shapes and ranges; checks that need the dataset (dimension, column
 * names, filter fields) happen in the query code.
 */
import { ErrorCode, LongbowError } from '../errors.ts';

/** Largest k a search may ask for. */
export const MAX_K = 10_000;
/** Largest ef a search may ask for. */
export const MAX_EF = 10_000;
/** Most queries in one batch search. */
export const MAX_QUERIES = 10_000;

export interface ScanTicket {
  kind: 'scan';
  dataset: string;
  filters: unknown;
  columns: string[] | undefined;
  limit: number | undefined;
}

export interface SearchTicket {
  kind: 'search';
  dataset: string;
  /** Query vectors as given (checked against the dataset's dimension later). */
  vectors: number[][] | undefined;
  /** Search by the vector of an existing row. */
  id: number | string | undefined;
  k: number;
  ef: number | undefined;
  filters: unknown;
  includeVectors: boolean;
  columns: string[] | undefined;
  textQuery: string | undefined;
  alpha: number | undefined;
  localOnly: boolean;
}

export type DoGetTicket = ScanTicket | SearchTicket;

function bad(message: string): never {
  throw new LongbowError(ErrorCode.invalidTicket, message);
}

function optionalInt(
  obj: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(`"${key}" must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalColumns(obj: Record<string, unknown>): string[] | undefined {
  const v = obj.columns;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((c) => typeof c === 'string'))
    bad('"columns" must be a list of column names');
  return v as string[];
}

function requireDataset(obj: Record<string, unknown>): string {
  const v = obj.dataset;
  if (typeof v !== 'string' || v.length === 0) bad('ticket needs "dataset" (a dataset name)');
  return v;
}

function isVector(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
}

/** Parses ticket bytes; throws INVALID_TICKET naming the problem. */
export function parseTicket(bytes: Uint8Array): DoGetTicket {
  const obj = parseJsonObject(bytes);
  if ('search' in obj) {
    if (typeof obj.search !== 'object' || obj.search === null) bad('"search" must be an object');
    return parseSearch(obj.search as Record<string, unknown>);
  }
  return {
    kind: 'scan',
    dataset: requireDataset(obj),
    filters: obj.filters,
    columns: optionalColumns(obj),
    limit: optionalInt(obj, 'limit', 0, Number.MAX_SAFE_INTEGER),
  };
}

/**
 * Parses a DoExchange search command (the descriptor's CMD): a search ticket whose query
 * vectors arrive as Arrow batches on the stream instead of in the JSON.
 */
export function parseExchangeCommand(bytes: Uint8Array): SearchTicket {
  const json = parseJsonObject(bytes);
  if (typeof json.search !== 'object' || json.search === null) {
    bad(
      'DoExchange command must be {"search": {"dataset": ..., "k": ...}} with query vectors streamed as batches',
    );
  }
  return parseSearch(json.search as Record<string, unknown>, true);
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    bad(`ticket is not valid JSON (${(err as Error).message}): ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('ticket must be a JSON object');
  return json as Record<string, unknown>;
}

function parseSearch(s: Record<string, unknown>, streamed = false): SearchTicket {
  const dataset = requireDataset(s);
  let vectors: number[][] | undefined;
  if (s.vector !== undefined) {
    if (!isVector(s.vector)) bad('"vector" must be a non-empty list of numbers');
    vectors = [s.vector];
  } else if (s.vectors !== undefined) {
    if (!Array.isArray(s.vectors) || s.vectors.length === 0 || !s.vectors.every(isVector)) {
      bad('"vectors" must be a non-empty list of non-empty lists of numbers');
    }
    if (s.vectors.length > MAX_QUERIES)
      bad(`"vectors" has ${s.vectors.length} queries; at most ${MAX_QUERIES}`);
    vectors = s.vectors as number[][];
  }
  const id = s.id;
  if (id !== undefined && typeof id !== 'number' && typeof id !== 'string')
    bad('"id" must be a number or a string');
  const textQuery = s.text_query;
  if (textQuery !== undefined && typeof textQuery !== 'string') bad('"text_query" must be a string');
  if (!streamed && !vectors && id === undefined && !textQuery)
    bad('search needs "vector", "vectors", "id" or "text_query"');
  const alpha = s.alpha;
  if (alpha !== undefined && (typeof alpha !== 'number' || alpha < 0 || alpha > 1))
    bad('"alpha" must be a number in 0..1');
  return {
    kind: 'search',
    dataset,
    vectors,
    id: id as number | string | undefined,
    k: optionalInt(s, 'k', 1, MAX_K) ?? 10,
    ef: optionalInt(s, 'ef', 1, MAX_EF),
    filters: s.filters,
    includeVectors: s.include_vectors === true,
    columns: optionalColumns(s),
    textQuery: textQuery as string | undefined,
    alpha: alpha as number | undefined,
    localOnly: s.local_only === true,
  };
}
