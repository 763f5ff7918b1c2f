/**
 * Error catalogue of the cluster package: one class per failure kind, each with a stable
 * `code` callers match on (never on the message). Causes are chained with `cause`.
 */

/** Stable error codes of `@longbow/cluster`. */
export const ClusterErrorCode = Object.freeze({
  CONFIG_INVALID: 'CLUSTER_CONFIG_INVALID',
  DECODE_FAILED: 'CLUSTER_DECODE_FAILED',
  MESSAGE_TOO_LARGE: 'CLUSTER_MESSAGE_TOO_LARGE',
  NOT_STARTED: 'CLUSTER_NOT_STARTED',
  ALREADY_STARTED: 'CLUSTER_ALREADY_STARTED',
});
export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

/** Base class: every error thrown by this package is one of these. */
export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration field is missing, malformed or out of range; `field` names it. */
export class ClusterConfigError extends ClusterError {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(ClusterErrorCode.CONFIG_INVALID, `gossip config: ${field} ${problem}`);
    this.field = field;
  }
}

/** Bytes from the network are not a valid gossip packet; `offsetBytes` is where decoding stopped. */
export class GossipDecodeError extends ClusterError {
  readonly offsetBytes: number;
  constructor(problem: string, offsetBytes: number) {
    super(ClusterErrorCode.DECODE_FAILED, `gossip decode: ${problem} at byte ${offsetBytes}`);
    this.offsetBytes = offsetBytes;
  }
}

/** A message does not fit the named limit (UDP packet or push/pull size). */
export class GossipMessageTooLargeError extends ClusterError {
  constructor(what: string, sizeBytes: number, limitBytes: number) {
    super(ClusterErrorCode.MESSAGE_TOO_LARGE, `${what} is ${sizeBytes} bytes, limit ${limitBytes}`);
  }
}

/** The node was used in the wrong lifecycle state (not started, or started twice). */
export class GossipLifecycleError extends ClusterError {}
