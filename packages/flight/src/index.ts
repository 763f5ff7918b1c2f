/**
 * @longbow/flight — Apache Arrow Flight for Node. Knows nothing about vectors.
 *
 * - proto: hand-written codecs for the Flight.proto messages (zero-copy FlightData decode)
 * - service: the grpc-js FlightService definition
 * - ipc: RecordBatch ⇄ FlightData with dictionaries and LZ4_FRAME/ZSTD bodies
 * - server / client: helpers to serve and call Flight
 * - errors: the decode errors, with stable codes
 */
export {
  byFlightName,
  type CallOptions,
  FlightClient,
  type FlightClientOptions,
  flightName,
  pathDescriptor,
} from './client.ts';
export { FlightErrorCode, IpcDecodeError, ProtoDecodeError } from './errors.ts';
export {
  type BodyCodec,
  type CompressionName,
  codecForName,
  codecForType,
  parseCompressionName,
} from './ipc/compression.ts';
export { type Decoded, decodeEncapsulatedSchema, IpcDecoder } from './ipc/decoder.ts';
export { encapsulateSchema, IpcEncoder, toIpcStream } from './ipc/encoder.ts';
export * from './proto/messages.ts';
export {
  bindInsecure,
  createFlightServer,
  DEFAULT_MAX_MESSAGE_BYTES,
  type FlightHandlers,
  type FlightServerOptions,
  FlightStatusError,
  shutdownServer,
} from './server.ts';
export { FLIGHT_SERVICE_NAME, type FlightMethods, FlightServiceDefinition } from './service.ts';
