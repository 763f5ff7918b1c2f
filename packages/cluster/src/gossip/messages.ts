/**
 * Gossip messages: the in-memory shapes and the append-only table of wire type numbers.
 *
 * The numbers are on the wire. Never renumber or reuse one; add new types at the end. A
 * decoder skips types it does not know, so an older node ignores a newer message type.
 *
 * SWIM (Das, Gupta, Motivala 2002) §3–4: ping, ping-req (here `indirectPing`), ack, and the
 * suspect / alive / confirm(dead) dissemination messages. Lifeguard (arXiv:1707.00788) §IV.A
 * adds `nack`, sent by an indirect prober that got no ack, so the requester can tell a dead
 * target from its own slowness. `pushPull` is memberlist's TCP anti-entropy exchange.
 */

/** Wire type numbers. Append only. */
export const MessageTypeCode = Object.freeze({
  ping: 1,
  indirectPing: 2,
  ack: 3,
  nack: 4,
  suspect: 5,
  alive: 6,
  dead: 7,
  pushPull: 8,
});
export type MessageType = keyof typeof MessageTypeCode;
export const MESSAGE_TYPES = Object.freeze(Object.keys(MessageTypeCode)) as readonly MessageType[];

/** Member states. Numbers are on the wire (push/pull). Append only. */
export const MemberStateCode = Object.freeze({ alive: 0, suspect: 1, dead: 2, left: 3 });
export type MemberStateName = keyof typeof MemberStateCode;

/** What a member says about itself; carried by `alive` and push/pull. */
export interface MemberMeta {
  /** Stable node identity (LONGBOW_NODE_ID); also the member id. */
  readonly nodeId: string;
  /** Flight data address `host:port` (DoPut/DoGet). */
  readonly dataAddr: string;
  /** Flight meta address `host:port` (DoAction, GetFlightInfo). */
  readonly metaAddr: string;
  /** Failure domain, e.g. the Kubernetes zone label. */
  readonly zone?: string | undefined;
  /** Software version of the node. */
  readonly version: string;
}

/** Direct probe. `targetId` lets a restarted process at a reused address ignore a stale ping. */
export interface PingMessage {
  readonly type: 'ping';
  readonly seqNo: number;
  readonly targetId: string;
  readonly sourceId: string;
  readonly sourceAddr: string;
}

/** Ask the receiver to probe `targetId` for the source (SWIM ping-req). */
export interface IndirectPingMessage {
  readonly type: 'indirectPing';
  readonly seqNo: number;
  readonly targetId: string;
  readonly targetAddr: string;
  readonly sourceId: string;
  readonly sourceAddr: string;
  /** Lifeguard: reply with a nack if the target does not answer in time. */
  readonly wantNack: boolean;
}

export interface AckMessage {
  readonly type: 'ack';
  readonly seqNo: number;
}

export interface NackMessage {
  readonly type: 'nack';
  readonly seqNo: number;
}

/** `fromId` suspects `nodeId` at `incarnation`. */
export interface SuspectMessage {
  readonly type: 'suspect';
  readonly incarnation: number;
  readonly nodeId: string;
  readonly fromId: string;
}

/** `nodeId` is alive at `incarnation`, reachable at `addr`. */
export interface AliveMessage {
  readonly type: 'alive';
  readonly incarnation: number;
  readonly nodeId: string;
  readonly addr: string;
  readonly meta: MemberMeta;
}

/** `fromId` declares `nodeId` dead at `incarnation`; `fromId === nodeId` means a graceful leave. */
export interface DeadMessage {
  readonly type: 'dead';
  readonly incarnation: number;
  readonly nodeId: string;
  readonly fromId: string;
}

/** One row of a full-state exchange. */
export interface PushPullState {
  readonly nodeId: string;
  readonly addr: string;
  readonly incarnation: number;
  readonly state: MemberStateName;
  readonly meta: MemberMeta;
}

/** Full member table, sent over TCP; the receiver merges it and, unless `reply`, answers with its own. */
export interface PushPullMessage {
  readonly type: 'pushPull';
  readonly join: boolean;
  readonly reply: boolean;
  readonly sourceId: string;
  readonly sourceAddr: string;
  readonly states: readonly PushPullState[];
}

export type Message =
  | PingMessage
  | IndirectPingMessage
  | AckMessage
  | NackMessage
  | SuspectMessage
  | AliveMessage
  | DeadMessage
  | PushPullMessage;

/** Messages that are disseminated by piggybacking (SWIM §4.1). */
export type BroadcastMessage = SuspectMessage | AliveMessage | DeadMessage;

/** One datagram (or TCP frame): a primary message, then piggybacked broadcasts. */
export interface Packet {
  readonly messages: readonly Message[];
}
