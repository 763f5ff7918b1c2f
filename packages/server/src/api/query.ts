/**
 * DoGet: scans and k-NN searches (tickets in tickets.ts).
 *
 * Scan: the dataset's live rows in commit order, optionally filtered, projected and
 * limited; batches with nothing removed are sent as they are stored (zero copy).
 *
 * Search answer (DESIGN.md): one Arrow stream `query: int32, id, distance: float32,
 * score: float32` (+ `vector` with include_vectors, + requested columns), best first per
 * query. Every acknowledged row is visible: the index worker searches rows it has not
 * absorbed yet exactly (see index/hnsw-worker.ts).
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { FlightData, Ticket } from '@longbow/flight';
import { Field, Float32, Int32, makeData, type RecordBatch, Schema } from 'apache-arrow';
import { ErrorCode, LongbowError, toStatusError } from '../errors.ts';
import { batchOf, takeRows, valuesToData } from '../store/columns.ts';
import type { Dataset } from '../store/dataset.ts';
import { compileFilter } from '../store/filter.ts';
import { ID_COLUMN, VECTOR_COLUMN, vectorType } from '../store/schema.ts';
import { checkServing, type NodeContext } from './context.ts';
import { type RankedHits, runSearch } from './search.ts';
import { BatchStreamWriter } from './stream-writer.ts';
import { parseTicket, type ScanTicket, type SearchTicket } from './tickets.ts';

export function checkColumns(ds: Dataset, columns: string[] | undefined): string[] | undefined {
  if (!columns) return undefined;
  const known = new Set(ds.def.schema.fields.map((f) => f.name));
  for (const c of columns) {
    if (!known.has(c)) {
      throw new LongbowError(
        ErrorCode.invalidTicket,
        `dataset "${ds.name}" has no column "${c}" (columns: ${[...known].join(', ')})`,
      );
    }
  }
  return columns;
}

/** The requested columns, in the requested order (RecordBatch.select keeps schema order). */
function project(batch: RecordBatch, columns: string[] | undefined, outSchema: Schema): RecordBatch {
  if (!columns) return batch;
  return batchOf(
    outSchema,
    batch.numRows,
    columns.map((c) => batch.getChild(c)!.data[0]!),
  );
}

/** Streams a scan. */
export async function streamScan(
  ctx: NodeContext,
  call: ServerWritableStream<Ticket, FlightData>,
  t: ScanTicket,
): Promise<void> {
  const ds = ctx.store.require(t.dataset);
  const columns = checkColumns(ds, t.columns);
  const match = compileFilter(t.filters, ds.def.schema);
  const outSchema = columns
    ? new Schema(
        columns.map((c) => ds.def.schema.fields.find((f) => f.name === c)!),
        ds.def.schema.metadata,
      )
    : ds.def.schema;
  const writer = new BatchStreamWriter(
    call,
    outSchema,
    ctx.config.flightCompression,
    ctx.config.maxMessageBytes,
  );
  await writer.start();
  let remaining = t.limit ?? Number.POSITIVE_INFINITY;
  // This list as it is now: batches committed (or compacted) while we stream do not change it.
  const batches = ds.batches;
  const count = batches.length;
  for (let b = 0; b < count && remaining > 0 && !writer.cancelled; b++) {
    const stored = batches[b]!;
    let out: RecordBatch;
    if (!match && stored.deletedCount === 0) {
      out = stored.batch;
    } else {
      const test = match?.(stored.batch);
      const rows: number[] = [];
      for (let i = 0; i < stored.batch.numRows && rows.length < remaining; i++) {
        if (stored.deleted?.[i] === 1) continue;
        if (test && !test(i)) continue;
        rows.push(i);
      }
      if (rows.length === 0) continue;
      out = takeRows(stored.batch, rows);
    }
    if (out.numRows > remaining) out = out.slice(0, remaining);
    remaining -= out.numRows;
    await writer.write(project(out, columns, outSchema));
  }
}

/** Runs a search and streams its result batch. */
export async function streamSearch(
  ctx: NodeContext,
  call: ServerWritableStream<Ticket, FlightData>,
  t: SearchTicket,
): Promise<void> {
  const started = performance.now();
  const ds = ctx.store.require(t.dataset);
  const columns = checkColumns(ds, t.columns);
  const { hits, kind } = await runSearch(ds, t, ctx.config);
  const batch = resultBatch(ds, hits, t, columns);
  ctx.metrics.searchDuration.observe({ kind }, (performance.now() - started) / 1000);
  const writer = new BatchStreamWriter(
    call,
    batch.schema,
    ctx.config.flightCompression,
    ctx.config.maxMessageBytes,
  );
  await writer.write(batch);
}

/**
 * The answer batch of a search: `query, id, distance, score` (+ vector, + columns).
 * `queryOffset` numbers queries from that value (DoExchange numbers them across batches).
 */
export function resultBatch(
  ds: Dataset,
  hits: RankedHits[],
  t: SearchTicket,
  columns: string[] | undefined,
  queryOffset = 0,
): RecordBatch {
  const queryIdx: number[] = [];
  const ordinals: number[] = [];
  const distances: number[] = [];
  const scores: number[] = [];
  hits.forEach((h, q) => {
    for (let i = 0; i < h.ordinals.length; i++) {
      queryIdx.push(queryOffset + q);
      ordinals.push(h.ordinals[i]!);
      distances.push(h.distances[i]!);
      scores.push(h.scores[i]!);
    }
  });
  const n = ordinals.length;
  const idField = ds.def.schema.fields.find((f) => f.name === ID_COLUMN)!;
  const fields = [
    new Field('query', new Int32(), false),
    new Field(ID_COLUMN, idField.type, false),
    new Field('distance', new Float32(), false),
    new Field('score', new Float32(), false),
  ];
  const children = [
    makeData({ type: new Int32(), length: n, nullCount: 0, data: Int32Array.from(queryIdx) }),
    gatherColumn(ds, ordinals, ID_COLUMN),
    makeData({ type: new Float32(), length: n, nullCount: 0, data: Float32Array.from(distances) }),
    makeData({ type: new Float32(), length: n, nullCount: 0, data: Float32Array.from(scores) }),
  ];
  const withVectors = t.includeVectors || (columns?.includes(VECTOR_COLUMN) ?? false);
  if (withVectors) {
    const values = new Float32Array(n * ds.def.dim);
    ordinals.forEach((o, i) => {
      const { stored, offset } = ds.locate(o);
      values.set(stored.vectors.subarray(offset * ds.def.dim, (offset + 1) * ds.def.dim), i * ds.def.dim);
    });
    const type = vectorType(ds.def.dim);
    fields.push(new Field(VECTOR_COLUMN, type, false));
    children.push(
      makeData({
        type,
        length: n,
        nullCount: 0,
        child: makeData({ type: new Float32(), length: n * ds.def.dim, nullCount: 0, data: values }),
      }),
    );
  }
  for (const c of columns ?? []) {
    if (c === ID_COLUMN || c === VECTOR_COLUMN) continue;
    const field = ds.def.schema.fields.find((f) => f.name === c)!;
    fields.push(new Field(field.name, field.type, true));
    children.push(gatherColumn(ds, ordinals, c));
  }
  return batchOf(new Schema(fields), n, children);
}

/** One column's values for rows spread over several stored batches, in `ordinals` order. */
function gatherColumn(ds: Dataset, ordinals: number[], column: string) {
  const type = ds.def.schema.fields.find((f) => f.name === column)!.type;
  return valuesToData(
    ordinals.map((o) => ds.cell(o, column)),
    type,
  );
}

/** The DoGet handler. */
export function doGetHandler(ctx: NodeContext) {
  return async (call: ServerWritableStream<Ticket, FlightData>): Promise<void> => {
    try {
      checkServing(ctx);
      const ticket = parseTicket(call.request.ticket);
      if (ticket.kind === 'scan') await streamScan(ctx, call, ticket);
      else await streamSearch(ctx, call, ticket);
      call.end();
    } catch (err) {
      if (!(err instanceof LongbowError)) ctx.log.error({ err }, 'DoGet failed');
      call.emit('error', toStatusError(err));
    }
  };
}
