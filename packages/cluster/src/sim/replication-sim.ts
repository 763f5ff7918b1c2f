/**
 * Deterministic simulation of leaderless replication: the pure replication core
 * (placement, versions, write quorums with re-versioning, hints, read resolution and read
 * repair, digests and anti-entropy, catch-up after a return) driven through random
 * schedules of writes, upserts, deletes, reads and faults — crashes, restarts, pauses,
 * partitions (symmetric and one-way), clock jumps, lost messages, coordinators that die
 * mid-write and nodes that come back with an empty disk. Then the cluster heals, hints
 * drain, one anti-entropy pass runs, and a checker compares the history of acknowledged
 * operations with the final state read from every replica (Jepsen's approach, Kingsbury
 * 2013–; the simulation style of FoundationDB and etcd/raft's tests).
 *
 * Same seed, same run. One step at a time and synchronously: a message is delivered or
 * lost, never reordered — reordering across coordinators is what versions settle, and the
 * clock jumps make versions disagree with real time.
 *
 * Fault model (what "any single failure" means here): any number of crashes, pauses and
 * partitions, but one lost disk at a time — a node that lost its disk must have rebuilt
 * before another disk is lost (two lost copies of RF = 3 at W = quorum can be all there was).
 */
import { type Random, randomInt, seededRandom } from '../gossip/random.ts';
import { compareDigests } from '../replication/digest.ts';
import { HintLog } from '../replication/hints.ts';
import { Placement } from '../replication/placement.ts';
import {
  type Consistency,
  chooseReadReplicas,
  type ReplicaState,
  requiredReplicas,
  resolveEntry,
  type VersionedEntry,
  WriteTracker,
} from '../replication/quorum.ts';
import { CatchUp, ShardReplica } from '../replication/replica.ts';
import { shardOf } from '../replication/shard-key.ts';
import { compareVersions, HybridClock, type Version } from '../versions/version.ts';

export interface ReplicationSimOptions {
  readonly seed: number;
  /** Ring members. Default 5. */
  readonly nodes?: number;
  /** Replication factor. Default 3. */
  readonly rf?: number;
  /** Shards of the one dataset. Default 4. */
  readonly shards?: number;
  /** Distinct row ids written (few ids: many upserts and deletes of one id). Default 24. */
  readonly keys?: number;
  /** Client operations and faults before healing. Default 400. */
  readonly steps?: number;
  /** Chance a step is a fault rather than a client operation. Default 0.15. */
  readonly faultRate?: number;
  /** Chance a message between two reachable nodes is lost. Default 0.05. */
  readonly lossRate?: number;
  /** Write consistency. Default quorum. */
  readonly writeLevel?: Consistency;
  /** Hints kept per target (small, to exercise overflow). Default 16. */
  readonly maxHints?: number;
}

/** An anomaly the checker found, with enough to find it in the history. */
export interface Anomaly {
  readonly kind:
    | 'lost'
    | 'upsert_undone'
    | 'delete_undone'
    | 'invented'
    | 'stale_quorum_read'
    | 'replicas_differ';
  readonly detail: string;
}

export interface ReplicationSimResult {
  readonly seed: number;
  readonly writes: {
    issued: number;
    acked: number;
    unavailable: number;
    indeterminate: number;
    reversioned: number;
  };
  readonly reads: { issued: number; answered: number; unavailable: number; repaired: number };
  readonly faults: Record<string, number>;
  readonly hints: { stored: number; replayed: number; dropped: number };
  readonly antiEntropy: { passes: number; leavesSynced: number; entriesSent: number };
  readonly anomalies: Anomaly[];
}

const DATASET = 'd';

interface SimNode {
  readonly id: string;
  up: boolean;
  paused: boolean;
  skewMs: number;
  /** Bumped by a lost disk: part of the clock's node tag, so a new disk never reissues a version. */
  incarnation: number;
  /** Highest HLC this node issued, kept on its disk (the node persists an upper bound ahead of use). */
  hlcFloor: bigint;
  clock: HybridClock;
  replicas: Map<number, ShardReplica<number>>;
  catchUp: Map<number, CatchUp>;
  hints: HintLog<{ id: number; entry: VersionedEntry<number> }>;
}

interface WriteRecord {
  readonly op: number;
  readonly key: number;
  readonly deleted: boolean;
  readonly value: number;
  version: Version | undefined;
  status: 'acked' | 'unavailable' | 'indeterminate';
  /** Position in ack order (for "acknowledged before"). */
  ackedAt: number;
}

/** Runs one seeded schedule and checks it. */
export function runReplicationSim(options: ReplicationSimOptions): ReplicationSimResult {
  return new ReplicationSim(options).run();
}

class ReplicationSim {
  private readonly o: Required<ReplicationSimOptions>;
  private readonly random: Random;
  private readonly nodes: SimNode[] = [];
  private readonly placement: Placement;
  private nowMs = 1_000_000;
  private group = new Map<string, number>();
  private oneWay = new Set<string>();
  private readonly writes: WriteRecord[] = [];
  private readonly byVersion = new Map<string, WriteRecord>();
  private ackCounter = 0;
  private readonly anomalies: Anomaly[] = [];
  private readonly faults: Record<string, number> = {};
  private readonly stats = {
    writes: { issued: 0, acked: 0, unavailable: 0, indeterminate: 0, reversioned: 0 },
    reads: { issued: 0, answered: 0, unavailable: 0, repaired: 0 },
    antiEntropy: { passes: 0, leavesSynced: 0, entriesSent: 0 },
  };

  constructor(options: ReplicationSimOptions) {
    this.o = {
      nodes: 5,
      rf: 3,
      shards: 4,
      keys: 24,
      steps: 400,
      faultRate: 0.15,
      lossRate: 0.05,
      writeLevel: 'quorum',
      maxHints: 16,
      ...options,
    };
    this.random = seededRandom(this.o.seed);
    const ids = Array.from({ length: this.o.nodes }, (_, i) => `n${i + 1}`);
    this.placement = new Placement({ epoch: 1, members: ids }, 64);
    for (const id of ids) this.nodes.push(this.freshNode(id, 0));
  }

  run(): ReplicationSimResult {
    for (let step = 0; step < this.o.steps; step++) {
      this.nowMs += 1 + randomInt(this.random, 5);
      if (this.random.next() < this.o.faultRate) this.fault();
      else this.clientOp();
      if (this.random.next() < 0.2) this.replayHints();
      if (this.random.next() < 0.05) this.antiEntropy(randomInt(this.random, this.o.shards), false);
    }
    this.heal();
    this.check();
    const hints = { stored: 0, replayed: 0, dropped: 0 };
    for (const n of this.nodes) {
      hints.stored += n.hints.counters.stored;
      hints.replayed += n.hints.counters.replayed;
      hints.dropped += n.hints.counters.dropped;
    }
    return { seed: this.o.seed, ...this.stats, faults: this.faults, hints, anomalies: this.anomalies };
  }

  // ---- nodes and network ----

  private freshNode(id: string, skewMs: number, incarnation = 0): SimNode {
    const node: SimNode = {
      id,
      up: true,
      paused: false,
      skewMs,
      incarnation,
      hlcFloor: 0n,
      clock: new HybridClock(`${id}#${incarnation}`, () => this.nowMs + node.skewMs),
      replicas: new Map(),
      catchUp: new Map(),
      hints: new HintLog(this.o.maxHints),
    };
    for (let s = 0; s < this.o.shards; s++) {
      if (this.placement.replicas(DATASET, s, this.o.rf).includes(id)) {
        node.replicas.set(s, new ShardReplica<number>(6));
        node.catchUp.set(s, new CatchUp(this.o.rf));
      }
    }
    return node;
  }

  private node(id: string): SimNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  private serving(n: SimNode): boolean {
    return n.up && !n.paused;
  }

  /** Whether a message from `a` reaches `b` (both serving, same side, direction not cut, not lost). */
  private delivers(a: SimNode, b: SimNode): boolean {
    if (!this.connected(a, b)) return false;
    return a === b || this.random.next() >= this.o.lossRate;
  }

  private connected(a: SimNode, b: SimNode): boolean {
    if (!this.serving(a) || !this.serving(b)) return false;
    if (a === b) return true;
    return (this.group.get(a.id) ?? 0) === (this.group.get(b.id) ?? 0) && !this.oneWay.has(`${a.id}>${b.id}`);
  }

  /** How coordinator `c` sees replica `r` of `shard`. */
  private stateFor(c: SimNode, r: SimNode, shard: number): ReplicaState {
    if (!this.connected(c, r) || !this.connected(r, c)) return 'down';
    const own = r.catchUp.get(shard)!.state;
    if (own === 'up' && c.hints.hasPending(r.id, DATASET, shard)) return 'catching_up';
    return own;
  }

  // ---- client operations ----

  private clientOp(): void {
    const r = this.random.next();
    const live = this.nodes.filter((n) => this.serving(n));
    if (live.length === 0) return;
    const coord = live[randomInt(this.random, live.length)]!;
    const key = randomInt(this.random, this.o.keys);
    if (r < 0.45) this.write(coord, key, false);
    else if (r < 0.6) this.write(coord, key, true);
    else if (r < 0.9) this.read(coord, key, 'quorum');
    else this.read(coord, key, 'one');
  }

  private write(coord: SimNode, key: number, deleted: boolean): void {
    const shard = shardOf(key, this.o.shards);
    const replicas = this.placement.replicas(DATASET, shard, this.o.rf);
    const w = requiredReplicas(this.o.writeLevel, replicas.length);
    const record: WriteRecord = {
      op: this.writes.length,
      key,
      deleted,
      value: this.writes.length,
      version: undefined,
      status: 'indeterminate',
      ackedAt: -1,
    };
    this.writes.push(record);
    this.stats.writes.issued++;
    // A coordinator that knows fewer than W replicas are up refuses before writing anything.
    const reachable = replicas.filter((r) => {
      const s = this.stateFor(coord, this.node(r), shard);
      return s === 'up' || s === 'catching_up';
    });
    if (reachable.length < w) {
      record.status = 'unavailable';
      this.stats.writes.unavailable++;
      return;
    }
    for (let attempt = 0; attempt < 4; attempt++) {
      const version = coord.clock.now();
      if (version.hlc > coord.hlcFloor) coord.hlcFloor = version.hlc;
      record.version = version;
      const entry: VersionedEntry<number> = deleted
        ? { version, deleted }
        : { version, deleted, value: record.value };
      this.byVersion.set(versionKey(version), record);
      const tracker = new WriteTracker(shard, replicas, w);
      const dieAfter = this.random.next() < 0.03 ? randomInt(this.random, replicas.length) : -1;
      for (let i = 0; i < replicas.length; i++) {
        if (i === dieAfter) {
          // The coordinator dies mid-write: some replicas have it, no hints, no answer.
          this.crash(coord);
          this.count('coordinator_crash');
          return;
        }
        const target = this.node(replicas[i]!);
        if (!this.delivers(coord, target)) {
          tracker.fail(target.id, 'unreachable');
          continue;
        }
        target.clock.observe(version.hlc);
        const replica = target.replicas.get(shard)!;
        const held = replica.get(key);
        const applied = replica.apply(key, entry);
        const rebuilding = target.catchUp.get(shard)!.state === 'rebuilding';
        if (!this.delivers(target, coord)) {
          tracker.fail(target.id, 'reply lost');
        } else if (!applied && held && compareVersions(held.version, version) > 0) {
          tracker.stale(target.id, held.version);
          coord.clock.observe(held.version.hlc);
        } else if (rebuilding) {
          // Stored, but a rebuilding replica is no vote: it may lack what it acknowledged before.
          tracker.fail(target.id, 'rebuilding');
        } else {
          tracker.ack(target.id);
        }
      }
      const outcome = tracker.outcome;
      if (outcome === 'stale') {
        this.stats.writes.reversioned++;
        continue;
      }
      for (const r of tracker.unacked()) {
        if (r !== coord.id)
          coord.hints.add({ target: r, dataset: DATASET, shard, payload: { id: key, entry } });
      }
      if (outcome === 'acked') {
        record.status = 'acked';
        record.ackedAt = this.ackCounter++;
        this.stats.writes.acked++;
      } else {
        this.stats.writes.indeterminate++;
      }
      return;
    }
    this.stats.writes.indeterminate++;
  }

  private read(coord: SimNode, key: number, level: Consistency): void {
    this.stats.reads.issued++;
    const shard = shardOf(key, this.o.shards);
    const replicas = this.placement.replicas(DATASET, shard, this.o.rf);
    // What a quorum read must see: the last write to the key acknowledged before it started.
    const mustSee = this.lastAcked(key);
    const chosen = chooseReadReplicas(
      replicas,
      (r) => this.stateFor(coord, this.node(r), shard),
      level,
      coord.id,
    );
    if (!chosen) {
      this.stats.reads.unavailable++;
      return;
    }
    const answers = new Map<string, VersionedEntry<number> | undefined>();
    for (const r of chosen) {
      const target = this.node(r);
      if (!this.delivers(coord, target) || !this.delivers(target, coord)) {
        this.stats.reads.unavailable++;
        return;
      }
      answers.set(r, target.replicas.get(shard)!.get(key));
    }
    this.stats.reads.answered++;
    const { winner, stale } = resolveEntry(answers);
    if (winner) {
      this.checkIssued(key, winner, `read of ${key} at ${level}`);
      for (const r of stale) {
        const target = this.node(r);
        if (this.delivers(coord, target)) {
          target.replicas.get(shard)!.apply(key, winner);
          this.stats.reads.repaired++;
        }
      }
    }
    if (
      level !== 'one' &&
      mustSee?.version &&
      (!winner || compareVersions(winner.version, mustSee.version) < 0)
    ) {
      this.anomalies.push({
        kind: 'stale_quorum_read',
        detail: `seed ${this.o.seed}: ${level} read of ${key} missed acknowledged op ${mustSee.op}`,
      });
    }
  }

  private lastAcked(key: number): WriteRecord | undefined {
    let last: WriteRecord | undefined;
    for (const w of this.writes)
      if (w.key === key && w.status === 'acked' && (!last || w.ackedAt > last.ackedAt)) last = w;
    return last;
  }

  // ---- background repair ----

  private replayHints(): void {
    for (const c of this.nodes) {
      if (!this.serving(c)) continue;
      for (const t of c.hints.targets()) {
        const target = this.node(t);
        const batch = c.hints.peek(t, 4);
        let done = 0;
        for (const h of batch) {
          if (!this.delivers(c, target)) break;
          target.clock.observe(h.payload.entry.version.hlc);
          target.replicas.get(h.shard)!.apply(h.payload.id, h.payload.entry);
          if (!this.delivers(target, c)) break;
          done++;
        }
        c.hints.delivered(t, done);
      }
    }
  }

  /** Syncs every pair of connected replicas of `shard` (a full pass when `all`). */
  private antiEntropy(shard: number, all: boolean): void {
    this.stats.antiEntropy.passes++;
    const replicas = this.placement.replicas(DATASET, shard, this.o.rf).map((r) => this.node(r));
    for (let i = 0; i < replicas.length; i++) {
      for (let j = i + 1; j < replicas.length; j++) {
        const a = replicas[i]!;
        const b = replicas[j]!;
        if (!all && this.random.next() < 0.5) continue;
        if (!this.delivers(a, b) || !this.delivers(b, a)) continue;
        this.syncPair(a, b, shard);
      }
    }
  }

  private syncPair(a: SimNode, b: SimNode, shard: number): void {
    const ra = a.replicas.get(shard)!;
    const rb = b.replicas.get(shard)!;
    const leaves = compareDigests(ra.digest, rb.digest);
    this.stats.antiEntropy.leavesSynced += leaves.length;
    const fromA = ra.entriesIn(leaves);
    const fromB = rb.entriesIn(leaves);
    for (const [id, e] of fromA) rb.apply(id, e);
    for (const [id, e] of fromB) ra.apply(id, e);
    this.stats.antiEntropy.entriesSent += fromA.length + fromB.length;
    a.catchUp.get(shard)!.syncedWith(b.id);
    b.catchUp.get(shard)!.syncedWith(a.id);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      if (x.hints.needsRepair().includes(y.id)) x.hints.repaired(y.id);
    }
  }

  // ---- faults ----

  private count(kind: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  private crash(n: SimNode): void {
    n.up = false;
    n.paused = false;
  }

  private fault(): void {
    const r = this.random.next();
    let n = this.nodes[randomInt(this.random, this.nodes.length)]!;
    if (r < 0.2) {
      // At most two nodes down at once: enough to take a shard below quorum.
      if (!n.up || this.nodes.filter((x) => !x.up).length >= 2) return;
      this.crash(n);
      this.count('crash');
    } else if (r < 0.4) {
      const down = this.nodes.filter((x) => !x.up);
      if (down.length === 0) return;
      n = down[randomInt(this.random, down.length)]!;
      // Back with its disk: everything durable is there; it catches up before `one` reads.
      n.up = true;
      n.clock = new HybridClock(`${n.id}#${n.incarnation}`, () => this.nowMs + n.skewMs);
      n.clock.observe(n.hlcFloor);
      for (const [s, replica] of n.replicas) {
        for (const [, e] of replica.all()) n.clock.observe(e.version.hlc);
        n.catchUp.get(s)!.returned('catching_up');
      }
      this.count('restart');
    } else if (r < 0.48) {
      if (this.nodes.some((x) => [...x.catchUp.values()].some((c) => c.state === 'rebuilding'))) return;
      // Back with an empty disk: replicas, hints and the clock's memory are gone.
      const fresh = this.freshNode(n.id, n.skewMs, n.incarnation + 1);
      for (const c of fresh.catchUp.values()) c.returned('rebuilding');
      this.nodes[this.nodes.indexOf(n)] = fresh;
      this.count('disk_loss');
    } else if (r < 0.58) {
      const paused = this.nodes.find((x) => x.paused);
      if (paused) {
        paused.paused = false;
        this.count('resume');
      } else if (n.up) {
        n.paused = true;
        this.count('pause');
      }
    } else if (r < 0.68) {
      this.group = new Map(this.nodes.map((x) => [x.id, randomInt(this.random, 2)]));
      this.count('partition');
    } else if (r < 0.74) {
      const m = this.nodes[randomInt(this.random, this.nodes.length)]!;
      if (m !== n) this.oneWay.add(`${n.id}>${m.id}`);
      this.count('one_way_partition');
    } else if (r < 0.9) {
      this.group.clear();
      this.oneWay.clear();
      this.count('heal_network');
    } else {
      n.skewMs = randomInt(this.random, 400) - 200;
      this.count('clock_jump');
    }
  }

  // ---- healing and the checker ----

  private heal(): void {
    this.group.clear();
    this.oneWay.clear();
    for (const n of this.nodes) {
      if (!n.up) {
        n.up = true;
        for (const c of n.catchUp.values()) c.returned('catching_up');
      }
      n.paused = false;
    }
    const saved = this.o.lossRate;
    (this.o as { lossRate: number }).lossRate = 0;
    for (let i = 0; i < this.o.maxHints + 1 && this.nodes.some((n) => n.hints.targets().length > 0); i++)
      this.replayHints();
    for (let s = 0; s < this.o.shards; s++) this.antiEntropy(s, true);
    (this.o as { lossRate: number }).lossRate = saved;
  }

  private checkIssued(key: number, e: VersionedEntry<number>, where: string): void {
    const w = this.byVersion.get(versionKey(e.version));
    if (!w || w.key !== key || w.deleted !== e.deleted || (!e.deleted && w.value !== e.value)) {
      this.anomalies.push({
        kind: 'invented',
        detail: `seed ${this.o.seed}: ${where} returned an entry no client wrote`,
      });
    }
  }

  private check(): void {
    for (let s = 0; s < this.o.shards; s++) {
      const replicas = this.placement
        .replicas(DATASET, s, this.o.rf)
        .map((r) => this.node(r).replicas.get(s)!);
      const roots = new Set(replicas.map((r) => r.digest.root()));
      const sizes = new Set(replicas.map((r) => r.size));
      if (roots.size > 1 || sizes.size > 1) {
        this.anomalies.push({
          kind: 'replicas_differ',
          detail: `seed ${this.o.seed}: shard ${s} after one anti-entropy pass`,
        });
      }
    }
    for (let key = 0; key < this.o.keys; key++) {
      const shard = shardOf(key, this.o.shards);
      const answers = new Map<string, VersionedEntry<number> | undefined>();
      for (const r of this.placement.replicas(DATASET, shard, this.o.rf))
        answers.set(r, this.node(r).replicas.get(shard)!.get(key));
      const final = resolveEntry(answers).winner;
      if (final) this.checkIssued(key, final, `final read of ${key}`);
      const last = this.lastAcked(key);
      if (!last?.version) continue;
      if (final && compareVersions(final.version, last.version) >= 0) continue;
      const kind = last.deleted ? 'delete_undone' : final && !final.deleted ? 'upsert_undone' : 'lost';
      this.anomalies.push({ kind, detail: `seed ${this.o.seed}: key ${key}, acknowledged op ${last.op}` });
    }
  }
}

function versionKey(v: Version): string {
  return `${v.hlc}:${v.node}`;
}
