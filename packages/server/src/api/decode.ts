/**
 * Decoding the record batches of an incoming Flight stream (DoPut, DoExchange): malformed
 * IPC becomes INVALID_ARGUMENT `MALFORMED_IPC` naming the problem.
 */
import { type FlightData, IpcDecodeError, type IpcDecoder } from '@longbow/flight';
import type { RecordBatch } from 'apache-arrow';
import { ErrorCode, LongbowError } from '../errors.ts';

/**
 * Feeds one message to the stream's decoder; returns its record batch when it carries one
 * with rows (schema and dictionary messages, and empty batches, return undefined).
 */
export function nextBatch(decoder: IpcDecoder, msg: FlightData): RecordBatch | undefined {
  let decoded: ReturnType<IpcDecoder['decode']>;
  try {
    decoded = decoder.decode(msg);
  } catch (err) {
    if (err instanceof IpcDecodeError)
      throw new LongbowError(ErrorCode.malformedIpc, err.message, { cause: err });
    throw err;
  }
  return decoded.kind === 'batch' && decoded.batch.numRows > 0 ? decoded.batch : undefined;
}
