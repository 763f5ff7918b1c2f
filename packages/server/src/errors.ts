/**
 * The server's error catalogue: every error a client can see has a stable `code`, and one
 * table maps codes to gRPC status codes. Messages reach the client as `CODE: message`, so
 * clients can match on the code and people can read the rest.
 */
import { status } from '@grpc/grpc-js';
import { FlightStatusError } from '@longbow/flight';

/** Stable error codes, grouped by area. Append only: clients match on them. */
export const ErrorCode = {
  // Requests
  invalidDescriptor: 'INVALID_DESCRIPTOR',
  invalidTicket: 'INVALID_TICKET',
  invalidAction: 'INVALID_ACTION',
  unknownAction: 'UNKNOWN_ACTION',
  messageTooLarge: 'MESSAGE_TOO_LARGE',
  malformedIpc: 'MALFORMED_IPC',
  /** A request that is not valid protobuf; raised by @longbow/flight's request decoding. */
  malformedProtobuf: 'MALFORMED_PROTOBUF',
  // Data
  invalidSchema: 'INVALID_SCHEMA',
  schemaMismatch: 'SCHEMA_MISMATCH',
  dimensionMismatch: 'DIMENSION_MISMATCH',
  nonFiniteVector: 'NON_FINITE_VECTOR',
  invalidId: 'INVALID_ID',
  invalidQuery: 'INVALID_QUERY',
  invalidFilter: 'INVALID_FILTER',
  datasetNotFound: 'DATASET_NOT_FOUND',
  // Resources and lifecycle
  memoryLimit: 'MEMORY_LIMIT',
  notReady: 'NOT_READY',
  shuttingDown: 'SHUTTING_DOWN',
  walFailed: 'WAL_FAILED',
  internal: 'INTERNAL',
  // Snapshots and analytics
  snapshotFailed: 'SNAPSHOT_FAILED',
  noSnapshot: 'NO_SNAPSHOT',
  snapshotCorrupt: 'SNAPSHOT_CORRUPT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const GRPC_STATUS: Record<ErrorCode, status> = {
  INVALID_DESCRIPTOR: status.INVALID_ARGUMENT,
  INVALID_TICKET: status.INVALID_ARGUMENT,
  INVALID_ACTION: status.INVALID_ARGUMENT,
  UNKNOWN_ACTION: status.INVALID_ARGUMENT,
  MESSAGE_TOO_LARGE: status.INVALID_ARGUMENT,
  MALFORMED_IPC: status.INVALID_ARGUMENT,
  MALFORMED_PROTOBUF: status.INVALID_ARGUMENT,
  INVALID_SCHEMA: status.INVALID_ARGUMENT,
  SCHEMA_MISMATCH: status.INVALID_ARGUMENT,
  DIMENSION_MISMATCH: status.INVALID_ARGUMENT,
  NON_FINITE_VECTOR: status.INVALID_ARGUMENT,
  INVALID_ID: status.INVALID_ARGUMENT,
  INVALID_QUERY: status.INVALID_ARGUMENT,
  INVALID_FILTER: status.INVALID_ARGUMENT,
  DATASET_NOT_FOUND: status.NOT_FOUND,
  MEMORY_LIMIT: status.RESOURCE_EXHAUSTED,
  NOT_READY: status.UNAVAILABLE,
  SHUTTING_DOWN: status.UNAVAILABLE,
  WAL_FAILED: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
  SNAPSHOT_FAILED: status.UNAVAILABLE,
  NO_SNAPSHOT: status.FAILED_PRECONDITION,
  SNAPSHOT_CORRUPT: status.DATA_LOSS,
};

/** An error with a stable code from {@link ErrorCode}. */
export class LongbowError extends Error {
  override readonly name = 'LongbowError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The gRPC status code for an error code. */
export function grpcStatusOf(code: ErrorCode): status {
  return GRPC_STATUS[code];
}

/**
 * Converts any error into the status error a handler sends: LongbowErrors keep their code;
 * FlightStatusErrors pass through; anything else is INTERNAL (its message kept, since a
 * bug report needs it).
 */
export function toStatusError(err: unknown): FlightStatusError {
  if (err instanceof FlightStatusError) return err;
  if (err instanceof LongbowError) {
    return new FlightStatusError(GRPC_STATUS[err.code], `${err.code}: ${err.message}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new FlightStatusError(status.INTERNAL, `${ErrorCode.internal}: ${message}`, { cause: err });
}
