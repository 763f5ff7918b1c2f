/**
 * Writes Arrow data to a server-streaming Flight call: schema first, then batches,
 * compressed as configured, split so no message exceeds the size limit, and paced by the
 * call's backpressure (`write` returning false waits for `drain`).
 */
import { once } from 'node:events';
import type { ServerDuplexStream, ServerWritableStream } from '@grpc/grpc-js';
import { type CompressionName, type FlightData, IpcEncoder } from '@longbow/flight';
import type { RecordBatch, Schema } from 'apache-arrow';

/** Fraction of the message limit a batch may fill before it is split (headroom for metadata). */
const SPLIT_FILL = 0.5;

/** Streams one schema and its batches to a call. */
export class BatchStreamWriter {
  private readonly call:
    | ServerWritableStream<unknown, FlightData>
    | ServerDuplexStream<FlightData, FlightData>;
  private readonly encoder: IpcEncoder;
  private readonly maxMessageBytes: number;
  private started = false;
  rows = 0;

  constructor(
    call: ServerWritableStream<unknown, FlightData> | ServerDuplexStream<FlightData, FlightData>,
    schema: Schema,
    compression: CompressionName,
    maxMessageBytes: number,
  ) {
    this.call = call;
    this.encoder = new IpcEncoder(schema, compression);
    this.maxMessageBytes = maxMessageBytes;
  }

  /** True once the client has gone away; callers stop producing. */
  get cancelled(): boolean {
    return this.call.cancelled || this.call.destroyed;
  }

  /** Sends the schema (once). An empty result is a schema with no batches. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.send(this.encoder.schemaMessage());
  }

  /** Sends a batch, split into slices that fit the message limit. */
  async write(batch: RecordBatch): Promise<void> {
    await this.start();
    if (batch.numRows === 0) return;
    const bytesPerRow = Math.max(1, batch.data.byteLength / batch.numRows);
    const rowsPerSlice = Math.max(1, Math.floor((this.maxMessageBytes * SPLIT_FILL) / bytesPerRow));
    for (let from = 0; from < batch.numRows && !this.cancelled; from += rowsPerSlice) {
      const slice =
        from === 0 && rowsPerSlice >= batch.numRows ? batch : batch.slice(from, from + rowsPerSlice);
      for (const msg of this.encoder.batchMessages(slice)) await this.send(msg);
      this.rows += slice.numRows;
    }
  }

  private async send(msg: FlightData): Promise<void> {
    if (this.cancelled) return;
    if (this.call.write(msg)) return;
    // Wait for drain, or for the call to go away; the listeners of the events that did not
    // fire are removed (a long stream would otherwise pile them up).
    const done = new AbortController();
    const wait = (event: string) => once(this.call, event, { signal: done.signal }).catch(() => {});
    await Promise.race([wait('drain'), wait('cancelled'), wait('close')]);
    done.abort();
  }
}
