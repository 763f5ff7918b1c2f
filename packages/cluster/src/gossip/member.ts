/**
 * Members as the rest of Longbow sees them, and the events that report their changes.
 *
 * State machine (docs/cluster.md has the diagram):
 *
 *     alive ──no ack, indirect probes fail──▶ suspect ──suspicion timeout──▶ dead
 *       ▲  ◀──────── refuted (alive, higher incarnation) ──┘                  │
 *       └──────────── alive with higher incarnation (rejoin) ◀────────────────┤
 *     alive/suspect ──graceful leave (dead from itself)──▶ left ──rejoin──────┘
 *
 * Only the member itself raises its incarnation (to refute), so for one member a higher
 * incarnation always wins; at equal incarnation suspect beats alive and dead beats both.
 */
import type { MemberMeta, MemberStateName } from './messages.ts';

/** One member of the cluster, including this node itself. */
export interface Member {
  /** Node id (`meta.nodeId`). */
  readonly id: string;
  /** Gossip address `host:port`. */
  readonly addr: string;
  readonly state: MemberStateName;
  /** Raised only by the member itself, to refute suspicion or announce new metadata. */
  readonly incarnation: number;
  readonly meta: MemberMeta;
  /** When this node last saw the state change (its own clock, ms). */
  readonly stateChangeMs: number;
}

/**
 * - `join`: a member became known and alive, or came back from dead/left.
 * - `update`: a present member changed address, metadata, or moved between alive and suspect.
 * - `leave`: a member left gracefully.
 * - `dead`: a member was declared dead by failure detection.
 */
export type MemberEventType = 'join' | 'update' | 'leave' | 'dead';

export interface MemberEvent {
  readonly type: MemberEventType;
  readonly member: Member;
}

/** True for members that take part in the cluster (alive or suspect). */
export function isLive(state: MemberStateName): boolean {
  return state === 'alive' || state === 'suspect';
}
