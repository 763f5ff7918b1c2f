/**
 * The request forwarder: a small pool of gRPC channels per peer address, used by the
 * partition proxy to open calls on the owner of a key.
 *
 * - `channelsPerPeer` channels per `host:port`, used round-robin (one HTTP/2 connection
 *   carries many calls; a second spreads large streams over two connections).
 * - Health: before a call the channel must be READY within `connectTimeoutMs`; a channel that
 *   is not is closed and replaced on the next call (reconnection without grpc-js's
 *   exponential hold-down, so a restarted peer is used again at once). `health()` reports
 *   every pool's state and consecutive failures for `cluster_status`.
 * - Peers that leave the ring are dropped with {@link Forwarder.retain}.
 *
 * Calls are opened as raw bidirectional streams: on HTTP/2 a unary or server-streaming
 * call is the same exchange with one request message, so one code path proxies every
 * Flight method.
 */
import * as grpc from '@grpc/grpc-js';
import { type FlightMethods, FlightServiceDefinition } from '@longbow/flight';

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** Channels per peer address. Default 2. */
  readonly channelsPerPeer?: number;
  /** Longest wait for a channel to a peer to become READY, ms. Default 2000. */
  readonly connectTimeoutMs?: number;
  /** Largest message either way, bytes (match the server's limit). */
  readonly maxMessageBytes: number;
}

/** Health of the channels to one peer address. */
export interface PeerHealth {
  readonly addr: string;
  /** grpc-js connectivity state names of the pool's channels (`READY`, `IDLE`, …). */
  readonly channels: readonly string[];
  /** Consecutive failed connection attempts (0 after a success). */
  readonly consecutiveFailures: number;
  readonly callCount: number;
}

/** The peer could not be reached within the connect deadline. */
export class PeerUnreachableError extends Error {
  override readonly name = 'PeerUnreachableError';
  readonly addr: string;
  constructor(addr: string, reason: string) {
    super(`cannot reach ${addr}: ${reason}`);
    this.addr = addr;
  }
}

interface Pool {
  readonly channels: grpc.Client[];
  next: number;
  consecutiveFailures: number;
  callCount: number;
}

const STATE_NAMES = Object.fromEntries(
  Object.entries(grpc.connectivityState).map(([name, v]) => [v, name]),
) as Record<number, string>;

/** A raw call on a peer: write request messages, read response messages. */
export type ForwardedCall = grpc.ClientDuplexStream<unknown, unknown>;

/** Pools of channels to peers, keyed by `host:port`. */
export class Forwarder {
  readonly channelsPerPeer: number;
  readonly connectTimeoutMs: number;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(opts: ForwarderOptions) {
    this.channelsPerPeer = opts.channelsPerPeer ?? 2;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    if (!Number.isInteger(this.channelsPerPeer) || this.channelsPerPeer < 1 || this.channelsPerPeer > 16)
      throw new RangeError(`channelsPerPeer must be 1..16, got ${this.channelsPerPeer}`);
    if (!(this.connectTimeoutMs > 0)) throw new RangeError('connectTimeoutMs must be positive');
    this.channelOptions = {
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': opts.maxMessageBytes,
      // A restarted peer should be tried again within a second, not after minutes of backoff.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // Separate channels per pool slot even to the same address.
      'grpc.use_local_subchannel_pool': 1,
    };
  }

  /**
   * Opens `method` on the peer at `addr` with `metadata`, once a channel is READY (at most
   * `connectTimeoutMs`, and never past `deadline`). The call itself carries `deadline`
   * (a Date, or Infinity for none). Rejects with {@link PeerUnreachableError}.
   */
  async open(
    addr: string,
    method: keyof FlightMethods,
    metadata: grpc.Metadata,
    deadline: grpc.Deadline,
  ): Promise<ForwardedCall> {
    if (this.closed) throw new PeerUnreachableError(addr, 'forwarder closed');
    const pool = this.pool(addr);
    const slot = pool.next++ % pool.channels.length;
    const client = pool.channels[slot]!;
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    const readyBy = Math.min(Date.now() + this.connectTimeoutMs, deadlineMs);
    try {
      await waitForReady(client, readyBy);
      pool.consecutiveFailures = 0;
    } catch (err) {
      pool.consecutiveFailures++;
      client.close();
      pool.channels[slot] = this.newChannel(addr);
      throw new PeerUnreachableError(addr, (err as Error).message);
    }
    pool.callCount++;
    const def = FlightServiceDefinition[method];
    return client.makeBidiStreamRequest(
      def.path,
      def.requestSerialize as (v: unknown) => Buffer,
      def.responseDeserialize as (b: Buffer) => unknown,
      metadata,
      Number.isFinite(deadlineMs) ? { deadline } : {},
    );
  }

  /** Closes the pools of addresses not in `addrs` (peers that left the ring). */
  retain(addrs: ReadonlySet<string>): void {
    for (const [addr, pool] of this.pools) {
      if (addrs.has(addr)) continue;
      for (const c of pool.channels) c.close();
      this.pools.delete(addr);
    }
  }

  /** Every pool's health, sorted by address. */
  health(): PeerHealth[] {
    return [...this.pools.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([addr, p]) => ({
        addr,
        channels: p.channels.map((c) => STATE_NAMES[c.getChannel().getConnectivityState(false)] ?? 'UNKNOWN'),
        consecutiveFailures: p.consecutiveFailures,
        callCount: p.callCount,
      }));
  }

  /** Closes every channel; later `open` calls fail. */
  close(): void {
    this.closed = true;
    this.retain(new Set());
  }

  private pool(addr: string): Pool {
    let pool = this.pools.get(addr);
    if (!pool) {
      const channels = Array.from({ length: this.channelsPerPeer }, () => this.newChannel(addr));
      pool = { channels, next: 0, consecutiveFailures: 0, callCount: 0 };
      this.pools.set(addr, pool);
    }
    return pool;
  }

  private newChannel(addr: string): grpc.Client {
    return new grpc.Client(addr, grpc.credentials.createInsecure(), this.channelOptions);
  }
}

/**
 * Resolves once the channel is READY; rejects at `byMs` (epoch ms), or as soon as a
 * connection attempt fails (TRANSIENT_FAILURE: refused, reset), so a dead peer on a reachable
 * host costs one round trip rather than the whole connect timeout.
 */
function waitForReady(client: grpc.Client, byMs: number): Promise<void> {
  const channel = client.getChannel();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) resolve();
      else if (state === grpc.connectivityState.TRANSIENT_FAILURE) reject(new Error('connection failed'));
      else if (state === grpc.connectivityState.SHUTDOWN) reject(new Error('channel closed'));
      else if (Date.now() >= byMs) reject(new Error('connect deadline exceeded'));
      else
        channel.watchConnectivityState(state, byMs, (err) => {
          if (err) reject(new Error('connect deadline exceeded'));
          else check();
        });
    };
    check();
  });
}
