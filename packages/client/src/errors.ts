/**
 * The client's error catalogue. Every error a {@link LongbowClient} method throws is a
 * {@link LongbowClientError} with a stable `code`: the server's code when the server sent
 * one (status details read `CODE: message`, e.g. `DATASET_NOT_FOUND`, `OWNER_UNREACHABLE`),
 * else the gRPC status name (`UNAVAILABLE`, `DEADLINE_EXCEEDED`), or one of the client's own
 * codes below.
 */
import { status } from '@grpc/grpc-js';

/** Codes the client itself produces (append only). */
export const ClientErrorCode = {
  /** FORWARD_REQUIRED answers kept coming past `maxRedirects` (views disagree). */
  tooManyRedirects: 'TOO_MANY_REDIRECTS',
  /** No node answered `cluster_status` (every seed unreachable). */
  noNodes: 'NO_NODES',
  /** Options given to the constructor are invalid; the message names the option. */
  invalidOption: 'INVALID_OPTION',
} as const;

const STATUS_NAMES = Object.fromEntries(Object.entries(status).map(([n, c]) => [c, n])) as Record<
  number,
  string
>;

/** An error from the client, with a stable `code` and, for server errors, the gRPC status. */
export class LongbowClientError extends Error {
  override readonly name = 'LongbowClientError';
  /** Stable code to match on (server code, gRPC status name, or a {@link ClientErrorCode}). */
  readonly code: string;
  /** gRPC status code, when the error came from a call. */
  readonly grpcCode: number | undefined;
  /** Calls made for this request, redirects and retries included. */
  readonly attempts: number;

  constructor(
    code: string,
    message: string,
    options: { grpcCode?: number; attempts?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.grpcCode = options.grpcCode;
    this.attempts = options.attempts ?? 1;
  }
}

/** What grpc-js rejects with. */
export interface ServiceErrorLike {
  readonly code?: number;
  readonly details?: string;
  readonly message?: string;
  readonly metadata?: { get(key: string): unknown[] };
}

/** Turns a grpc-js error into a LongbowClientError (`CODE: message` → code). */
export function fromServiceError(err: unknown, attempts: number): LongbowClientError {
  if (err instanceof LongbowClientError) return err;
  const e = err as ServiceErrorLike;
  const details = e?.details ?? e?.message ?? String(err);
  const m = /^([A-Z][A-Z0-9_]+): /.exec(details);
  const grpcCode = typeof e?.code === 'number' ? e.code : undefined;
  const code = m?.[1] ?? (grpcCode !== undefined ? (STATUS_NAMES[grpcCode] ?? String(grpcCode)) : 'UNKNOWN');
  return new LongbowClientError(code, details, { grpcCode, attempts, cause: err });
}
