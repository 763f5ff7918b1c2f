/**
 * A small Flight client over grpc-js: the calls Longbow's tests, tools and smart client
 * need, in Arrow terms (record batches and schemas in, record batches out).
 */
import * as grpc from '@grpc/grpc-js';
import { type RecordBatch, type Schema, Table } from 'apache-arrow';
import type { CompressionName } from './ipc/compression.ts';
import { decodeEncapsulatedSchema, IpcDecoder } from './ipc/decoder.ts';
import { IpcEncoder } from './ipc/encoder.ts';
import {
  type ActionType,
  DescriptorType,
  type FlightData,
  type FlightDescriptor,
  type FlightInfo,
  type PutResult,
  type Result,
} from './proto/messages.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from './server.ts';
import { FlightServiceDefinition } from './service.ts';

const FlightServiceClient = grpc.makeGenericClientConstructor(FlightServiceDefinition, 'FlightService');

/** Options for {@link FlightClient}. */
export interface FlightClientOptions {
  /** Largest gRPC message sent or accepted, in bytes. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

/** Per-call options. */
export interface CallOptions {
  /** Request headers (e.g. `x-longbow-key`). */
  headers?: Record<string, string>;
  /** Deadline in milliseconds from now. */
  timeoutMs?: number;
}

/** A Flight descriptor naming a path, e.g. `pathDescriptor('my_dataset')`. */
export function pathDescriptor(...path: string[]): FlightDescriptor {
  return { type: DescriptorType.path, path };
}

/** The first path element of a FlightInfo's descriptor (a Longbow dataset name); '' when none. */
export function flightName(info: FlightInfo): string {
  return info.flightDescriptor?.path?.[0] ?? '';
}

/** Orders FlightInfos by {@link flightName} (for `Array.prototype.sort`). */
export function byFlightName(a: FlightInfo, b: FlightInfo): number {
  const x = flightName(a);
  const y = flightName(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// biome-ignore lint/suspicious/noExplicitAny: grpc-js generic clients are untyped by construction.
type AnyMethod = (...args: any[]) => any;
type AnyClient = grpc.Client & { [K in keyof typeof FlightServiceDefinition]: AnyMethod };

/**
 * Client for one Flight server address (`host:port`). Errors are grpc-js `ServiceError`s
 * (with `code`, `details` and trailing `metadata`).
 */
export class FlightClient {
  readonly address: string;
  private readonly client: AnyClient;

  constructor(address: string, options: FlightClientOptions = {}) {
    this.address = address;
    const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.client = new FlightServiceClient(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxBytes,
      'grpc.max_send_message_length': maxBytes,
      ...options.channelOptions,
    }) as unknown as AnyClient;
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }

  private metadata(opts?: CallOptions): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(opts?.headers ?? {})) md.set(k, v);
    return md;
  }

  private callOptions(opts?: CallOptions): grpc.CallOptions {
    return opts?.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {};
  }

  /**
   * Streams `batches` to `descriptor` (DoPut) and resolves with every PutResult the server
   * sent, in order. `compression` compresses the bodies (LZ4_FRAME or ZSTD).
   */
  doPut(
    descriptor: FlightDescriptor,
    schema: Schema,
    batches: Iterable<RecordBatch> | AsyncIterable<RecordBatch>,
    opts: CallOptions & { compression?: CompressionName } = {},
  ): Promise<PutResult[]> {
    const encoder = new IpcEncoder(schema, opts.compression ?? 'none');
    async function* messages(): AsyncGenerator<FlightData> {
      yield { ...encoder.schemaMessage(), flightDescriptor: descriptor };
      for await (const batch of batches) yield* encoder.batchMessages(batch);
    }
    return this.doPutMessages(messages(), opts);
  }

  /**
   * DoPut of raw FlightData messages, for callers that frame their own stream (replication,
   * tests of malformed input). Resolves with every PutResult; rejects with the call's status.
   */
  async doPutMessages(
    messages: Iterable<FlightData> | AsyncIterable<FlightData>,
    opts: CallOptions = {},
  ): Promise<PutResult[]> {
    const call = this.client.DoPut(this.metadata(opts), this.callOptions(opts)) as grpc.ClientDuplexStream<
      FlightData,
      PutResult
    >;
    const results: PutResult[] = [];
    const done = new Promise<PutResult[]>((resolve, reject) => {
      call.on('data', (r: PutResult) => results.push(r));
      call.on('error', reject);
      call.on('end', () => resolve(results));
    });
    done.catch(() => {}); // observed below; avoid an unhandled rejection while writing
    try {
      for await (const msg of messages) await writeWithBackpressure(call, msg);
      call.end();
    } catch (err) {
      await done; // the server's status explains a failed write better than the write error
      throw err;
    }
    return done;
  }

  /** Redeems a ticket (DoGet) and yields the stream's record batches. */
  async *doGet(ticket: Uint8Array | string, opts?: CallOptions): AsyncGenerator<RecordBatch> {
    const bytes = typeof ticket === 'string' ? Buffer.from(ticket) : ticket;
    const call = this.client.DoGet(
      { ticket: bytes },
      this.metadata(opts),
      this.callOptions(opts),
    ) as grpc.ClientReadableStream<FlightData>;
    const decoder = new IpcDecoder();
    for await (const data of call) {
      const decoded = decoder.decode(data as FlightData);
      if (decoded.kind === 'batch') yield decoded.batch;
    }
  }

  /** DoGet collected into a Table (schema taken from the stream, even when it has no rows). */
  async doGetTable(ticket: Uint8Array | string, opts?: CallOptions): Promise<Table> {
    const batches: RecordBatch[] = [];
    for await (const b of this.doGet(ticket, opts)) batches.push(b);
    return batches.length > 0 ? new Table(batches) : new Table();
  }

  /** ListFlights, collected. */
  listFlights(expression?: Uint8Array, opts?: CallOptions): Promise<FlightInfo[]> {
    const call = this.client.ListFlights(
      { expression },
      this.metadata(opts),
      this.callOptions(opts),
    ) as grpc.ClientReadableStream<FlightInfo>;
    return collect(call);
  }

  /** GetFlightInfo for a descriptor. */
  getFlightInfo(descriptor: FlightDescriptor, opts?: CallOptions): Promise<FlightInfo> {
    return new Promise((resolve, reject) => {
      this.client.GetFlightInfo(
        descriptor,
        this.metadata(opts),
        this.callOptions(opts),
        (err: grpc.ServiceError | null, info: FlightInfo) => (err ? reject(err) : resolve(info)),
      );
    });
  }

  /** GetSchema for a descriptor, decoded. */
  getSchema(descriptor: FlightDescriptor, opts?: CallOptions): Promise<Schema> {
    return new Promise((resolve, reject) => {
      this.client.GetSchema(
        descriptor,
        this.metadata(opts),
        this.callOptions(opts),
        (err: grpc.ServiceError | null, res: { schema?: Uint8Array }) => {
          if (err) reject(err);
          else resolve(decodeEncapsulatedSchema(res.schema ?? new Uint8Array(0)));
        },
      );
    });
  }

  /** DoAction with a JSON (or raw) body; resolves with the result bodies. */
  async doAction(type: string, body?: unknown, opts?: CallOptions): Promise<Uint8Array[]> {
    const bytes =
      body === undefined ? undefined : body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body));
    const call = this.client.DoAction(
      { type, body: bytes },
      this.metadata(opts),
      this.callOptions(opts),
    ) as grpc.ClientReadableStream<Result>;
    const results = await collect<Result>(call);
    return results.map((r) => (r as Result).body ?? new Uint8Array(0));
  }

  /** DoAction whose single result is JSON, parsed. */
  async doActionJson<T = unknown>(type: string, body?: unknown, opts?: CallOptions): Promise<T> {
    const [first] = await this.doAction(type, body, opts);
    return JSON.parse(Buffer.from(first ?? new Uint8Array(0)).toString('utf8') || 'null') as T;
  }

  /** ListActions, collected. */
  listActions(opts?: CallOptions): Promise<ActionType[]> {
    const call = this.client.ListActions(
      {},
      this.metadata(opts),
      this.callOptions(opts),
    ) as grpc.ClientReadableStream<ActionType>;
    return collect(call);
  }
}

async function collect<T>(stream: AsyncIterable<unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item as T);
  return out;
}

function writeWithBackpressure<T>(call: grpc.ClientWritableStream<T>, msg: T): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = call.write(msg, (err: Error | null | undefined) => {
      if (err) reject(err);
    });
    if (ok) resolve();
    else {
      const onError = (err: Error) => reject(err);
      call.once('error', onError);
      call.once('drain', () => {
        call.off('error', onError);
        resolve();
      });
    }
  });
}
