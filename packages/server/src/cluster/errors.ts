/**
 * Errors of the partition proxy, as the gRPC statuses clients see. Codes are stable:
 *
 * | code | gRPC status | when |
 * |---|---|---|
 * | FORWARD_REQUIRED | FAILED_PRECONDITION | redirect mode (or `x-longbow-routing: redirect`) and another node owns the key; message `FORWARD_REQUIRED: target=<nodeId> addr=<host:port>`, trailers `x-longbow-forward-target`, `x-longbow-forward-addr` |
 * | NO_OWNER | UNAVAILABLE | the ring is empty (gossip not started or every member gone) |
 * | OWNER_UNREACHABLE | UNAVAILABLE | the owner is dead/unknown, or the forwarder could not reach it within the connect deadline |
 * | TOO_MANY_HOPS | UNAVAILABLE | the call was already proxied `PROXY_HOPS_MAX` times: views disagree, retry |
 * | MEMBER_UNREACHABLE | UNAVAILABLE | a cluster-wide ListFlights got no answer from a live member (a partial list would look like lost data) |
 */
import { status } from '@grpc/grpc-js';
import { FlightStatusError } from '@longbow/flight';
import { forwardRequiredMessage, TRAILER_FORWARD_ADDR, TRAILER_FORWARD_TARGET } from './routing.ts';

/** Stable codes of routing failures (append only). */
export const RoutingErrorCode = {
  forwardRequired: 'FORWARD_REQUIRED',
  noOwner: 'NO_OWNER',
  ownerUnreachable: 'OWNER_UNREACHABLE',
  tooManyHops: 'TOO_MANY_HOPS',
  memberUnreachable: 'MEMBER_UNREACHABLE',
} as const;
export type RoutingErrorCode = (typeof RoutingErrorCode)[keyof typeof RoutingErrorCode];

/** The FORWARD_REQUIRED status, exactly as DESIGN.md fixes it. */
export function forwardRequiredError(target: string, addr: string): FlightStatusError {
  return new FlightStatusError(status.FAILED_PRECONDITION, forwardRequiredMessage(target, addr), {
    trailers: { [TRAILER_FORWARD_TARGET]: target, [TRAILER_FORWARD_ADDR]: addr },
  });
}

/** An UNAVAILABLE status `CODE: message` for the codes that mean "retry later or elsewhere". */
export function unavailableError(
  code: Exclude<RoutingErrorCode, 'FORWARD_REQUIRED'>,
  message: string,
): FlightStatusError {
  return new FlightStatusError(status.UNAVAILABLE, `${code}: ${message}`);
}
