/**
 * DoExchange: streaming search with binary queries. The first message carries a CMD
 * descriptor `{"search": {"dataset", "k", "ef", "filters", "include_vectors", "columns",
 * "text_query", "alpha"}}` (the DoGet search keys, without vectors) and the schema of the
 * query batches, which must have a `vector: fixed_size_list<float32>[dim]` column. For
 * every query batch the server sends one result batch (the DoGet search answer), with
 * `query` numbering the queries of the whole stream from 0. No JSON floats on the way in:
 * this is the fast path for batch search.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { DescriptorType, type FlightData, IpcDecoder } from '@longbow/flight';
import { ErrorCode, LongbowError, toStatusError } from '../errors.ts';
import { VECTOR_COLUMN, vectorDimOf, vectorValues } from '../store/schema.ts';
import { checkServing, type NodeContext } from './context.ts';
import { nextBatch } from './decode.ts';
import { checkColumns, resultBatch } from './query.ts';
import { checkQueryValues, runSearch } from './search.ts';
import { BatchStreamWriter } from './stream-writer.ts';
import { parseExchangeCommand, type SearchTicket } from './tickets.ts';

/** The DoExchange handler (streaming search). */
export function doExchangeHandler(ctx: NodeContext) {
  return async (call: ServerDuplexStream<FlightData, FlightData>): Promise<void> => {
    try {
      checkServing(ctx);
      const decoder = new IpcDecoder();
      let ticket: SearchTicket | undefined;
      let writer: BatchStreamWriter | undefined;
      let columns: string[] | undefined;
      let offset = 0;
      for await (const msg of call.iterator({ destroyOnReturn: false }) as AsyncIterable<FlightData>) {
        if (!ticket) {
          const d = msg.flightDescriptor;
          if (!d || d.type !== DescriptorType.cmd || !d.cmd) {
            throw new LongbowError(
              ErrorCode.invalidDescriptor,
              'DoExchange needs a CMD descriptor {"search": {...}} on its first message',
            );
          }
          ticket = parseExchangeCommand(d.cmd);
          columns = checkColumns(ctx.store.require(ticket.dataset), ticket.columns);
        }
        const queryBatch = nextBatch(decoder, msg);
        if (!queryBatch) continue;
        const ds = ctx.store.require(ticket.dataset);
        const field = queryBatch.schema.fields.find((f) => f.name === VECTOR_COLUMN);
        const dim = field ? vectorDimOf(field.type) : undefined;
        if (dim === undefined) {
          throw new LongbowError(
            ErrorCode.invalidSchema,
            'query batches need a "vector" column: fixed_size_list<float32>[dim]',
          );
        }
        if (dim !== ds.def.dim) {
          throw new LongbowError(
            ErrorCode.dimensionMismatch,
            `queries have dimension ${dim}; dataset "${ds.name}" has dimension ${ds.def.dim}`,
          );
        }
        const values = vectorValues(queryBatch, dim);
        const queries = Array.from({ length: queryBatch.numRows }, (_, i) =>
          values.subarray(i * dim, (i + 1) * dim),
        );
        for (const [i, q] of queries.entries()) checkQueryValues(q, offset + i);
        const started = performance.now();
        const { hits, kind } = await runSearch(ds, ticket, ctx.config, queries);
        const batch = resultBatch(ds, hits, ticket, columns, offset);
        ctx.metrics.searchDuration.observe({ kind }, (performance.now() - started) / 1000);
        writer ??= new BatchStreamWriter(
          call,
          batch.schema,
          ctx.config.flightCompression,
          ctx.config.maxMessageBytes,
        );
        await writer.write(batch);
        offset += queries.length;
      }
      if (!ticket)
        throw new LongbowError(
          ErrorCode.invalidDescriptor,
          'DoExchange stream ended without a search command',
        );
      call.end();
    } catch (err) {
      if (!(err instanceof LongbowError)) ctx.log.error({ err }, 'DoExchange failed');
      call.emit('error', toStatusError(err));
    }
  };
}
