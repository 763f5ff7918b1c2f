/**
 * Transmit-limited broadcast queue (SWIM §4.1 infection-style dissemination; memberlist's
 * TransmitLimitedQueue).
 *
 * Membership updates ride on outgoing packets. Each is sent at most
 * `retransmitMult * ceil(log10(N + 1))` times; the least transmitted go first, so fresh news
 * spreads fastest. A newer message about the same member replaces the older one. The queue
 * is bounded: past `lengthMax` the most transmitted entries are dropped.
 */
import { encodedSizeBytes } from './codec.ts';
import type { BroadcastMessage } from './messages.ts';

interface Entry {
  readonly message: BroadcastMessage;
  readonly sizeBytes: number;
  /** Insertion order; breaks ties so newer entries go first. */
  readonly id: number;
  transmitCount: number;
}

/** Retransmit limit for a cluster of `memberCount`: `mult * ceil(log10(N + 1))`. */
export function retransmitLimit(retransmitMult: number, memberCount: number): number {
  return retransmitMult * Math.ceil(Math.log10(memberCount + 1));
}

export class BroadcastQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly lengthMax: number;
  private nextId = 0;
  /** Entries dropped because the queue was full. */
  droppedCount = 0;

  constructor(lengthMax: number) {
    this.lengthMax = lengthMax;
  }

  get length(): number {
    return this.entries.size;
  }

  /** Queues `message`, replacing any pending message about the same member. */
  enqueue(message: BroadcastMessage): void {
    this.entries.delete(message.nodeId);
    this.entries.set(message.nodeId, {
      message,
      sizeBytes: encodedSizeBytes(message),
      id: this.nextId++,
      transmitCount: 0,
    });
    while (this.entries.size > this.lengthMax) {
      let worst: Entry | undefined;
      for (const e of this.entries.values()) {
        if (
          !worst ||
          e.transmitCount > worst.transmitCount ||
          (e.transmitCount === worst.transmitCount && e.id < worst.id)
        ) {
          worst = e;
        }
      }
      this.entries.delete(worst!.message.nodeId);
      this.droppedCount++;
    }
  }

  /** True when a message about `nodeId` is still pending. */
  has(nodeId: string): boolean {
    return this.entries.has(nodeId);
  }

  /**
   * Takes broadcasts whose encoded sizes fit in `budgetBytes`, least transmitted (then
   * newest) first, counting a transmission for each and retiring those that reach `limit`.
   */
  take(budgetBytes: number, limit: number, countMax: number): BroadcastMessage[] {
    if (this.entries.size === 0) return [];
    const ordered = [...this.entries.values()].sort(
      (a, b) => a.transmitCount - b.transmitCount || b.id - a.id,
    );
    const out: BroadcastMessage[] = [];
    let used = 0;
    for (const e of ordered) {
      if (out.length >= countMax) break;
      if (used + e.sizeBytes > budgetBytes) continue;
      used += e.sizeBytes;
      out.push(e.message);
      e.transmitCount++;
      if (e.transmitCount >= limit) this.entries.delete(e.message.nodeId);
    }
    return out;
  }
}
