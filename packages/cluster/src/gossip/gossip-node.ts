/**
 * The I/O adapter around {@link GossipCore}: it owns the UDP socket (probes and gossip), the
 * TCP listener and connections (push/pull), the one timer, the monotonic clock, seed
 * discovery and the events API. Everything protocol-related lives in the core; this file
 * only moves bytes and time in and out of it.
 *
 * TCP framing for push/pull: `length:u32be packet`, one frame per connection, at most
 * PUSH_PULL_SIZE_MAX_BYTES. A reply travels on a new connection to the requester's
 * advertised address, so the core needs no connection state.
 */
import { randomInt as cryptoRandomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ClusterErrorCode, GossipLifecycleError } from '../errors.ts';
import { decodePacket, encodePacket, PUSH_PULL_SIZE_MAX_BYTES } from './codec.ts';
import { type GossipConfig, isWildcard, joinHostPort, splitHostPort } from './config.ts';
import { type CoreOutput, GossipCore, type GossipStats, type Outbound } from './gossip-core.ts';
import type { Member, MemberEventType } from './member.ts';
import type { MemberMeta } from './messages.ts';
import { seededRandom } from './random.ts';
import { type LookupAll, resolveSeeds } from './seeds.ts';

/** `stop()` waits at most this long for datagrams already handed to the socket. */
export const STOP_DRAIN_TIMEOUT_MS = 1000;

export interface GossipNodeOptions {
  readonly config: GossipConfig;
  readonly meta: MemberMeta;
  /** Seed of the protocol's random source; default from `crypto`. Fix it to replay. */
  readonly randomSeed?: number;
  /** DNS lookup for `dnsRecord` seeds; default `dns.promises.lookup`. */
  readonly lookup?: LookupAll;
}

/** Adapter-level counters on top of the core's. */
export interface GossipNodeStats extends GossipStats {
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** UDP sends and TCP connections that failed (peer gone, refused, timed out). */
  readonly transportErrorCount: number;
}

/** Events: a member, or for `warning` an error that was handled (bad packet, DNS failure). */
export type GossipNodeEvents = { [K in MemberEventType]: [Member] } & { warning: [Error] };

type Phase = 'new' | 'running' | 'stopped';

export class GossipNode extends EventEmitter<GossipNodeEvents> {
  private readonly cfg: GossipConfig;
  private readonly meta: MemberMeta;
  private readonly randomSeed: number;
  private readonly lookup: LookupAll | undefined;
  private core: GossipCore | undefined;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Infinity;
  private joinTimer: NodeJS.Timeout | undefined;
  private phase: Phase = 'new';
  private boundPort = 0;
  private advertised = '';
  private bytesSent = 0;
  private bytesReceived = 0;
  private transportErrorCount = 0;
  private readonly afterFlush = new Set<() => void>();
  private udpSendsInFlight = 0;
  private onUdpDrained: (() => void) | undefined;

  constructor(opts: GossipNodeOptions) {
    super();
    this.cfg = opts.config;
    this.meta = opts.meta;
    this.randomSeed = opts.randomSeed ?? cryptoRandomInt(2 ** 31);
    this.lookup = opts.lookup;
  }

  /** The `host:port` peers use for this node (known after `start`). */
  get addr(): string {
    return this.advertised;
  }

  /** The bound UDP/TCP port (useful with `port: 0`). */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Binds UDP and TCP, joins through the seeds, and resolves once a seed answered or
   * `joinTimeoutMs` passed. No seed answering is not an error (the first node of a cluster
   * has nobody to join); joining is retried every `joinRetryIntervalMs` while alone.
   */
  async start(): Promise<void> {
    if (this.phase !== 'new')
      throw new GossipLifecycleError(ClusterErrorCode.ALREADY_STARTED, 'gossip node already started');
    this.phase = 'running';
    await this.bind();
    this.core = new GossipCore({
      config: this.cfg,
      addr: this.advertised,
      meta: this.meta,
      random: seededRandom(this.randomSeed),
      nowMs: this.nowMs(),
    });
    this.apply(this.core.tick(this.nowMs()));
    const seedCount = await this.joinSeeds();
    if (seedCount > 0) await this.waitFor(() => this.core!.liveCount() > 1, this.cfg.joinTimeoutMs);
    this.joinTimer = setInterval(() => {
      if (this.core && this.core.liveCount() <= 1) void this.joinSeeds();
    }, this.cfg.joinRetryIntervalMs);
    this.joinTimer.unref();
  }

  /**
   * Graceful leave: tells the cluster this node is leaving and resolves when the news has
   * been sent its full retransmit count, or after `timeoutMs`. Call {@link stop} afterwards.
   */
  async leave(timeoutMs: number): Promise<void> {
    const core = this.requireCore();
    this.apply(core.leave(this.nowMs()));
    await this.waitFor(() => core.leaveBroadcastSent, timeoutMs);
  }

  /** Closes sockets and timers. Without a prior `leave`, peers will detect this node as failed. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    clearTimeout(this.timer);
    clearInterval(this.joinTimer);
    for (const done of this.afterFlush) done();
    // Let queued datagrams (a leave broadcast, say) reach the wire before closing.
    if (this.udpSendsInFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, STOP_DRAIN_TIMEOUT_MS);
        this.onUdpDrained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    for (const c of this.connections) c.destroy();
    await Promise.all([
      new Promise<void>((resolve) => (this.udp ? this.udp.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve())),
    ]);
  }

  /** Every known member, this node included, sorted by id. */
  members(): Member[] {
    return this.core ? this.core.members() : [];
  }

  /** Announces new metadata (for example a changed data address). */
  setMeta(meta: MemberMeta): void {
    this.apply(this.requireCore().setMeta(this.nowMs(), meta));
  }

  stats(): GossipNodeStats {
    const core = this.requireCore();
    return {
      ...core.stats(),
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      transportErrorCount: this.transportErrorCount,
    };
  }

  // ---------------------------------------------------------------- plumbing

  private nowMs(): number {
    return Math.floor(performance.now());
  }

  private requireCore(): GossipCore {
    if (!this.core || this.phase !== 'running') {
      throw new GossipLifecycleError(ClusterErrorCode.NOT_STARTED, 'gossip node is not running');
    }
    return this.core;
  }

  /** Resolves seeds and sends each (but ourselves) a join push/pull; returns how many. */
  private async joinSeeds(): Promise<number> {
    const { addrs, dnsError } = await resolveSeeds(this.cfg, this.lookup);
    if (dnsError) this.emit('warning', dnsError);
    if (this.phase !== 'running' || !this.core) return 0;
    const others = addrs.filter((a) => a !== this.advertised);
    this.apply(this.core.join(this.nowMs(), others));
    return others.length;
  }

  /** Resolves when `done()` holds after a core call, or after `timeoutMs`. */
  private waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(t);
        this.afterFlush.delete(check);
        resolve();
      };
      const check = (): void => {
        if (done() || this.phase === 'stopped') finish();
      };
      const t = setTimeout(finish, timeoutMs);
      this.afterFlush.add(check);
    });
  }

  private async bind(): Promise<void> {
    const type = this.cfg.bindAddr.includes(':') ? 'udp6' : 'udp4';
    // With port 0 the UDP port is picked first and TCP must get the same one: retry on a clash.
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type, reuseAddr: false });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.cfg.port, this.cfg.bindAddr, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      const tcp = net.createServer((socket) => this.onConnection(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, this.cfg.bindAddr, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        if (this.cfg.port !== 0 || attempt >= 10) throw err;
        continue;
      }
      udp.on('message', (msg, rinfo) => this.onDatagram(msg, joinHostPort(rinfo.address, rinfo.port)));
      udp.on('error', (err) => this.emit('warning', err));
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      this.advertised = this.cfg.advertiseAddr ?? joinHostPort(defaultAdvertiseHost(this.cfg.bindAddr), port);
      return;
    }
  }

  private onDatagram(msg: Buffer, fromAddr: string): void {
    if (this.phase !== 'running' || !this.core) return;
    this.bytesReceived += msg.length;
    let decoded: ReturnType<typeof decodePacket>;
    try {
      decoded = decodePacket(msg);
    } catch (err) {
      this.core.noteMalformed();
      this.emit('warning', err as Error);
      return;
    }
    if (decoded.skippedCount > 0) this.core.noteMalformed(decoded.skippedCount, false);
    this.apply(this.core.step(this.nowMs(), decoded.packet, fromAddr));
  }

  private onConnection(socket: net.Socket): void {
    this.connections.add(socket);
    socket.setTimeout(this.cfg.tcpTimeoutMs, () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => this.transportErrorCount++);
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      receivedBytes += chunk.length;
      if (receivedBytes > PUSH_PULL_SIZE_MAX_BYTES + 4) {
        this.emit('warning', new Error(`push/pull frame over ${PUSH_PULL_SIZE_MAX_BYTES} bytes`));
        socket.destroy();
      }
    });
    socket.on('end', () => {
      socket.end();
      const frame = Buffer.concat(chunks);
      if (frame.length < 4 || frame.readUInt32BE(0) !== frame.length - 4) {
        this.core?.noteMalformed();
        this.emit('warning', new Error('push/pull frame length mismatch'));
        return;
      }
      this.onDatagram(frame.subarray(4), `${socket.remoteAddress}:${socket.remotePort}`);
    });
  }

  private apply(out: CoreOutput): void {
    if (this.phase !== 'running') return;
    for (const s of out.sends) this.send(s);
    for (const e of out.events) this.emit(e.type, e.member);
    this.schedule(out.nextWakeMs);
    for (const check of [...this.afterFlush]) check();
  }

  private schedule(atMs: number): void {
    if (atMs >= this.timerAtMs && this.timer) return;
    clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtMs = Infinity;
        if (this.phase === 'running' && this.core) this.apply(this.core.tick(this.nowMs()));
      },
      Math.max(0, atMs - this.nowMs()),
    );
  }

  private send(s: Outbound): void {
    const hp = splitHostPort(s.to);
    if (!hp) {
      this.transportErrorCount++;
      return;
    }
    const bytes = encodePacket(s.packet);
    this.bytesSent += bytes.length;
    if (s.transport === 'udp') {
      if (!this.udp) return;
      this.udpSendsInFlight++;
      this.udp.send(bytes, hp.port, hp.host, (err) => {
        if (err) this.transportErrorCount++;
        this.udpSendsInFlight--;
        if (this.udpSendsInFlight === 0) this.onUdpDrained?.();
      });
      return;
    }
    const frame = Buffer.alloc(4 + bytes.length);
    frame.writeUInt32BE(bytes.length, 0);
    frame.set(bytes, 4);
    const socket = net.connect({ host: hp.host, port: hp.port });
    this.connections.add(socket);
    socket.setTimeout(this.cfg.tcpTimeoutMs, () => socket.destroy());
    socket.on('error', () => this.transportErrorCount++);
    socket.on('close', () => this.connections.delete(socket));
    socket.end(frame);
    socket.resume();
  }
}

/** First non-internal IPv4 address when bound to a wildcard, else the bind address. */
function defaultAdvertiseHost(bindAddr: string): string {
  if (!isWildcard(bindAddr)) return bindAddr;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
