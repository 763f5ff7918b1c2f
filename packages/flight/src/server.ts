/**
 * Serving FlightService with `@grpc/grpc-js`: server construction with raised message
 * limits, binding, and the status error type handlers throw.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  Action,
  ActionType,
  Criteria,
  Empty,
  FlightData,
  FlightDescriptor,
  FlightInfo,
  HandshakeMessage,
  PollInfo,
  PutResult,
  Result,
  SchemaResult,
  Ticket,
} from './proto/messages.ts';
import { requestDecodingInterceptor, serverServiceDefinition } from './request-decoding.ts';
import { FLIGHT_SERVICE_NAME, type FlightMethods, FlightServiceDefinition } from './service.ts';

/** Default limit for one gRPC message in either direction: 64 MiB (grpc's own default is 4 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Handlers for the FlightService methods; a missing one answers UNIMPLEMENTED. */
export interface FlightHandlers {
  Handshake?: grpc.handleBidiStreamingCall<HandshakeMessage, HandshakeMessage>;
  ListFlights?: grpc.handleServerStreamingCall<Criteria, FlightInfo>;
  GetFlightInfo?: grpc.handleUnaryCall<FlightDescriptor, FlightInfo>;
  PollFlightInfo?: grpc.handleUnaryCall<FlightDescriptor, PollInfo>;
  GetSchema?: grpc.handleUnaryCall<FlightDescriptor, SchemaResult>;
  DoGet?: grpc.handleServerStreamingCall<Ticket, FlightData>;
  DoPut?: grpc.handleBidiStreamingCall<FlightData, PutResult>;
  DoExchange?: grpc.handleBidiStreamingCall<FlightData, FlightData>;
  DoAction?: grpc.handleServerStreamingCall<Action, Result>;
  ListActions?: grpc.handleServerStreamingCall<Empty, ActionType>;
}

/**
 * An error that becomes a gRPC status: `code` is the status code, the message its details,
 * `trailers` extra trailing metadata (e.g. FORWARD_REQUIRED targets).
 */
export class FlightStatusError extends Error {
  override readonly name = 'FlightStatusError';
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata | undefined;

  constructor(
    code: grpc.status,
    message: string,
    options?: { cause?: unknown; trailers?: Record<string, string> },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.details = message;
    if (options?.trailers) {
      this.metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(options.trailers)) this.metadata.set(k, v);
    } else {
      this.metadata = undefined;
    }
  }
}

/** Options for {@link createFlightServer}. */
export interface FlightServerOptions {
  /** Largest gRPC message accepted or sent, in bytes. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  maxMessageBytes?: number;
  /** Extra grpc-js server options (keepalive, interceptors, …). */
  grpcOptions?: grpc.ServerOptions;
}

/**
 * Creates a grpc-js server serving FlightService with the given handlers. Requests are
 * decoded by an interceptor installed before `options.grpcOptions.interceptors`, so a
 * malformed request fails with INVALID_ARGUMENT `MALFORMED_PROTOBUF` (request-decoding.ts).
 */
export function createFlightServer(handlers: FlightHandlers, options: FlightServerOptions = {}): grpc.Server {
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    ...options.grpcOptions,
    interceptors: [requestDecodingInterceptor, ...(options.grpcOptions?.interceptors ?? [])],
  });
  const impl: Record<string, unknown> = {};
  for (const name of Object.keys(FlightServiceDefinition) as (keyof FlightMethods)[]) {
    impl[name] = handlers[name] ?? unimplemented(name);
  }
  server.addService(serverServiceDefinition(), impl as grpc.UntypedServiceImplementation);
  return server;
}

function unimplemented(name: string) {
  return (call: { emit?: (e: string, err: unknown) => void }, callback?: grpc.sendUnaryData<unknown>) => {
    const err = new FlightStatusError(
      grpc.status.UNIMPLEMENTED,
      `${FLIGHT_SERVICE_NAME}/${name} is not served on this port`,
    );
    if (callback) callback(err);
    else call.emit?.('error', err);
  };
}

/**
 * Binds `server` to `host:port` (port 0 picks a free one) without TLS; resolves to the
 * bound port.
 */
export function bindInsecure(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(new Error(`cannot listen on ${address}: ${err.message}`, { cause: err }));
      else resolve(port);
    });
  });
}

/** Graceful shutdown with a deadline, after which open calls are cancelled. */
export function shutdownServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
