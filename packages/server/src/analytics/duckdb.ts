/**
 * `query_analytics`: the user's SQL, run by DuckDB over a dataset's Parquet snapshot.
 *
 * Each query gets a fresh in-memory DuckDB in which the snapshot file is a view named after
 * the dataset (`SELECT … FROM "my-dataset"`). Read-only twice over: the text must be exactly
 * one SELECT statement (DuckDB's own parser decides), and the database is locked down before
 * the user's SQL runs — external access off except for that one file, configuration locked —
 * so a query cannot read other files (`read_csv('/etc/passwd')`) or change settings.
 *
 * The query sees the last snapshot, not rows written since (take one with `force_snapshot`).
 * S3 snapshots are downloaded to a temporary file first (no DuckDB extension is needed).
 *
 * Results: `{"columns":[{"name","type"}], "rows":[{…}], "row_count":n, "truncated":bool}` —
 * at most `MAX_ROWS` rows. Values are JSON: integers as numbers when exact (beyond 2^53 as
 * strings), decimals and timestamps as DuckDB prints them, lists as arrays.
 */
import { DuckDBInstance, type DuckDBType, StatementType } from '@duckdb/node-api';
import { ErrorCode, LongbowError } from '../errors.ts';
import type { SnapshotBackend } from '../snapshot/backend.ts';

/** Most rows one query returns; `truncated` tells when there were more. */
export const MAX_ROWS = 10_000;
/** Longest query text accepted, characters. */
export const MAX_QUERY_CHARS = 100_000;

/** What `query_analytics` answers. */
export interface AnalyticsResult {
  dataset: string;
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  row_count: number;
  truncated: boolean;
  seconds: number;
}

const INTEGER_TYPES = new Set(['BIGINT', 'UBIGINT', 'HUGEINT', 'UHUGEINT']);

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** 64-bit and wider integers come back as strings in JSON; numbers when exact. */
function jsonValue(value: unknown, type: string): unknown {
  if (typeof value === 'string' && INTEGER_TYPES.has(type)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  return value;
}

/** The DuckDB error message without its own `Type Error:` noise doubled. */
function duckMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `sql` over the snapshot of `dataset`. Throws INVALID_QUERY (INVALID_ARGUMENT) for
 * anything but one SELECT and for DuckDB's errors (its message kept), NO_SNAPSHOT when the
 * dataset has no snapshot yet.
 */
export async function queryAnalytics(
  backend: SnapshotBackend,
  dataset: string,
  sql: string,
): Promise<AnalyticsResult> {
  if (sql.trim() === '') throw new LongbowError(ErrorCode.invalidQuery, 'query is empty');
  if (sql.length > MAX_QUERY_CHARS)
    throw new LongbowError(ErrorCode.invalidQuery, `query is longer than ${MAX_QUERY_CHARS} characters`);
  const started = performance.now();
  const copy = await backend.localCopy(dataset);
  if (!copy)
    throw new LongbowError(
      ErrorCode.noSnapshot,
      `dataset "${dataset}" has no snapshot yet; run force_snapshot first (analytics reads snapshots)`,
    );
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  try {
    await conn.run(
      `CREATE VIEW ${quoteIdent(dataset)} AS SELECT * FROM read_parquet(${quoteString(copy.path)})`,
    );
    await conn.run(`SET allowed_paths = [${quoteString(copy.path)}]`);
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
    let statementType: StatementType;
    try {
      const extracted = await conn.extractStatements(sql);
      if (extracted.count !== 1)
        throw new LongbowError(
          ErrorCode.invalidQuery,
          `query_analytics runs exactly one statement; got ${extracted.count}`,
        );
      const prepared = await extracted.prepare(0);
      statementType = prepared.statementType;
    } catch (err) {
      if (err instanceof LongbowError) throw err;
      throw new LongbowError(ErrorCode.invalidQuery, duckMessage(err), { cause: err });
    }
    if (statementType !== StatementType.SELECT)
      throw new LongbowError(
        ErrorCode.invalidQuery,
        `query_analytics is read-only: only SELECT queries are allowed (got a ${StatementType[statementType]} statement)`,
      );
    let reader: Awaited<ReturnType<typeof conn.streamAndReadUntil>>;
    try {
      reader = await conn.streamAndReadUntil(sql, MAX_ROWS + 1);
    } catch (err) {
      throw new LongbowError(ErrorCode.invalidQuery, duckMessage(err), { cause: err });
    }
    const names = reader.columnNames();
    const types = reader.columnTypes().map((t: DuckDBType) => t.toString());
    const all = reader.getRowObjectsJson();
    const truncated = all.length > MAX_ROWS;
    const rows = all.slice(0, MAX_ROWS).map((row) => {
      const out: Record<string, unknown> = {};
      names.forEach((name, i) => {
        out[name] = jsonValue(row[name], types[i]!);
      });
      return out;
    });
    return {
      dataset,
      columns: names.map((name, i) => ({ name, type: types[i]! })),
      rows,
      row_count: rows.length,
      truncated,
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    };
  } finally {
    conn.closeSync();
    instance.closeSync();
    await copy.release();
  }
}
