/**
 * DoPut: the durable ingest path.
 *
 * For each record batch of the stream: commit it (commit/committer.ts: check, version, log,
 * apply the logged entry once durable) and send a PutResult
 * `{"status":"ok","rows":n,"lsn":k}`. A PutResult is never sent before its entry is
 * fsynced (or written, in async mode). When the WAL queue is over 80% full the server also
 * sends `{"status":"slow_down","reason":"wal_pressure","queue_fill":f}`.
 *
 * At most MAX_INFLIGHT_BATCHES of one stream wait for durability at once; the stream is not
 * read further until the oldest is acknowledged (backpressure through HTTP/2 flow control).
 * On bad input the call fails with INVALID_ARGUMENT after every batch already accepted has
 * been acknowledged: nothing acknowledged is lost, and the node keeps serving.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { DescriptorType, type FlightData, IpcDecoder, type PutResult } from '@longbow/flight';
import { ErrorCode, LongbowError, toStatusError } from '../errors.ts';
import { checkDatasetName } from '../store/schema.ts';
import { checkServing, type NodeContext } from './context.ts';
import { nextBatch } from './decode.ts';

/** Batches of one stream waiting for durability at once. */
export const MAX_INFLIGHT_BATCHES = 16;
/** Queue fill above which PutResults carry a slow_down notice. */
export const SLOW_DOWN_FILL = 0.8;

function messageBytes(msg: FlightData): number {
  const body = msg.dataBody instanceof Uint8Array ? msg.dataBody.byteLength : 0;
  return body + (msg.dataHeader?.byteLength ?? 0) + (msg.appMetadata?.byteLength ?? 0);
}

function datasetOf(msg: FlightData): string {
  const d = msg.flightDescriptor;
  if (!d)
    throw new LongbowError(
      ErrorCode.invalidDescriptor,
      'the first DoPut message has no flight descriptor; send PATH [dataset]',
    );
  if (d.type !== DescriptorType.path || !d.path || d.path.length !== 1) {
    throw new LongbowError(
      ErrorCode.invalidDescriptor,
      'DoPut needs a PATH descriptor with exactly one element: the dataset name',
    );
  }
  return checkDatasetName(d.path[0]);
}

function putResult(json: object): PutResult {
  return { appMetadata: Buffer.from(JSON.stringify(json)) };
}

/** The DoPut handler. */
export function doPutHandler(ctx: NodeContext) {
  return async (call: ServerDuplexStream<FlightData, PutResult>): Promise<void> => {
    const inflight: Promise<void>[] = [];
    const send = (r: PutResult) => {
      if (!call.cancelled && !call.destroyed) call.write(r);
    };
    try {
      checkServing(ctx);
      const decoder = new IpcDecoder();
      let dataset: string | undefined;
      for await (const msg of call.iterator({ destroyOnReturn: false }) as AsyncIterable<FlightData>) {
        const size = messageBytes(msg);
        if (size > ctx.config.maxMessageBytes) {
          throw new LongbowError(
            ErrorCode.messageTooLarge,
            `FlightData message of ${size} bytes exceeds the limit of ${ctx.config.maxMessageBytes} (LONGBOW_MAX_MESSAGE_SIZE); send smaller batches`,
          );
        }
        dataset ??= datasetOf(msg);
        const batch = nextBatch(decoder, msg);
        if (!batch) continue;
        await ctx.wal.waitForRoom(size);
        checkServing(ctx);
        const acked = ctx.committer.put(dataset, batch).then(({ lsn }) => {
          ctx.metrics.ingestRows.inc(batch.numRows);
          ctx.metrics.ingestBytes.inc(batch.data.byteLength);
          send(putResult({ status: 'ok', rows: batch.numRows, lsn: Number(lsn) }));
          const fill = ctx.wal.queueFill();
          if (fill > SLOW_DOWN_FILL) {
            send(
              putResult({
                status: 'slow_down',
                reason: 'wal_pressure',
                queue_fill: Math.round(fill * 100) / 100,
              }),
            );
          }
        });
        acked.catch(() => {}); // awaited below; this only keeps a failure from being "unhandled" meanwhile
        inflight.push(acked);
        while (inflight.length >= MAX_INFLIGHT_BATCHES) await inflight.shift();
      }
      if (dataset === undefined) {
        throw new LongbowError(ErrorCode.invalidDescriptor, 'DoPut stream ended without a flight descriptor');
      }
      await Promise.all(inflight);
      call.end();
    } catch (err) {
      await Promise.allSettled(inflight);
      const status = toStatusError(err);
      if (!(err instanceof LongbowError)) ctx.log.error({ err }, 'DoPut failed');
      else ctx.log.info({ code: err.code, message: err.message }, 'DoPut rejected');
      if (err instanceof LongbowError && err.code === ErrorCode.memoryLimit)
        ctx.metrics.memoryLimitRejections.inc();
      call.emit('error', status);
    }
  };
}
