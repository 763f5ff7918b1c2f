/**
 * The compare-and-set that changes the topology and the catalog: a log of slots, each
 * decided by single-decree Paxos (Lamport, "Paxos Made Simple", 2001) among the acceptors
 * that the state after the previous slot names — the ring members of that epoch. This is
 * Cassandra's lightweight-transaction shape (one Paxos instance per change) with the log of
 * Multi-Paxos (no leader: any node proposes, rarely). A change is proposed *for* a slot, the
 * one after the state its proposer saw; if another change is decided there first, the
 * proposer learns it and reports a conflict (the CAS failed: re-read, re-check, retry).
 *
 * What this gives (and the simulation checks): one value per slot on every node, ever; no
 * slot decided without a majority of its acceptors (a partition's minority decides nothing);
 * progress whenever a majority is connected long enough. A node that was away learns the
 * decided slots from whoever it talks to.
 *
 * Pure: messages in, messages out, time injected. The host persists {@link durable} before
 * sending what a call returned (promises and accepts must survive a crash), sends the
 * messages, and calls {@link ConsensusNode.tick} on a timer.
 */
import { type Random, randomInt } from '../gossip/random.ts';

/** A proposal number: (round, node id), compared round first. */
export interface Ballot {
  readonly round: number;
  readonly node: string;
}

/** Negative, zero or positive as `a` is lower than, equal to or higher than `b`. */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round - b.round;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** A proposed change with the id of the proposal that carried it first. */
export interface Proposal<V> {
  readonly id: string;
  readonly change: V;
}

export type ConsensusMessage<V> =
  | { readonly type: 'prepare'; readonly slot: number; readonly ballot: Ballot }
  | {
      readonly type: 'promise';
      readonly slot: number;
      readonly ballot: Ballot;
      readonly accepted?: { readonly ballot: Ballot; readonly value: Proposal<V> };
    }
  | { readonly type: 'accept'; readonly slot: number; readonly ballot: Ballot; readonly value: Proposal<V> }
  | { readonly type: 'accepted'; readonly slot: number; readonly ballot: Ballot }
  | { readonly type: 'nack'; readonly slot: number; readonly promised: Ballot }
  /** The values decided from `slot` on, for a node that is behind. */
  | { readonly type: 'decided'; readonly slot: number; readonly values: readonly Proposal<V>[] }
  /** "I have decided only up to `slot` − 1": the receiver sends what it has after. */
  | { readonly type: 'behind'; readonly slot: number };

export interface Outbound<V> {
  readonly to: string;
  readonly message: ConsensusMessage<V>;
}

/** What the log is about: how a decided change moves the state, and who votes after it. */
export interface ConsensusHost<S, V> {
  apply(state: S, change: V): S;
  /** The acceptors of the slot after `state` (the ring members). */
  acceptors(state: S): readonly string[];
}

/** What a node must keep on disk (restore with {@link ConsensusNode.restore}). */
export interface ConsensusDurable<V> {
  /** Decided values of slots 1.. in order (the state is the initial one with these applied). */
  readonly decided: readonly Proposal<V>[];
  /** Acceptor state for the next slot. */
  readonly promised?: Ballot;
  readonly accepted?: { readonly ballot: Ballot; readonly value: Proposal<V> };
}

/** How a proposal ended: its change decided at `slot`, or another one decided there. */
export interface ProposalOutcome {
  readonly id: string;
  readonly slot: number;
  readonly result: 'decided' | 'conflict';
}

export interface ConsensusOptions {
  /** Time a round may take before it is retried with a higher ballot (ms). Default 500. */
  readonly roundTimeoutMs?: number;
  /** Random extra wait before a retry, in [0, this) ms, so duelling proposers part. Default 500. */
  readonly retryJitterMs?: number;
}

interface Round<V> {
  readonly proposal: Proposal<V>;
  readonly slot: number;
  ballot: Ballot;
  phase: 1 | 2;
  /** The value phase 2 sends: ours, or the highest accepted one a promise reported. */
  value: Proposal<V>;
  highest: Ballot | undefined;
  readonly promises: Set<string>;
  readonly accepts: Set<string>;
  deadlineMs: number;
}

export class ConsensusNode<S, V> {
  readonly id: string;
  private readonly host: ConsensusHost<S, V>;
  private readonly random: Random;
  private readonly roundTimeoutMs: number;
  private readonly retryJitterMs: number;
  private readonly initial: S;
  private stateValue: S;
  private decided: Proposal<V>[] = [];
  private promised: Ballot | undefined;
  private accepted: { ballot: Ballot; value: Proposal<V> } | undefined;
  private round: Round<V> | undefined;
  private maxRoundSeen = 0;
  private proposalCounter = 0;
  private readonly outcomes: ProposalOutcome[] = [];

  constructor(
    id: string,
    initial: S,
    host: ConsensusHost<S, V>,
    random: Random,
    options: ConsensusOptions = {},
  ) {
    this.id = id;
    this.host = host;
    this.random = random;
    this.initial = initial;
    this.stateValue = initial;
    this.roundTimeoutMs = options.roundTimeoutMs ?? 500;
    this.retryJitterMs = options.retryJitterMs ?? 500;
  }

  /** The state after every decided slot. */
  get state(): S {
    return this.stateValue;
  }

  /** Slots decided so far (the state's epoch). */
  get slot(): number {
    return this.decided.length;
  }

  /** What to persist (after any call that returned messages, before sending them). */
  durable(): ConsensusDurable<V> {
    return { decided: [...this.decided], promised: this.promised, accepted: this.accepted };
  }

  /** Back from a crash: the durable part as it was; any proposal in flight is gone. */
  restore(d: ConsensusDurable<V>): void {
    this.decided = [];
    this.stateValue = this.initial;
    for (const p of d.decided) this.learn(p);
    this.promised = d.promised;
    this.accepted = d.accepted;
    this.round = undefined;
    this.maxRoundSeen = Math.max(this.maxRoundSeen, d.promised?.round ?? 0, d.accepted?.ballot.round ?? 0);
  }

  /** Proposals that ended since the last call. */
  takeOutcomes(): ProposalOutcome[] {
    return this.outcomes.splice(0);
  }

  /**
   * Proposes `change` for the slot after `expectedSlot` (compare-and-set: it applies only if
   * nothing else is decided there). Returns the proposal id and the first messages; the
   * outcome comes later from {@link takeOutcomes}. One proposal at a time.
   * @throws Error while an earlier proposal is in flight (its outcome is not known yet).
   */
  propose(change: V, expectedSlot: number, nowMs: number): { id: string; out: Outbound<V>[] } {
    if (this.round) throw new Error(`proposal ${this.round.proposal.id} is still in flight`);
    const id = `${this.id}:${++this.proposalCounter}`;
    if (expectedSlot !== this.slot) {
      this.outcomes.push({ id, slot: expectedSlot + 1, result: 'conflict' });
      return { id, out: [] };
    }
    const proposal = { id, change };
    return { id, out: this.startRound(proposal, nowMs) };
  }

  /**
   * Stops retrying the proposal in flight. Its outcome stays unknown (acceptors may still
   * have chosen it): read the state once the slot is decided.
   */
  cancel(): void {
    this.round = undefined;
  }

  /** Whether a proposal is in flight. */
  get proposing(): boolean {
    return this.round !== undefined;
  }

  /** Retries a round that took too long. */
  tick(nowMs: number): Outbound<V>[] {
    const r = this.round;
    if (!r || nowMs < r.deadlineMs) return [];
    return this.startRound(r.proposal, nowMs);
  }

  /** Handles one message from `from`. */
  receive(from: string, m: ConsensusMessage<V>): Outbound<V>[] {
    if ('ballot' in m) this.maxRoundSeen = Math.max(this.maxRoundSeen, m.ballot.round);
    if (m.type === 'decided') return this.onDecided(m.slot, m.values);
    if (m.type === 'behind') return this.sendDecidedFrom(from, m.slot);
    const next = this.slot + 1;
    if (m.slot < next) return this.sendDecidedFrom(from, m.slot);
    if (m.slot > next) return [{ to: from, message: { type: 'behind', slot: next } }];
    switch (m.type) {
      case 'prepare':
        return this.onPrepare(from, m.slot, m.ballot);
      case 'accept':
        return this.onAccept(from, m.slot, m.ballot, m.value);
      case 'promise':
        return this.onPromise(from, m.slot, m.ballot, m.accepted);
      case 'accepted':
        return this.onAccepted(from, m.slot, m.ballot);
      case 'nack':
        this.maxRoundSeen = Math.max(this.maxRoundSeen, m.promised.round);
        return [];
    }
  }

  // ---- acceptor ----

  private onPrepare(from: string, slot: number, ballot: Ballot): Outbound<V>[] {
    if (!this.host.acceptors(this.stateValue).includes(this.id)) return [];
    if (this.promised && compareBallots(ballot, this.promised) < 0) {
      return [{ to: from, message: { type: 'nack', slot, promised: this.promised } }];
    }
    this.promised = ballot;
    return [{ to: from, message: { type: 'promise', slot, ballot, accepted: this.accepted } }];
  }

  private onAccept(from: string, slot: number, ballot: Ballot, value: Proposal<V>): Outbound<V>[] {
    if (!this.host.acceptors(this.stateValue).includes(this.id)) return [];
    if (this.promised && compareBallots(ballot, this.promised) < 0) {
      return [{ to: from, message: { type: 'nack', slot, promised: this.promised } }];
    }
    this.promised = ballot;
    this.accepted = { ballot, value };
    return [{ to: from, message: { type: 'accepted', slot, ballot } }];
  }

  // ---- proposer ----

  private startRound(proposal: Proposal<V>, nowMs: number): Outbound<V>[] {
    const slot = this.slot + 1;
    if (this.round && this.round.slot !== slot) {
      // The slot was decided meanwhile (learn() settles the outcome).
      return [];
    }
    const ballot = { round: ++this.maxRoundSeen, node: this.id };
    this.round = {
      proposal,
      slot,
      ballot,
      phase: 1,
      value: proposal,
      highest: undefined,
      promises: new Set(),
      accepts: new Set(),
      deadlineMs: nowMs + this.roundTimeoutMs + randomInt(this.random, Math.max(1, this.retryJitterMs)),
    };
    return this.host
      .acceptors(this.stateValue)
      .map((to) => ({ to, message: { type: 'prepare', slot, ballot } }));
  }

  private majority(): number {
    return Math.floor(this.host.acceptors(this.stateValue).length / 2) + 1;
  }

  private onPromise(
    from: string,
    slot: number,
    ballot: Ballot,
    accepted: { ballot: Ballot; value: Proposal<V> } | undefined,
  ): Outbound<V>[] {
    const r = this.round;
    if (r?.phase !== 1 || r.slot !== slot || compareBallots(ballot, r.ballot) !== 0) return [];
    if (!this.host.acceptors(this.stateValue).includes(from)) return [];
    r.promises.add(from);
    if (accepted && (!r.highest || compareBallots(accepted.ballot, r.highest) > 0)) {
      // Paxos's rule: a value some acceptor may have helped choose must be proposed again.
      r.highest = accepted.ballot;
      r.value = accepted.value;
    }
    if (r.promises.size < this.majority()) return [];
    r.phase = 2;
    return this.host
      .acceptors(this.stateValue)
      .map((to) => ({ to, message: { type: 'accept', slot, ballot: r.ballot, value: r.value } }));
  }

  private onAccepted(from: string, slot: number, ballot: Ballot): Outbound<V>[] {
    const r = this.round;
    if (r?.phase !== 2 || r.slot !== slot || compareBallots(ballot, r.ballot) !== 0) return [];
    if (!this.host.acceptors(this.stateValue).includes(from)) return [];
    r.accepts.add(from);
    if (r.accepts.size < this.majority()) return [];
    // Chosen. Tell the acceptors of this slot (the next slot's may differ: they learn it
    // from whoever they talk to next).
    const value = r.value;
    const to = this.host.acceptors(this.stateValue).filter((n) => n !== this.id);
    this.learn(value);
    return to.map((n) => ({ to: n, message: { type: 'decided', slot, values: [value] } }));
  }

  // ---- learner ----

  private onDecided(slot: number, values: readonly Proposal<V>[]): Outbound<V>[] {
    if (slot > this.slot + 1) return [];
    // values[i] is slot `slot + i`; learn from our next slot on (learn() settles our round).
    for (let i = this.slot + 1 - slot; i < values.length; i++) this.learn(values[i]!);
    return [];
  }

  private sendDecidedFrom(to: string, slot: number): Outbound<V>[] {
    if (slot < 1 || slot > this.slot) return [];
    return [{ to, message: { type: 'decided', slot, values: this.decided.slice(slot - 1) } }];
  }

  private learn(value: Proposal<V>): void {
    const slot = this.slot + 1;
    this.decided.push(value);
    this.stateValue = this.host.apply(this.stateValue, value.change);
    this.promised = undefined;
    this.accepted = undefined;
    const r = this.round;
    if (r && r.slot === slot) {
      this.outcomes.push({
        id: r.proposal.id,
        slot,
        result: value.id === r.proposal.id ? 'decided' : 'conflict',
      });
      this.round = undefined;
    }
  }
}
