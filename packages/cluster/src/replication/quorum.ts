/**
 * Consistency levels, write acknowledgement and read resolution for leaderless replication
 * (Dynamo, DeCandia et al. 2007; Cassandra's consistency levels). Pure: the node's
 * coordinator and the replication simulation both drive these.
 *
 * A write is acknowledged when `W` replicas of every shard made it durable; a read asks `R`
 * replicas of every shard and keeps, per id, the entry with the highest version
 * (last-writer-wins on (HLC, node tag)); tombstones win like any write and hide the row.
 * `R + W > RF` gives read-your-writes. Hints never count toward `W` (no sloppy quorum).
 */
import { compareVersions, type Version } from '../versions/version.ts';

/** How many replicas a request needs: one, a majority, or every replica of each shard. */
export type Consistency = 'one' | 'quorum' | 'all';

export const CONSISTENCY_LEVELS: readonly Consistency[] = ['one', 'quorum', 'all'];

/** Replicas a request at `level` needs out of `rf`: 1, ⌊rf/2⌋ + 1, or rf. */
export function requiredReplicas(level: Consistency, rf: number): number {
  if (level === 'one') return Math.min(1, rf);
  if (level === 'all') return rf;
  return Math.floor(rf / 2) + 1;
}

/**
 * Parses a consistency level from a header or ticket value (case-insensitive).
 * @throws RangeError naming the value and the accepted ones.
 */
export function parseConsistency(value: string): Consistency {
  const v = value.trim().toLowerCase();
  if ((CONSISTENCY_LEVELS as readonly string[]).includes(v)) return v as Consistency;
  throw new RangeError(
    `unknown consistency level "${value}" (expected one of ${CONSISTENCY_LEVELS.join(', ')})`,
  );
}

/**
 * State of a write to one shard: waiting, acknowledged (W durable acks), failed (W out of
 * reach), or `stale`: a replica holds a newer version of an id than the one sent, so the
 * coordinator must re-version the write above {@link WriteTracker.newestSeen} and send it
 * again. That keeps real-time order across coordinators whose clocks disagree: a write
 * sent after another was acknowledged meets, in any W replicas, one that holds the first
 * (quorum intersection), and so ends with a higher version (as ABD's write phase follows
 * a read of the highest timestamp; Attiya, Bar-Noy, Dolev 1995).
 */
export type WriteOutcome = 'pending' | 'acked' | 'failed' | 'stale';

/**
 * Counts the replies of one shard's replicas to one write. Acked once `w` distinct replicas
 * said durable; failed once more than `replicas - w` failed (W can no longer be reached).
 * Later replies do not change a settled outcome, but are still recorded (for hints).
 */
export class WriteTracker {
  readonly shard: number;
  readonly replicas: readonly string[];
  readonly w: number;
  private readonly acks = new Set<string>();
  private readonly failures = new Map<string, string>();
  private newest: Version | undefined;

  /** @throws RangeError when `w` is not in [1, replicas.length]. */
  constructor(shard: number, replicas: readonly string[], w: number) {
    if (!Number.isInteger(w) || w < 1 || w > replicas.length) {
      throw new RangeError(`shard ${shard}: write needs ${w} of ${replicas.length} replicas`);
    }
    this.shard = shard;
    this.replicas = replicas;
    this.w = w;
  }

  /** Records that `node` made the write durable. */
  ack(node: string): void {
    if (!this.replicas.includes(node) || this.failures.has(node)) return;
    this.acks.add(node);
  }

  /** Records that `node` did not make it durable (down, unreachable, refused), with why. */
  fail(node: string, reason: string): void {
    if (!this.replicas.includes(node) || this.acks.has(node)) return;
    this.failures.set(node, reason);
  }

  /**
   * Records that `node` kept its entry because it holds `version`, newer than the one sent
   * (the write was not applied there; it does not count toward W).
   */
  stale(node: string, version: Version): void {
    if (!this.replicas.includes(node) || this.acks.has(node)) return;
    this.failures.set(node, 'holds a newer version');
    if (!this.newest || compareVersions(version, this.newest) > 0) this.newest = version;
  }

  /** The newest version a replica answered `stale` with, if any. */
  get newestSeen(): Version | undefined {
    return this.newest;
  }

  get outcome(): WriteOutcome {
    if (this.newest) return 'stale';
    if (this.acks.size >= this.w) return 'acked';
    if (this.failures.size > this.replicas.length - this.w) return 'failed';
    return 'pending';
  }

  /** Replicas that acknowledged, in replica order. */
  acked(): string[] {
    return this.replicas.filter((r) => this.acks.has(r));
  }

  /** Replicas that did not acknowledge (failed or not yet answered): the hint targets. */
  unacked(): string[] {
    return this.replicas.filter((r) => !this.acks.has(r));
  }

  /** `replica: reason` for each failure, for the UNAVAILABLE message. */
  failureReasons(): string[] {
    return this.replicas.filter((r) => this.failures.has(r)).map((r) => `${r}: ${this.failures.get(r)}`);
  }
}

/**
 * A replica's readiness for one shard, as coordinators see it:
 * - `up`: serving and caught up;
 * - `catching_up`: back from a crash or pause, may miss writes taken while away (hints
 *   pending, anti-entropy not finished). Still holds everything it acknowledged, so it
 *   counts toward `quorum`/`all` reads, but is not chosen for `one` reads;
 * - `rebuilding`: back with an empty or foreign disk, rebuilding from its peers; it lost
 *   what it acknowledged, so it counts toward no read until rebuilt (it still takes writes);
 * - `down`: not reachable.
 */
export type ReplicaState = 'up' | 'catching_up' | 'rebuilding' | 'down';

/**
 * The replicas to ask for a read at `level`, preferring `preferred` (the local node) and
 * then replica order; or `undefined` when fewer than needed are eligible. `one` takes only
 * `up` replicas; `quorum` and `all` take `up` and `catching_up` ones.
 */
export function chooseReadReplicas(
  replicas: readonly string[],
  stateOf: (node: string) => ReplicaState,
  level: Consistency,
  preferred?: string,
): string[] | undefined {
  const need = requiredReplicas(level, replicas.length);
  const eligible = replicas.filter((r) => {
    const s = stateOf(r);
    return s === 'up' || (level !== 'one' && s === 'catching_up');
  });
  if (eligible.length < need) return undefined;
  if (preferred && eligible.includes(preferred)) {
    return [preferred, ...eligible.filter((r) => r !== preferred)].slice(0, need);
  }
  return eligible.slice(0, need);
}

/** One id's state on a replica: its last write or delete, with that change's version. */
export interface VersionedEntry<T = unknown> {
  readonly version: Version;
  /** True for a tombstone (the id's last change was a delete). */
  readonly deleted: boolean;
  /** The row, for a write; absent for a tombstone. */
  readonly value?: T;
}

/** Last-writer-wins: the entry with the higher version; `a` when equal. */
export function newerEntry<T>(
  a: VersionedEntry<T> | undefined,
  b: VersionedEntry<T> | undefined,
): VersionedEntry<T> | undefined {
  if (!a) return b;
  if (!b) return a;
  return compareVersions(b.version, a.version) > 0 ? b : a;
}

/** The winner of one id across replica answers, and the replicas whose answer was older. */
export interface Resolution<T> {
  /** The newest entry (a tombstone hides the row), or undefined when no replica has the id. */
  readonly winner: VersionedEntry<T> | undefined;
  /** Replicas that answered with an older entry or none: the read-repair targets. */
  readonly stale: string[];
}

/**
 * Resolves one id from the answers of the replicas asked (`answers`: replica → its entry,
 * undefined when it has none).
 */
export function resolveEntry<T>(answers: ReadonlyMap<string, VersionedEntry<T> | undefined>): Resolution<T> {
  let winner: VersionedEntry<T> | undefined;
  for (const entry of answers.values()) winner = newerEntry(winner, entry);
  const stale: string[] = [];
  if (winner) {
    for (const [node, entry] of answers) {
      if (!entry || compareVersions(entry.version, winner.version) < 0) stale.push(node);
    }
  }
  return { winner, stale };
}
