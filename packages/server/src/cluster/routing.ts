/**
 * The partition proxy's decision, with no I/O: which routing key a call carries, and what
 * to do with it — serve locally, forward to the owner (mode `proxy`), answer
 * FORWARD_REQUIRED (mode `redirect`, or a client that asked for redirects), or fail fast
 * (no owner, too many hops).
 *
 * Sources: DESIGN.md "Wire contract" (routing headers, FORWARD_REQUIRED) and "Cluster".
 * The interceptor (interceptor.ts) feeds this module what it read off the call; the
 * forwarder does the network part.
 */
import type { Action, FlightData, FlightDescriptor, Ticket } from '@longbow/flight';
import { DescriptorType } from '@longbow/flight';

/** Request header naming the routing key explicitly (DESIGN.md). */
export const HEADER_KEY = 'x-longbow-key';
/** Request header a routing client sends: `redirect` means "never proxy me". */
export const HEADER_ROUTING = 'x-longbow-routing';
/** Request header a proxying node adds: how many proxy hops the call has made so far. */
export const HEADER_HOPS = 'x-longbow-hops';
/** Request header a proxying node adds: its node id (for logs and loops). */
export const HEADER_FORWARDED_BY = 'x-longbow-forwarded-by';
/**
 * Request header of a listing call: `local` means "this node's own datasets only" (no
 * fan-out). Nodes send it to each other when they fan a ListFlights out; smart clients send
 * it because they ask every member themselves.
 */
export const HEADER_SCOPE = 'x-longbow-scope';
/** Trailer of a FORWARD_REQUIRED answer: the owner's node id. */
export const TRAILER_FORWARD_TARGET = 'x-longbow-forward-target';
/** Trailer of a FORWARD_REQUIRED answer: the owner's `host:port` for the same port. */
export const TRAILER_FORWARD_ADDR = 'x-longbow-forward-addr';

/**
 * Most proxy hops one call may make. One is enough when views agree; the second covers a
 * proxy whose ring is a step behind the owner's. Beyond that the views disagree and the
 * caller should retry once gossip converges.
 */
export const PROXY_HOPS_MAX = 2;

/** Routing modes (`LONGBOW_ROUTING_MODE`). */
export type RoutingMode = 'proxy' | 'redirect';
/** Which of the node's Flight servers received the call. */
export type PortKind = 'data' | 'meta';

/** Flight methods whose calls are routed by dataset; every other method is served locally. */
export const ROUTED_METHODS = ['DoPut', 'DoGet', 'GetFlightInfo', 'GetSchema', 'DoAction'] as const;
export type RoutedMethod = (typeof ROUTED_METHODS)[number];

/** True when calls of `method` (a FlightService method name) are routed. */
export function isRoutedMethod(method: string): method is RoutedMethod {
  return (ROUTED_METHODS as readonly string[]).includes(method);
}

function datasetOfDescriptor(d: FlightDescriptor | undefined): string | undefined {
  if (!d) return undefined;
  if (d.type === DescriptorType.path) return d.path?.[0] || undefined;
  if (d.type === DescriptorType.cmd && d.cmd) return datasetField(parseJson(d.cmd));
  return undefined;
}

function parseJson(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.byteLength === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

function datasetField(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const o = json as Record<string, unknown>;
  if (typeof o.dataset === 'string' && o.dataset.length > 0) return o.dataset;
  const s = o.search;
  if (typeof s === 'object' && s !== null) {
    const d = (s as Record<string, unknown>).dataset;
    if (typeof d === 'string' && d.length > 0) return d;
  }
  return undefined;
}

/**
 * The routing key of a routed call, from its first request message: the descriptor's
 * dataset (DoPut, GetFlightInfo, GetSchema; `PATH [dataset]` or `CMD {"dataset"}`), the
 * ticket's `dataset` or `search.dataset` (DoGet), or the action body's `dataset`
 * (DoAction). `undefined` when the message names none (node-level actions such as
 * `get_stats` without a dataset, or malformed input, which the local handler rejects with
 * the proper error).
 */
export function routingKeyOf(method: RoutedMethod, message: unknown): string | undefined {
  if (message === undefined || message === null) return undefined;
  switch (method) {
    case 'DoPut':
      return datasetOfDescriptor((message as FlightData).flightDescriptor);
    case 'GetFlightInfo':
    case 'GetSchema':
      return datasetOfDescriptor(message as FlightDescriptor);
    case 'DoGet':
      return datasetField(parseJson((message as Ticket).ticket));
    case 'DoAction': {
      const action = message as Action;
      if (action.type === 'cluster_status') return undefined;
      return datasetField(parseJson(action.body));
    }
  }
}

/** What the node knows about a ring member, for routing. */
export interface RouteMember {
  readonly id: string;
  /** `alive`, `suspect`, `dead` or `left`. */
  readonly state: string;
  /** Advertised Flight data address `host:port`, if the member announced one. */
  readonly dataAddr: string | undefined;
  /** Advertised Flight meta address `host:port`, if the member announced one. */
  readonly metaAddr: string | undefined;
}

/** Everything {@link decideRoute} looks at. */
export interface RouteInput {
  /** The routing key, or undefined for calls that name no dataset. */
  readonly key: string | undefined;
  readonly selfId: string;
  /** `ring.owner(key)`; undefined when the ring is empty. */
  readonly ownerId: string | undefined;
  /** The owner's member record, undefined if the member table does not know it. */
  readonly owner: RouteMember | undefined;
  readonly mode: RoutingMode;
  /** The call carries `x-longbow-routing: redirect`. */
  readonly clientWantsRedirect: boolean;
  /** Proxy hops already made (`x-longbow-hops`, 0 for a client's call). */
  readonly hops: number;
  readonly port: PortKind;
}

/** The decision: one of four outcomes. */
export type Route =
  | { readonly kind: 'local' }
  | { readonly kind: 'forward'; readonly target: string; readonly addr: string }
  | { readonly kind: 'redirect'; readonly target: string; readonly addr: string }
  | {
      readonly kind: 'fail';
      readonly code: 'NO_OWNER' | 'OWNER_UNREACHABLE' | 'TOO_MANY_HOPS';
      readonly message: string;
    };

/**
 * Decides where a call goes. Rules, in order:
 * 1. no key → local (node-level calls; malformed requests get their error locally);
 * 2. no owner on the ring → fail NO_OWNER;
 * 3. this node owns the key → local;
 * 4. the owner has no advertised address for this port, or is not live → fail
 *    OWNER_UNREACHABLE;
 * 5. redirect mode or a client that asked for redirects → redirect;
 * 6. hops already at {@link PROXY_HOPS_MAX} → fail TOO_MANY_HOPS (views disagree);
 * 7. otherwise forward to the owner.
 */
export function decideRoute(input: RouteInput): Route {
  const { key, ownerId, owner } = input;
  if (key === undefined) return { kind: 'local' };
  if (ownerId === undefined)
    return { kind: 'fail', code: 'NO_OWNER', message: `no node owns "${key}": the ring is empty` };
  if (ownerId === input.selfId) return { kind: 'local' };
  const addr = input.port === 'data' ? owner?.dataAddr : owner?.metaAddr;
  if (!owner || !addr || (owner.state !== 'alive' && owner.state !== 'suspect')) {
    return {
      kind: 'fail',
      code: 'OWNER_UNREACHABLE',
      message: `owner ${ownerId} of "${key}" is ${owner ? owner.state : 'unknown'}${addr ? '' : ' (no address)'}`,
    };
  }
  if (input.mode === 'redirect' || input.clientWantsRedirect)
    return { kind: 'redirect', target: ownerId, addr };
  if (input.hops >= PROXY_HOPS_MAX) {
    return {
      kind: 'fail',
      code: 'TOO_MANY_HOPS',
      message: `"${key}" was proxied ${input.hops} times and this node still sees ${ownerId} as owner; cluster views disagree, retry shortly`,
    };
  }
  return { kind: 'forward', target: ownerId, addr };
}

/** The FORWARD_REQUIRED status message (the Go client's format). */
export function forwardRequiredMessage(target: string, addr: string): string {
  return `FORWARD_REQUIRED: target=${target} addr=${addr}`;
}
