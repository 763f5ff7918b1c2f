/**
 * The partition proxy: a grpc-js server interceptor installed on both Flight servers.
 *
 * For a routed method (routing.ts) it holds the call until it knows the routing key — the
 * `x-longbow-key` header, else the first request message — asks the router for a
 * {@link Route}, then:
 * - `local`: replays what it held (metadata, first message, a half-close) to the handler,
 *   in order, and steps out of the way;
 * - `forward`: never starts the handler; opens the same method on the owner through the
 *   forwarder and pipes messages both ways with backpressure (one request message in flight
 *   to the owner's flow control; the owner's stream paused until each response is written),
 *   carrying the caller's deadline and cancelling the owner's call when the caller goes away;
 * - `redirect` / `fail`: ends the call with FORWARD_REQUIRED or UNAVAILABLE (errors.ts).
 *
 * Other methods pass straight through. The routing decision itself is pure (routing.ts);
 * this file is the I/O around it.
 */
import * as grpc from '@grpc/grpc-js';
import type { FlightStatusError } from '@longbow/flight';

/** The listener grpc-js hands an interceptor's `start` (not exported under this name). */
type ServerListener = Parameters<grpc.ServerInterceptingCallInterface['start']>[0];
/** A status to end a call with (grpc-js's PartialStatusObject). */
type CallStatus = Parameters<grpc.ServerInterceptingCallInterface['sendStatus']>[0];

import { forwardRequiredError, unavailableError } from './errors.ts';
import type { ForwardedCall, Forwarder } from './forwarder.ts';
import {
  HEADER_FORWARDED_BY,
  HEADER_HOPS,
  HEADER_KEY,
  HEADER_ROUTING,
  isRoutedMethod,
  type PortKind,
  type Route,
  type RoutedMethod,
  routingKeyOf,
} from './routing.ts';

/** How a routed call ended up, for `longbow_proxy_requests_total{outcome}`. */
export type ProxyOutcome = 'local' | 'forwarded' | 'redirected' | 'unavailable';

/** What the interceptor needs from the cluster wiring. */
export interface ProxyDeps {
  readonly port: PortKind;
  readonly selfId: string;
  /** Decides a call's route (cluster.ts closes over the ring, members and mode). */
  route(key: string | undefined, port: PortKind, clientWantsRedirect: boolean, hops: number): Route;
  readonly forwarder: Forwarder;
  /** Counts one routed call's outcome. */
  onOutcome(method: string, outcome: ProxyOutcome): void;
  /** Starts timing a forwarded call; the returned function stops the timer. */
  startForwardTimer(method: string): () => void;
  /** Logs a forwarding failure (debug level: the caller sees the status). */
  onForwardError(method: string, addr: string, err: Error): void;
}

/** Headers never copied between calls: HTTP/2 and gRPC transport headers. */
function isTransportHeader(key: string): boolean {
  return (
    key.startsWith(':') ||
    key.startsWith('grpc-') ||
    key === 'content-type' ||
    key === 'te' ||
    key === 'user-agent' ||
    key === 'date' ||
    key === 'content-length'
  );
}

function copyMetadata(from: grpc.Metadata | undefined): grpc.Metadata {
  const out = new grpc.Metadata();
  if (!from) return out;
  for (const [k, values] of Object.entries(from.toJSON())) {
    if (isTransportHeader(k)) continue;
    for (const v of values as (string | Buffer)[]) out.add(k, v);
  }
  return out;
}

function firstString(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function statusOf(err: FlightStatusError): CallStatus {
  return { code: err.code, details: err.details, metadata: err.metadata ?? null };
}

/** Builds the interceptor for one of the node's servers. */
export function partitionInterceptor(deps: ProxyDeps): grpc.ServerInterceptor {
  return (descriptor, call) => {
    const method = descriptor.path.slice(descriptor.path.lastIndexOf('/') + 1);
    if (!isRoutedMethod(method)) return new grpc.ServerInterceptingCall(call);
    return new RoutingCall(call, method, deps);
  };
}

type Phase = 'deciding' | 'replaying' | 'local' | 'proxy' | 'done';

/**
 * One routed call. Extends ServerInterceptingCall so grpc-js chains it like any
 * interceptor; `start` is replaced so the handler's listener is only started for local
 * calls.
 */
class RoutingCall extends grpc.ServerInterceptingCall {
  private readonly inner: grpc.ServerInterceptingCallInterface;
  private readonly method: RoutedMethod;
  private readonly deps: ProxyDeps;
  private phase: Phase = 'deciding';
  private handler: ServerListener | undefined;
  private metadata: grpc.Metadata | undefined;
  private first: { message: unknown } | undefined;
  private halfClosed = false;
  private cancelled = false;
  private readonly replayQueue: Array<() => void> = [];
  private upstream: ForwardedCall | undefined;

  constructor(inner: grpc.ServerInterceptingCallInterface, method: RoutedMethod, deps: ProxyDeps) {
    super(inner);
    this.inner = inner;
    this.method = method;
    this.deps = deps;
  }

  override start(listener: ServerListener): void {
    this.handler = listener;
    this.inner.start({
      onReceiveMetadata: (md) => this.onMetadata(md),
      onReceiveMessage: (msg) => this.onMessage(msg),
      onReceiveHalfClose: () => this.onHalfClose(),
      onCancel: () => this.onCancel(),
    });
  }

  private onMetadata(md: grpc.Metadata): void {
    this.metadata = md;
    const key = firstString(md, HEADER_KEY);
    if (key !== undefined) this.decide(key);
    else this.inner.startRead();
  }

  private onMessage(message: unknown): void {
    switch (this.phase) {
      case 'deciding':
        this.first = { message };
        this.decide(routingKeyOf(this.method, message));
        return;
      case 'replaying':
        this.replayQueue.push(() => this.handler!.onReceiveMessage(message));
        return;
      case 'local':
        this.handler!.onReceiveMessage(message);
        return;
      case 'proxy':
        this.writeUpstream(message);
        return;
      case 'done':
        return;
    }
  }

  private onHalfClose(): void {
    switch (this.phase) {
      case 'deciding':
        // A call that ended without a message: nothing to route by; the handler answers.
        this.halfClosed = true;
        this.decide(undefined);
        return;
      case 'replaying':
        this.replayQueue.push(() => this.handler!.onReceiveHalfClose());
        return;
      case 'local':
        this.handler!.onReceiveHalfClose();
        return;
      case 'proxy':
        this.halfClosed = true;
        this.upstream?.end();
        return;
      case 'done':
        return;
    }
  }

  private onCancel(): void {
    this.cancelled = true;
    if (this.phase === 'local' || this.phase === 'replaying') this.handler!.onCancel();
    else if (this.upstream) this.upstream.cancel();
    this.phase = 'done';
  }

  private decide(key: string | undefined): void {
    const md = this.metadata!;
    const hops = Number(firstString(md, HEADER_HOPS) ?? 0) || 0;
    const wantsRedirect = firstString(md, HEADER_ROUTING) === 'redirect';
    const route = this.deps.route(key, this.deps.port, wantsRedirect, hops);
    switch (route.kind) {
      case 'local':
        this.deps.onOutcome(this.method, 'local');
        this.replayLocal();
        return;
      case 'redirect':
        this.deps.onOutcome(this.method, 'redirected');
        this.finish(statusOf(forwardRequiredError(route.target, route.addr)));
        return;
      case 'fail':
        this.deps.onOutcome(this.method, 'unavailable');
        this.finish(statusOf(unavailableError(route.code, route.message)));
        return;
      case 'forward':
        this.phase = 'proxy';
        void this.forward(route.target, route.addr, hops);
        return;
    }
  }

  /** Hands the held events to the handler in arrival order, then steps aside. */
  private replayLocal(): void {
    const handler = this.handler!;
    this.phase = 'replaying';
    handler.onReceiveMetadata(this.metadata!);
    if (this.first) handler.onReceiveMessage(this.first.message);
    if (this.halfClosed) handler.onReceiveHalfClose();
    for (const event of this.replayQueue.splice(0)) event();
    if (this.phase === 'replaying') this.phase = 'local';
  }

  private finish(status: CallStatus): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.inner.sendStatus(status);
  }

  private async forward(target: string, addr: string, hops: number): Promise<void> {
    const { deps, method } = this;
    const md = copyMetadata(this.metadata);
    md.set(HEADER_HOPS, String(hops + 1));
    md.set(HEADER_FORWARDED_BY, deps.selfId);
    const stopTimer = deps.startForwardTimer(method);
    let upstream: ForwardedCall;
    try {
      upstream = await deps.forwarder.open(addr, method, md, this.inner.getDeadline());
    } catch (err) {
      stopTimer();
      deps.onOutcome(method, 'unavailable');
      deps.onForwardError(method, addr, err as Error);
      this.finish(
        statusOf(
          unavailableError(
            'OWNER_UNREACHABLE',
            `owner ${target} of this key at ${addr}: ${(err as Error).message}`,
          ),
        ),
      );
      return;
    }
    if (this.cancelled || this.phase === 'done') {
      upstream.cancel();
      stopTimer();
      return;
    }
    deps.onOutcome(method, 'forwarded');
    this.upstream = upstream;
    this.pipeResponses(upstream, stopTimer, `owner ${target} of this key at ${addr}`);
    if (this.first) this.writeUpstream(this.first.message);
    else if (this.halfClosed) upstream.end();
    else this.inner.startRead();
  }

  /** Writes one request message to the owner; reads the next once the owner can take it. */
  private writeUpstream(message: unknown): void {
    const upstream = this.upstream!;
    const ok = upstream.write(message);
    const readNext = (): void => {
      if (this.phase !== 'proxy') return;
      if (this.halfClosed) upstream.end();
      else this.inner.startRead();
    };
    if (ok) readNext();
    else upstream.once('drain', readNext);
  }

  /**
   * Relays the owner's headers, messages and status. An UNAVAILABLE from the transport
   * before the owner sent anything means the connection died under the call (the owner
   * crashed): reported as OWNER_UNREACHABLE, like a failed connect.
   */
  private pipeResponses(upstream: ForwardedCall, stopTimer: () => void, ownerText: string): void {
    let sending = 0;
    let ended = false;
    let answered = false;
    let status: grpc.StatusObject | undefined;
    const maybeFinish = (): void => {
      if (!status || sending > 0) return;
      if (status.code === grpc.status.OK && !ended) return;
      stopTimer();
      // A Longbow answer (`CODE: message`, e.g. SHUTTING_DOWN) is the owner's word: relayed as is.
      if (status.code === grpc.status.UNAVAILABLE && !answered && !/^[A-Z][A-Z_]+: /.test(status.details)) {
        this.deps.onForwardError(this.method, ownerText, new Error(status.details));
        this.finish(statusOf(unavailableError('OWNER_UNREACHABLE', `${ownerText}: ${status.details}`)));
        return;
      }
      this.finish({ code: status.code, details: status.details, metadata: copyMetadata(status.metadata) });
    };
    upstream.on('metadata', (md: grpc.Metadata) => {
      answered = true;
      if (this.phase === 'proxy') this.inner.sendMetadata(copyMetadata(md));
    });
    upstream.on('data', (message: unknown) => {
      if (this.phase !== 'proxy') return;
      sending++;
      upstream.pause();
      this.inner.sendMessage(message, () => {
        sending--;
        upstream.resume();
        maybeFinish();
      });
    });
    upstream.on('end', () => {
      ended = true;
      maybeFinish();
    });
    upstream.on('error', () => {}); // the 'status' event carries the same information
    upstream.on('status', (s: grpc.StatusObject) => {
      status = s;
      maybeFinish();
    });
  }
}
