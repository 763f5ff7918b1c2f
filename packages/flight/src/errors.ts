/**
 * The errors @longbow/flight throws on malformed input, one class per layer, each with a
 * stable `code` callers match on. Decoders throw only these for bad bytes: any other error
 * escaping a decoder is a bug (test/fuzz.test.ts holds them to that).
 */

/** Stable codes of the flight package's errors. Append only. */
export const FlightErrorCode = {
  /** Bytes are not a protobuf message of the expected shape (proto/wire.ts, messages.ts). */
  malformedProtobuf: 'MALFORMED_PROTOBUF',
  /** A FlightData header or body is not valid Arrow IPC (ipc/decoder.ts). */
  malformedIpc: 'MALFORMED_IPC',
} as const;
export type FlightErrorCode = (typeof FlightErrorCode)[keyof typeof FlightErrorCode];

/** Thrown when bytes are not a valid protobuf message of the expected shape. */
export class ProtoDecodeError extends Error {
  override readonly name = 'ProtoDecodeError';
  readonly code = FlightErrorCode.malformedProtobuf;
}

/** Malformed or unsupported Arrow IPC content in a FlightData message. */
export class IpcDecodeError extends Error {
  override readonly name = 'IpcDecodeError';
  readonly code = FlightErrorCode.malformedIpc;
}
