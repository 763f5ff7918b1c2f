/**
 * Deterministic discrete-event simulation of a gossip cluster: many {@link GossipCore}s on a
 * virtual clock, joined by a simulated network with loss, delay, jitter, partitions and slow
 * nodes. Same seed, same run, to the millisecond. Used by the script tests and the benches.
 *
 * A slow node models Lifeguard's motivating fault (arXiv:1707.00788 §III): its inbound
 * messages wait `slowInboundDelayMs` before it processes them (a starved event loop or
 * CPU), while its own timers keep firing on time.
 */
import { decodePacket, encodePacket } from '../gossip/codec.ts';
import type { GossipConfig } from '../gossip/config.ts';
import { GossipCore, type Outbound } from '../gossip/gossip-core.ts';
import type { MemberEvent } from '../gossip/member.ts';
import type { Packet } from '../gossip/messages.ts';
import { type Random, seededRandom } from '../gossip/random.ts';

export interface SimNetworkOptions {
  /** Probability a UDP packet is lost. TCP is reliable (but not across a partition). */
  readonly lossRate: number;
  /** One-way delay floor (ms). */
  readonly delayMs: number;
  /** Uniform extra delay in [0, jitterMs). */
  readonly jitterMs: number;
}

export interface SimOptions {
  readonly seed: number;
  readonly config: GossipConfig;
  readonly network?: Partial<SimNetworkOptions>;
  /** Round-trip every packet through the binary codec (slower, checks the wire). Default true. */
  readonly wire?: boolean;
}

/** One membership event as observed by one node. */
export interface SimEvent {
  readonly atMs: number;
  readonly observer: string;
  readonly event: MemberEvent;
}

interface SimNode {
  readonly id: string;
  readonly addr: string;
  core: GossipCore;
  crashed: boolean;
  slowInboundDelayMs: number;
  wakeAtMs: number;
  packetsSent: number;
}

type QueueItem =
  | { atMs: number; order: number; kind: 'wake'; node: string }
  | { atMs: number; order: number; kind: 'deliver'; node: string; from: string; data: Packet | Uint8Array };

/** Binary min-heap on (atMs, order): equal times run in insertion order. */
class EventQueue {
  private readonly heap: QueueItem[] = [];
  get length(): number {
    return this.heap.length;
  }
  push(item: QueueItem): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  peek(): QueueItem | undefined {
    return this.heap[0];
  }
  pop(): QueueItem | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: QueueItem, b: QueueItem): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
}

export class Simulation {
  nowMs = 0;
  readonly events: SimEvent[] = [];
  /** Called for every event as it happens (after it is appended to `events`). */
  onEvent: ((e: SimEvent) => void) | undefined;
  private readonly cfg: GossipConfig;
  private readonly random: Random;
  private readonly seed: number;
  private readonly net: SimNetworkOptions;
  private readonly wire: boolean;
  private readonly nodes = new Map<string, SimNode>();
  private readonly byAddr = new Map<string, string>();
  private readonly queue = new EventQueue();
  private order = 0;
  private groupOf: Map<string, number> | undefined;
  private restartCount = 0;

  constructor(opts: SimOptions) {
    this.cfg = opts.config;
    this.seed = opts.seed;
    this.random = seededRandom(opts.seed);
    this.net = { lossRate: 0, delayMs: 1, jitterMs: 2, ...opts.network };
    this.wire = opts.wire ?? true;
  }

  setNetwork(net: Partial<SimNetworkOptions>): void {
    Object.assign(this.net, net);
  }

  /** Adds a node and, if seeds are given, joins through them. */
  addNode(id: string, seeds: readonly string[] = []): void {
    const addr = `${id}:7946`;
    const core = this.newCore(id, addr);
    const node: SimNode = {
      id,
      addr,
      core,
      crashed: false,
      slowInboundDelayMs: 0,
      wakeAtMs: Infinity,
      packetsSent: 0,
    };
    this.nodes.set(id, node);
    this.byAddr.set(addr, id);
    this.apply(node, core.tick(this.nowMs));
    if (seeds.length > 0)
      this.apply(
        node,
        core.join(
          this.nowMs,
          seeds.map((s) => `${s}:7946`),
        ),
      );
  }

  /** Stops a node dead: no more ticks, sends or deliveries (SIGKILL). */
  crash(id: string): void {
    this.node(id).crashed = true;
  }

  /** Starts a crashed node again with fresh state (incarnation 0) and joins through seeds. */
  restart(id: string, seeds: readonly string[]): void {
    const n = this.node(id);
    n.core = this.newCore(id, n.addr);
    n.crashed = false;
    n.wakeAtMs = Infinity;
    this.apply(n, n.core.tick(this.nowMs));
    this.apply(
      n,
      n.core.join(
        this.nowMs,
        seeds.map((s) => `${s}:7946`),
      ),
    );
  }

  leave(id: string): void {
    const n = this.node(id);
    this.apply(n, n.core.leave(this.nowMs));
  }

  /** Splits the network: packets only flow within a group. Nodes not listed form their own group. */
  partition(groups: readonly (readonly string[])[]): void {
    this.groupOf = new Map();
    groups.forEach((g, i) => {
      for (const id of g) this.groupOf!.set(id, i);
    });
  }

  heal(): void {
    this.groupOf = undefined;
  }

  setSlow(id: string, inboundDelayMs: number): void {
    this.node(id).slowInboundDelayMs = inboundDelayMs;
  }

  core(id: string): GossipCore {
    return this.node(id).core;
  }

  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  isCrashed(id: string): boolean {
    return this.node(id).crashed;
  }

  /** Packets sent by all nodes so far. */
  packetsSent(): number {
    let n = 0;
    for (const node of this.nodes.values()) n += node.packetsSent;
    return n;
  }

  /** Advances virtual time by `durationMs`, processing everything due. */
  runFor(durationMs: number): void {
    this.runUntil(this.nowMs + durationMs);
  }

  runUntil(endMs: number, stop?: () => boolean): void {
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.atMs > endMs) break;
      this.queue.pop();
      this.nowMs = next.atMs;
      this.process(next);
      if (stop?.()) return;
    }
    this.nowMs = endMs;
  }

  private process(item: QueueItem): void {
    const n = this.nodes.get(item.node);
    if (!n || n.crashed) return;
    if (item.kind === 'wake') {
      if (item.atMs !== n.wakeAtMs) return;
      n.wakeAtMs = Infinity;
      this.apply(n, n.core.tick(this.nowMs));
      return;
    }
    const fromAddr = `${item.from}:7946`;
    if (item.data instanceof Uint8Array) {
      const decoded = decodePacket(item.data);
      this.apply(n, n.core.step(this.nowMs, decoded.packet, fromAddr));
    } else {
      this.apply(n, n.core.step(this.nowMs, item.data, fromAddr));
    }
  }

  private apply(n: SimNode, out: { sends: Outbound[]; events: MemberEvent[]; nextWakeMs: number }): void {
    for (const event of out.events) {
      const e = { atMs: this.nowMs, observer: n.id, event };
      this.events.push(e);
      this.onEvent?.(e);
    }
    for (const s of out.sends) this.send(n, s);
    if (out.nextWakeMs < n.wakeAtMs) {
      n.wakeAtMs = out.nextWakeMs;
      this.queue.push({ atMs: out.nextWakeMs, order: this.order++, kind: 'wake', node: n.id });
    }
  }

  private send(from: SimNode, s: Outbound): void {
    from.packetsSent++;
    const to = this.byAddr.get(s.to);
    if (to === undefined) return;
    if (
      this.groupOf &&
      (this.groupOf.get(from.id) ?? -1 - hash(from.id)) !== (this.groupOf.get(to) ?? -1 - hash(to))
    ) {
      return;
    }
    // Draw randomness in a fixed order whatever the outcome, so runs stay comparable.
    const lossDraw = this.random.next();
    const jitterDraw = this.random.next();
    if (s.transport === 'udp' && lossDraw < this.net.lossRate) return;
    const dest = this.nodes.get(to)!;
    const delayMs =
      (s.transport === 'tcp' ? 3 : 1) * this.net.delayMs +
      Math.floor(jitterDraw * this.net.jitterMs) +
      dest.slowInboundDelayMs;
    const data = this.wire ? encodePacket(s.packet) : s.packet;
    this.queue.push({
      atMs: this.nowMs + delayMs,
      order: this.order++,
      kind: 'deliver',
      node: to,
      from: from.id,
      data,
    });
  }

  private newCore(id: string, addr: string): GossipCore {
    const seed = (this.seed * 31 + hash(id) + this.restartCount++ * 7919) >>> 0;
    return new GossipCore({
      config: this.cfg,
      addr,
      meta: { nodeId: id, dataAddr: `${id}:3000`, metaAddr: `${id}:3001`, version: 'sim' },
      random: seededRandom(seed),
      nowMs: this.nowMs,
    });
  }

  private node(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new RangeError(`no simulated node ${id}`);
    return n;
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
