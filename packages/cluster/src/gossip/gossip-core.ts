/**
 * The SWIM + Lifeguard protocol as a pure state machine.
 *
 * Inputs: `tick(nowMs)`, `step(nowMs, packet, fromAddr)`, `join`, `leave`, `setMeta`.
 * Output of each: packets to send (UDP or TCP), membership events, and the time the core
 * next wants a `tick`. No sockets, timers or global randomness inside: time is passed in
 * and randomness comes from an injected seeded source, so the same code runs on real UDP
 * (gossip-node.ts) and in the deterministic simulation (sim/).
 *
 * Sources: SWIM (Das, Gupta, Motivala, DSN 2002) §3 failure detection with randomized
 * round-robin probing and k indirect probes, §4 suspicion with incarnation numbers and
 * infection-style dissemination piggybacked on protocol messages; Lifeguard (Dadgar et al.
 * 2018, arXiv:1707.00788) §IV local health awareness (awareness.ts), dynamic suspicion
 * (suspicion.ts) and the buddy system; memberlist for push/pull anti-entropy and the
 * merge rules; serf for reconnecting to failed members after a partition.
 */
import { Awareness } from './awareness.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.ts';
import { encodedSizeBytes, PACKET_HEADER_BYTES, PACKET_MESSAGE_COUNT_MAX } from './codec.ts';
import type { GossipConfig } from './config.ts';
import { isLive, type Member, type MemberEvent, type MemberEventType } from './member.ts';
import {
  type AliveMessage,
  type BroadcastMessage,
  type DeadMessage,
  MESSAGE_TYPES,
  type MemberMeta,
  type MemberStateName,
  type Message,
  type MessageType,
  type Packet,
  type PushPullMessage,
  type SuspectMessage,
} from './messages.ts';
import { type Random, randomInt, shuffle } from './random.ts';
import { Suspicion, suspicionMinTimeoutMs } from './suspicion.ts';

/** A packet the adapter must send. `tcp` is used for push/pull only. */
export interface Outbound {
  readonly to: string;
  readonly transport: 'udp' | 'tcp';
  readonly packet: Packet;
}

/** What one call into the core produced. */
export interface CoreOutput {
  readonly sends: Outbound[];
  readonly events: MemberEvent[];
  /** Absolute time of the next `tick` the core needs (ms). */
  readonly nextWakeMs: number;
}

/** Message counts by type and direction (prom-client-free; the server exports them). */
export interface GossipStats {
  readonly messages: Record<MessageType, { sent: number; received: number }>;
  readonly packetsSent: number;
  readonly packetsReceived: number;
  /** Messages of unknown type skipped, packets that failed to decode, stale or misdirected pings. */
  readonly dropped: {
    readonly unknownType: number;
    readonly malformed: number;
    readonly misdirected: number;
    /** New members not added because the table was full of live ones (memberCountMax). */
    readonly memberTableFull: number;
    /** Indirect probe requests refused (RELAY_COUNT_MAX). */
    readonly relayTableFull: number;
    /** Broadcasts dropped unsent (broadcastQueueLengthMax). */
    readonly broadcastQueueFull: number;
  };
  readonly awarenessScore: number;
  readonly members: Record<MemberStateName, number>;
}

/** Bound on relayed indirect probes in flight. */
export const RELAY_COUNT_MAX = 1024;

interface MemberRecord {
  id: string;
  addr: string;
  meta: MemberMeta;
  state: MemberStateName;
  incarnation: number;
  stateChangeMs: number;
  suspicion: Suspicion | undefined;
}

interface Probe {
  readonly seqNo: number;
  readonly targetId: string;
  /** The target's incarnation when the probe started: a failure suspects that one only. */
  readonly targetIncarnation: number;
  readonly ackDeadlineMs: number;
  readonly endMs: number;
  indirectSent: boolean;
  expectedNackCount: number;
  nackCount: number;
}

interface Relay {
  readonly originSeqNo: number;
  readonly replyTo: string;
  readonly wantNack: boolean;
  readonly deadlineMs: number;
}

export interface GossipCoreOptions {
  readonly config: GossipConfig;
  /** This node's advertised gossip address. */
  readonly addr: string;
  readonly meta: MemberMeta;
  readonly random: Random;
  readonly nowMs: number;
}

export class GossipCore {
  readonly id: string;
  private readonly cfg: GossipConfig;
  private readonly random: Random;
  private readonly awareness: Awareness;
  private readonly broadcasts: BroadcastQueue;
  private readonly memberMap = new Map<string, MemberRecord>();
  private readonly suspects = new Set<string>();
  private readonly relays = new Map<number, Relay>();
  private readonly self: MemberRecord;
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private probe: Probe | undefined;
  private seqNo = 0;
  private nextProbeMs: number;
  private nextGossipMs: number;
  private nextPushPullMs: number;
  private nextReconnectMs: number;
  private leaving = false;
  private sends: Outbound[] = [];
  private events: MemberEvent[] = [];
  private readonly counts = Object.fromEntries(
    MESSAGE_TYPES.map((t) => [t, { sent: 0, received: 0 }]),
  ) as Record<MessageType, { sent: number; received: number }>;
  private packetsSent = 0;
  private packetsReceived = 0;
  private readonly dropped = {
    unknownType: 0,
    malformed: 0,
    misdirected: 0,
    memberTableFull: 0,
    relayTableFull: 0,
  };

  constructor(opts: GossipCoreOptions) {
    this.cfg = opts.config;
    this.random = opts.random;
    this.id = opts.meta.nodeId;
    this.awareness = new Awareness(opts.config.awarenessMaxMultiplier);
    this.broadcasts = new BroadcastQueue(opts.config.broadcastQueueLengthMax);
    this.self = {
      id: this.id,
      addr: opts.addr,
      meta: opts.meta,
      state: 'alive',
      incarnation: 0,
      stateChangeMs: opts.nowMs,
      suspicion: undefined,
    };
    this.memberMap.set(this.id, this.self);
    // Like memberlist, the local node joins its own view first: a ring fed by events includes it.
    this.emit('join', this.self);
    // Spread first actions over one period so nodes started together do not move in step.
    const now = opts.nowMs;
    this.nextProbeMs = now + randomInt(this.random, this.cfg.probeIntervalMs);
    this.nextGossipMs = now + randomInt(this.random, this.cfg.gossipIntervalMs);
    this.nextPushPullMs =
      now + this.cfg.pushPullIntervalMs + randomInt(this.random, this.cfg.pushPullIntervalMs);
    this.nextReconnectMs = now + this.cfg.reconnectIntervalMs;
  }

  // ---------------------------------------------------------------- inputs

  /** Sends a join push/pull to each seed address (other than our own). */
  join(nowMs: number, seedAddrs: readonly string[]): CoreOutput {
    for (const addr of new Set(seedAddrs)) {
      if (addr !== this.self.addr) this.sendPushPull(addr, true, false);
    }
    return this.flush(nowMs);
  }

  /** Runs every timer that is due at `nowMs`. */
  tick(nowMs: number): CoreOutput {
    this.runProbe(nowMs);
    this.expireSuspicions(nowMs);
    this.expireRelays(nowMs);
    if (nowMs >= this.nextGossipMs) {
      this.gossip(nowMs);
      this.nextGossipMs = this.alignGossip(nowMs + 1);
    }
    if (this.cfg.pushPullIntervalMs > 0 && nowMs >= this.nextPushPullMs) {
      const target = this.randomMembers(1, (m) => m.state === 'alive')[0];
      if (target && !this.leaving) this.sendPushPull(target.addr, false, false);
      this.nextPushPullMs = nowMs + this.pushPullIntervalMs();
    }
    if (this.cfg.reconnectIntervalMs > 0 && nowMs >= this.nextReconnectMs) {
      const target = this.randomMembers(1, (m) => m.state === 'dead')[0];
      if (target && !this.leaving) this.sendPushPull(target.addr, false, false);
      this.nextReconnectMs = nowMs + this.cfg.reconnectIntervalMs;
    }
    return this.flush(nowMs);
  }

  /** Handles one received packet. `fromAddr` is the sender's transport address. */
  step(nowMs: number, packet: Packet, fromAddr: string): CoreOutput {
    this.packetsReceived++;
    for (const m of packet.messages) {
      this.counts[m.type].received++;
      this.handle(nowMs, m, fromAddr);
    }
    return this.flush(nowMs);
  }

  /** Counts a packet the adapter could not decode. */
  noteMalformed(skippedUnknownCount = 0, malformed = true): void {
    this.dropped.unknownType += skippedUnknownCount;
    if (malformed) this.dropped.malformed++;
  }

  /**
   * Starts a graceful leave: marks this node `left`, sends that to every live member and
   * queues it for gossip. {@link leaveBroadcastSent} tells when the gossip is done.
   */
  leave(nowMs: number): CoreOutput {
    if (!this.leaving) {
      this.leaving = true;
      this.probe = undefined;
      this.setState(this.self, 'left', nowMs);
      const left: DeadMessage = {
        type: 'dead',
        incarnation: this.self.incarnation,
        nodeId: this.id,
        fromId: this.id,
      };
      // Leaving is rare and final: tell every live member directly (one packet each) rather
      // than trust a few random gossip targets, then gossip it as usual.
      for (const m of this.memberMap.values()) {
        if (m.id !== this.id && isLive(m.state)) this.emitPacket(m.addr, 'udp', [left]);
      }
      this.broadcast(left);
      this.gossip(nowMs);
    }
    return this.flush(nowMs);
  }

  /**
   * True once the leave broadcast has used up its retransmissions (sent to about
   * `retransmitMult * log10(N + 1)` peers), or there is no peer to tell.
   */
  get leaveBroadcastSent(): boolean {
    return this.leaving && (!this.broadcasts.has(this.id) || this.liveCount() <= 1);
  }

  /** Announces new metadata: raises our incarnation and broadcasts it. */
  setMeta(nowMs: number, meta: MemberMeta): CoreOutput {
    if (meta.nodeId !== this.id) throw new RangeError('setMeta: nodeId cannot change');
    this.self.meta = meta;
    this.refute(this.self.incarnation);
    return this.flush(nowMs);
  }

  // ---------------------------------------------------------------- views

  /** Every known member, this node included, sorted by id. */
  members(): Member[] {
    return [...this.memberMap.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(snapshot);
  }

  member(id: string): Member | undefined {
    const m = this.memberMap.get(id);
    return m && snapshot(m);
  }

  /** Members alive or suspect, this node included. */
  liveCount(): number {
    let n = 0;
    for (const m of this.memberMap.values()) if (isLive(m.state)) n++;
    return n;
  }

  get awarenessScore(): number {
    return this.awareness.score;
  }

  stats(): GossipStats {
    const members = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.memberMap.values()) members[m.state]++;
    const messages = Object.fromEntries(
      MESSAGE_TYPES.map((t) => [t, { ...this.counts[t] }]),
    ) as GossipStats['messages'];
    return {
      messages,
      packetsSent: this.packetsSent,
      packetsReceived: this.packetsReceived,
      dropped: { ...this.dropped, broadcastQueueFull: this.broadcasts.droppedCount },
      awarenessScore: this.awareness.score,
      members,
    };
  }

  // ---------------------------------------------------------------- probing (SWIM §3, Lifeguard §IV.A)

  private runProbe(nowMs: number): void {
    const p = this.probe;
    if (p && !p.indirectSent && nowMs >= p.ackDeadlineMs) this.sendIndirectProbes(p);
    if (p && nowMs >= p.endMs) this.failProbe(nowMs, p);
    if (!this.probe && !this.leaving && nowMs >= this.nextProbeMs) this.startProbe(nowMs);
  }

  private startProbe(nowMs: number): void {
    const target = this.nextProbeTarget(nowMs);
    const intervalMs = this.awareness.scaleMs(this.cfg.probeIntervalMs);
    this.nextProbeMs = nowMs + intervalMs;
    if (!target) return;
    const seqNo = this.nextSeqNo();
    this.probe = {
      seqNo,
      targetId: target.id,
      targetIncarnation: target.incarnation,
      ackDeadlineMs: nowMs + this.awareness.scaleMs(this.cfg.probeTimeoutMs),
      endMs: nowMs + intervalMs,
      indirectSent: false,
      expectedNackCount: 0,
      nackCount: 0,
    };
    const extra: BroadcastMessage[] = [];
    if (this.cfg.buddySystemEnabled && target.state === 'suspect') {
      // Lifeguard buddy system: tell the suspect directly so it can refute now.
      extra.push({ type: 'suspect', incarnation: target.incarnation, nodeId: target.id, fromId: this.id });
    }
    this.sendUdp(
      target.addr,
      { type: 'ping', seqNo, targetId: target.id, sourceId: this.id, sourceAddr: this.self.addr },
      extra,
    );
  }

  /** Randomized round-robin (SWIM §4.3): walk a shuffled list, reshuffle at the end. */
  private nextProbeTarget(nowMs: number): MemberRecord | undefined {
    for (let checked = 0; checked <= this.probeOrder.length; checked++) {
      if (this.probeIndex >= this.probeOrder.length) {
        this.reclaim(nowMs);
        this.probeOrder = shuffle(
          this.random,
          [...this.memberMap.keys()].filter((id) => id !== this.id),
        );
        this.probeIndex = 0;
        if (this.probeOrder.length === 0) return undefined;
      }
      const m = this.memberMap.get(this.probeOrder[this.probeIndex++]!);
      if (m && isLive(m.state) && m.id !== this.id) return m;
    }
    return undefined;
  }

  private sendIndirectProbes(p: Probe): void {
    p.indirectSent = true;
    const target = this.memberMap.get(p.targetId);
    if (!target) return;
    const helpers = this.randomMembers(
      this.cfg.indirectChecks,
      (m) => m.state === 'alive' && m.id !== p.targetId,
    );
    p.expectedNackCount = helpers.length;
    for (const h of helpers) {
      this.sendUdp(h.addr, {
        type: 'indirectPing',
        seqNo: p.seqNo,
        targetId: target.id,
        targetAddr: target.addr,
        sourceId: this.id,
        sourceAddr: this.self.addr,
        wantNack: true,
      });
    }
  }

  private failProbe(nowMs: number, p: Probe): void {
    this.probe = undefined;
    // Lifeguard: missing nacks mean our own links or CPU are the problem.
    if (p.expectedNackCount > 0) this.awareness.applyDelta(Math.max(0, p.expectedNackCount - p.nackCount));
    else this.awareness.applyDelta(1);
    const target = this.memberMap.get(p.targetId);
    if (target && isLive(target.state)) {
      // A refutation that arrived during the probe makes this suspicion stale (ignored).
      this.onSuspect(nowMs, {
        type: 'suspect',
        incarnation: p.targetIncarnation,
        nodeId: target.id,
        fromId: this.id,
      });
    }
  }

  private onAck(nowMs: number, seqNo: number): void {
    const p = this.probe;
    if (p && p.seqNo === seqNo) {
      if (nowMs < p.ackDeadlineMs) this.awareness.applyDelta(-1);
      this.probe = undefined;
      return;
    }
    const relay = this.relays.get(seqNo);
    if (relay) {
      this.relays.delete(seqNo);
      this.sendUdp(relay.replyTo, { type: 'ack', seqNo: relay.originSeqNo });
    }
  }

  private expireRelays(nowMs: number): void {
    for (const [seqNo, relay] of this.relays) {
      if (nowMs < relay.deadlineMs) continue;
      this.relays.delete(seqNo);
      if (relay.wantNack) this.sendUdp(relay.replyTo, { type: 'nack', seqNo: relay.originSeqNo });
    }
  }

  // ---------------------------------------------------------------- message dispatch

  private handle(nowMs: number, m: Message, fromAddr: string): void {
    switch (m.type) {
      case 'ping': {
        if (m.targetId !== this.id) {
          this.dropped.misdirected++;
          return;
        }
        const extra: BroadcastMessage[] = [];
        const source = this.memberMap.get(m.sourceId);
        if (source && source.state === 'dead') {
          // The sender is talking to us but we think it dead: tell it, so it refutes at once.
          extra.push({ type: 'dead', incarnation: source.incarnation, nodeId: source.id, fromId: this.id });
        }
        this.sendUdp(fromAddr, { type: 'ack', seqNo: m.seqNo }, extra);
        return;
      }
      case 'indirectPing': {
        if (this.relays.size >= RELAY_COUNT_MAX) {
          this.dropped.relayTableFull++;
          return;
        }
        const seqNo = this.nextSeqNo();
        this.relays.set(seqNo, {
          originSeqNo: m.seqNo,
          replyTo: fromAddr,
          wantNack: m.wantNack,
          deadlineMs: nowMs + this.cfg.probeTimeoutMs,
        });
        this.sendUdp(m.targetAddr, {
          type: 'ping',
          seqNo,
          targetId: m.targetId,
          sourceId: this.id,
          sourceAddr: this.self.addr,
        });
        return;
      }
      case 'ack':
        this.onAck(nowMs, m.seqNo);
        return;
      case 'nack':
        if (this.probe && this.probe.seqNo === m.seqNo) this.probe.nackCount++;
        return;
      case 'alive':
        this.onAlive(nowMs, m);
        return;
      case 'suspect':
        this.onSuspect(nowMs, m);
        return;
      case 'dead':
        this.onDead(nowMs, m);
        return;
      case 'pushPull':
        this.onPushPull(nowMs, m);
        return;
    }
  }

  // ---------------------------------------------------------------- membership rules (SWIM §4.2)

  private onAlive(nowMs: number, a: AliveMessage): void {
    if (a.nodeId === this.id) {
      if (this.leaving || a.incarnation < this.self.incarnation) return;
      if (
        a.incarnation === this.self.incarnation &&
        a.addr === this.self.addr &&
        sameMeta(a.meta, this.self.meta)
      ) {
        return;
      }
      // Someone claims to be us with our incarnation or newer: assert ourselves.
      this.refute(a.incarnation);
      return;
    }
    const m = this.memberMap.get(a.nodeId);
    if (!m) {
      if (this.memberMap.size >= this.cfg.memberCountMax && !this.evictOldestGone()) {
        this.dropped.memberTableFull++;
        return;
      }
      const rec: MemberRecord = {
        id: a.nodeId,
        addr: a.addr,
        meta: a.meta,
        state: 'alive',
        incarnation: a.incarnation,
        stateChangeMs: nowMs,
        suspicion: undefined,
      };
      this.memberMap.set(rec.id, rec);
      // A new member joins the probe order at a random position (memberlist does the same).
      this.probeOrder.splice(
        this.probeIndex + randomInt(this.random, this.probeOrder.length - this.probeIndex + 1),
        0,
        rec.id,
      );
      this.broadcast(a);
      this.emit('join', rec);
      return;
    }
    const restartedElsewhere = !isLive(m.state) && m.addr !== a.addr;
    if (a.incarnation <= m.incarnation && !restartedElsewhere) return;
    const prev = m.state;
    const changed = m.addr !== a.addr || !sameMeta(m.meta, a.meta);
    m.incarnation = a.incarnation;
    m.addr = a.addr;
    m.meta = a.meta;
    this.setState(m, 'alive', nowMs);
    this.broadcast(a);
    if (!isLive(prev)) this.emit('join', m);
    else if (prev === 'suspect' || changed) this.emit('update', m);
  }

  private onSuspect(nowMs: number, s: SuspectMessage): void {
    const m = this.memberMap.get(s.nodeId);
    if (!m || s.incarnation < m.incarnation || !isLive(m.state)) return;
    if (m.state === 'suspect' && m.suspicion) {
      // Lifeguard: an independent confirmation shortens the timeout; pass it on.
      if (m.suspicion.confirm(s.fromId)) this.broadcast(s);
      return;
    }
    if (m.id === this.id) {
      if (this.leaving) return;
      this.awareness.applyDelta(1);
      this.refute(s.incarnation);
      return;
    }
    m.incarnation = s.incarnation;
    this.setState(m, 'suspect', nowMs);
    const n = this.liveCount();
    const minMs = suspicionMinTimeoutMs(this.cfg.suspicionMult, n, this.cfg.probeIntervalMs);
    const k = n - 2 < this.cfg.suspicionMult - 2 ? 0 : this.cfg.suspicionMult - 2;
    m.suspicion = new Suspicion(s.fromId, nowMs, minMs, minMs * this.cfg.suspicionMaxTimeoutMult, k);
    this.suspects.add(m.id);
    this.broadcast(s);
    this.emit('update', m);
  }

  private onDead(nowMs: number, d: DeadMessage): void {
    const m = this.memberMap.get(d.nodeId);
    if (!m || d.incarnation < m.incarnation || !isLive(m.state)) return;
    if (m.id === this.id) {
      if (!this.leaving) this.refute(d.incarnation);
      return;
    }
    m.incarnation = d.incarnation;
    const left = d.fromId === d.nodeId;
    this.setState(m, left ? 'left' : 'dead', nowMs);
    this.broadcast(d);
    this.emit(left ? 'leave' : 'dead', m);
  }

  private expireSuspicions(nowMs: number): void {
    for (const id of this.suspects) {
      const m = this.memberMap.get(id);
      if (m?.state !== 'suspect' || !m.suspicion) {
        this.suspects.delete(id);
        continue;
      }
      if (nowMs >= m.suspicion.deadlineMs()) {
        this.onDead(nowMs, { type: 'dead', incarnation: m.incarnation, nodeId: id, fromId: this.id });
      }
    }
  }

  private refute(incarnation: number): void {
    this.self.incarnation = Math.max(this.self.incarnation, incarnation) + 1;
    this.broadcast({
      type: 'alive',
      incarnation: this.self.incarnation,
      nodeId: this.id,
      addr: this.self.addr,
      meta: this.self.meta,
    });
  }

  // ---------------------------------------------------------------- push/pull (memberlist anti-entropy)

  private onPushPull(nowMs: number, p: PushPullMessage): void {
    if (p.sourceId === this.id) return;
    if (!p.reply) this.sendPushPull(p.sourceAddr, false, true);
    for (const s of p.states) {
      switch (s.state) {
        case 'alive':
          this.onAlive(nowMs, {
            type: 'alive',
            incarnation: s.incarnation,
            nodeId: s.nodeId,
            addr: s.addr,
            meta: s.meta,
          });
          break;
        case 'suspect':
        case 'dead':
          // A remote "dead" is only a suspicion here: the member gets a chance to refute. The
          // suspicion is ours (memberlist does the same): a peer's table is no independent
          // confirmation, since it may only echo the gossip we started.
          this.onSuspect(nowMs, {
            type: 'suspect',
            incarnation: s.incarnation,
            nodeId: s.nodeId,
            fromId: this.id,
          });
          break;
        case 'left':
          this.onDead(nowMs, {
            type: 'dead',
            incarnation: s.incarnation,
            nodeId: s.nodeId,
            fromId: s.nodeId,
          });
          break;
      }
    }
  }

  private sendPushPull(to: string, join: boolean, reply: boolean): void {
    const states = [...this.memberMap.values()].map((m) => ({
      nodeId: m.id,
      addr: m.addr,
      incarnation: m.incarnation,
      state: m.state,
      meta: m.meta,
    }));
    this.emitPacket(to, 'tcp', [
      { type: 'pushPull', join, reply, sourceId: this.id, sourceAddr: this.self.addr, states },
    ]);
  }

  /** memberlist's pushPullScale: beyond 32 members the interval grows with log2(N / 32). */
  private pushPullIntervalMs(): number {
    const n = this.liveCount();
    if (n <= 32) return this.cfg.pushPullIntervalMs;
    return this.cfg.pushPullIntervalMs * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
  }

  // ---------------------------------------------------------------- dissemination (SWIM §4.1)

  private broadcast(m: BroadcastMessage): void {
    this.broadcasts.enqueue(m);
  }

  /** One gossip round: pending broadcasts to `gossipNodes` random members, recently dead included. */
  private gossip(nowMs: number): void {
    if (this.broadcasts.length === 0) return;
    const targets = this.randomMembers(
      this.cfg.gossipNodes,
      (m) => isLive(m.state) || nowMs - m.stateChangeMs < this.cfg.gossipToTheDeadMs,
    );
    for (const t of targets) {
      const msgs = this.takeBroadcasts(this.cfg.udpPacketSizeBytes - PACKET_HEADER_BYTES);
      if (msgs.length === 0) return;
      this.emitPacket(t.addr, 'udp', msgs);
    }
  }

  private takeBroadcasts(budgetBytes: number): BroadcastMessage[] {
    const limit = retransmitLimit(this.cfg.retransmitMult, this.liveCount());
    return this.broadcasts.take(budgetBytes, limit, PACKET_MESSAGE_COUNT_MAX - 2);
  }

  /** A protocol message with `extra` first and then as many broadcasts as fit in the packet. */
  private sendUdp(to: string, primary: Message, extra: BroadcastMessage[] = []): void {
    let budget = this.cfg.udpPacketSizeBytes - PACKET_HEADER_BYTES - encodedSizeBytes(primary);
    for (const e of extra) budget -= encodedSizeBytes(e);
    this.emitPacket(to, 'udp', [primary, ...extra, ...this.takeBroadcasts(budget)]);
  }

  private emitPacket(to: string, transport: 'udp' | 'tcp', messages: Message[]): void {
    this.packetsSent++;
    for (const m of messages) this.counts[m.type].sent++;
    this.sends.push({ to, transport, packet: { messages } });
  }

  // ---------------------------------------------------------------- helpers

  private setState(m: MemberRecord, state: MemberStateName, nowMs: number): void {
    if (m.state !== state) m.stateChangeMs = nowMs;
    m.state = state;
    if (state !== 'suspect') {
      m.suspicion = undefined;
      this.suspects.delete(m.id);
    }
  }

  private emit(type: MemberEventType, m: MemberRecord): void {
    this.events.push({ type, member: snapshot(m) });
  }

  /** Up to `count` distinct random members (never ourselves) that pass `accept`. */
  private randomMembers(count: number, accept: (m: MemberRecord) => boolean): MemberRecord[] {
    if (count <= 0) return [];
    const pool: MemberRecord[] = [];
    for (const m of this.memberMap.values()) if (m.id !== this.id && accept(m)) pool.push(m);
    if (pool.length <= count) return shuffle(this.random, pool);
    const out: MemberRecord[] = [];
    for (let i = 0; i < count; i++) {
      const j = i + randomInt(this.random, pool.length - i);
      const t = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = t;
      out.push(pool[i]!);
    }
    return out;
  }

  /** Forgets dead and left members older than `deadMemberReclaimMs`. */
  private reclaim(nowMs: number): void {
    for (const [id, m] of this.memberMap) {
      if (!isLive(m.state) && nowMs - m.stateChangeMs >= this.cfg.deadMemberReclaimMs)
        this.memberMap.delete(id);
    }
  }

  /** Makes room in a full table by forgetting the longest-gone member. */
  private evictOldestGone(): boolean {
    let oldest: MemberRecord | undefined;
    for (const m of this.memberMap.values()) {
      if (!isLive(m.state) && (!oldest || m.stateChangeMs < oldest.stateChangeMs)) oldest = m;
    }
    if (oldest) this.memberMap.delete(oldest.id);
    return oldest !== undefined;
  }

  /**
   * The first gossip round at or after `atMs`. Rounds stay on this node's fixed cadence
   * (memberlist's ticker) even while there is nothing to send, so news received between
   * rounds waits for the next round instead of going out at once.
   */
  private alignGossip(atMs: number): number {
    if (this.nextGossipMs < atMs) {
      const periods = Math.ceil((atMs - this.nextGossipMs) / this.cfg.gossipIntervalMs);
      this.nextGossipMs += periods * this.cfg.gossipIntervalMs;
    }
    return this.nextGossipMs;
  }

  private nextSeqNo(): number {
    this.seqNo = (this.seqNo + 1) >>> 0;
    return this.seqNo;
  }

  private nextWakeMs(nowMs: number): number {
    let t = Number.POSITIVE_INFINITY;
    const p = this.probe;
    if (p) t = Math.min(t, p.indirectSent ? p.endMs : p.ackDeadlineMs);
    else if (!this.leaving) t = Math.min(t, this.nextProbeMs);
    if (this.broadcasts.length > 0) t = Math.min(t, this.alignGossip(nowMs));
    if (this.cfg.pushPullIntervalMs > 0) t = Math.min(t, this.nextPushPullMs);
    if (this.cfg.reconnectIntervalMs > 0) t = Math.min(t, this.nextReconnectMs);
    for (const id of this.suspects) {
      const s = this.memberMap.get(id)?.suspicion;
      if (s) t = Math.min(t, s.deadlineMs());
    }
    for (const r of this.relays.values()) t = Math.min(t, r.deadlineMs);
    return Math.max(t, nowMs + 1);
  }

  private flush(nowMs: number): CoreOutput {
    const out = { sends: this.sends, events: this.events, nextWakeMs: this.nextWakeMs(nowMs) };
    this.sends = [];
    this.events = [];
    return out;
  }
}

function snapshot(m: MemberRecord): Member {
  return {
    id: m.id,
    addr: m.addr,
    state: m.state,
    incarnation: m.incarnation,
    meta: m.meta,
    stateChangeMs: m.stateChangeMs,
  };
}

function sameMeta(a: MemberMeta, b: MemberMeta): boolean {
  return (
    a.nodeId === b.nodeId &&
    a.dataAddr === b.dataAddr &&
    a.metaAddr === b.metaAddr &&
    a.zone === b.zone &&
    a.version === b.version
  );
}
