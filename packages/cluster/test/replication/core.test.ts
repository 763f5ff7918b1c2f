/** Unit tests of the pure replication pieces: shard keys, placement, quorums, digests, hints. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/gossip/random.ts';
import { compareDigests, DigestComparison } from '../../src/replication/digest.ts';
import { HintLog } from '../../src/replication/hints.ts';
import { defaultReplicationFactor, defaultShardCount, Placement } from '../../src/replication/placement.ts';
import {
  chooseReadReplicas,
  parseConsistency,
  type ReplicaState,
  requiredReplicas,
  resolveEntry,
  WriteTracker,
} from '../../src/replication/quorum.ts';
import { CatchUp, ShardReplica } from '../../src/replication/replica.ts';
import { keyHash, shardOf } from '../../src/replication/shard-key.ts';
import type { Version } from '../../src/versions/version.ts';

const v = (hlc: number, node = 1): Version => ({ hlc: BigInt(hlc), node });

describe('shard keys', () => {
  it('hash an integer id alike as a number and as a bigint, negative ones included', () => {
    const random = seededRandom(1);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor((random.next() - 0.5) * 2 * Number.MAX_SAFE_INTEGER);
      assert.equal(keyHash(n), keyHash(BigInt(n)), `id ${n}`);
    }
    assert.equal(keyHash(-1), keyHash(-1n));
  });

  it('are fixed forever (the values are part of the storage format)', () => {
    assert.deepEqual(
      [keyHash(0), keyHash(1), keyHash(-1), keyHash(2n ** 40n), keyHash('doc-7'), keyHash('')],
      [3426039175, 659670806, 638898620, 4124191708, 3192051985, 2551842700],
    );
    assert.deepEqual([shardOf(12345, 7), shardOf('doc-7', 5)], [1, 0]);
    assert.equal(shardOf(12345, 1), 0);
    assert.throws(() => shardOf(1, 0), /positive integer/);
    assert.throws(() => keyHash(0.5), /safe range/);
  });

  it('spread consecutive and strided ids evenly over the shards', () => {
    for (const stride of [1, 8, 1000]) {
      const counts = new Array(8).fill(0);
      for (let i = 0; i < 80_000; i++) counts[shardOf(i * stride, 8)]++;
      for (const c of counts) assert.ok(Math.abs(c - 10_000) < 400, `stride ${stride}: ${counts}`);
    }
  });
});

describe('placement', () => {
  const members = ['n1', 'n2', 'n3', 'n4', 'n5'];

  it('gives RF distinct replicas, the same whatever the member order', () => {
    const a = new Placement({ epoch: 3, members });
    const b = new Placement({ epoch: 3, members: [...members].reverse() });
    for (let s = 0; s < 50; s++) {
      const r = a.replicas('vecs', s, 3);
      assert.equal(new Set(r).size, 3);
      assert.deepEqual(r, b.replicas('vecs', s, 3));
      assert.deepEqual(a.replicas('vecs', s, 2), r.slice(0, 2));
    }
    assert.equal(a.replicas('vecs', 0, 9).length, 5);
    assert.deepEqual(new Placement({ epoch: 0, members: [] }).replicas('vecs', 0, 3), []);
  });

  it('adding a member moves only the replicas it takes', () => {
    const before = new Placement({ epoch: 1, members });
    const after = new Placement({ epoch: 2, members: [...members, 'n6'] });
    let moved = 0;
    for (let s = 0; s < 600; s++) {
      const x = before.replicas('d', s, 3);
      const y = after.replicas('d', s, 3);
      for (const node of x) if (!y.includes(node)) moved++;
      for (const node of y) if (!x.includes(node)) assert.equal(node, 'n6');
    }
    // 1/6 of 1,800 replicas, within ketama's unevenness.
    assert.ok(moved > 200 && moved < 420, `moved ${moved}`);
  });

  it('defaults: one shard a member, RF min(3, members)', () => {
    assert.deepEqual([defaultShardCount(0), defaultShardCount(1), defaultShardCount(5)], [1, 1, 5]);
    assert.deepEqual([1, 2, 3, 7].map(defaultReplicationFactor), [1, 2, 3, 3]);
  });
});

describe('quorums', () => {
  it('needs 1, a majority or all', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((rf) => requiredReplicas('quorum', rf)),
      [1, 2, 2, 3, 3],
    );
    assert.equal(requiredReplicas('one', 3), 1);
    assert.equal(requiredReplicas('all', 3), 3);
    assert.equal(parseConsistency(' QUORUM '), 'quorum');
    assert.throws(
      () => parseConsistency('two'),
      /unknown consistency level "two" \(expected one of one, quorum, all\)/,
    );
  });

  it('acknowledges at W, fails when W is out of reach, asks for a new version on a stale reply', () => {
    const t = new WriteTracker(0, ['a', 'b', 'c'], 2);
    t.ack('a');
    assert.equal(t.outcome, 'pending');
    t.fail('b', 'unreachable');
    assert.equal(t.outcome, 'pending');
    t.ack('c');
    assert.equal(t.outcome, 'acked');
    assert.deepEqual(t.unacked(), ['b']);
    const f = new WriteTracker(1, ['a', 'b', 'c'], 2);
    f.fail('a', 'down');
    f.fail('b', 'down');
    assert.equal(f.outcome, 'failed');
    assert.deepEqual(f.failureReasons(), ['a: down', 'b: down']);
    const s = new WriteTracker(2, ['a', 'b', 'c'], 2);
    s.ack('a');
    s.stale('b', v(9));
    s.stale('c', v(12));
    assert.equal(s.outcome, 'stale');
    assert.deepEqual(s.newestSeen, v(12));
    assert.throws(() => new WriteTracker(0, ['a'], 2), /needs 2 of 1/);
  });

  it('reads only caught-up replicas at one, and never a rebuilding one', () => {
    const states: Record<string, ReplicaState> = { a: 'catching_up', b: 'up', c: 'rebuilding' };
    const of = (r: string) => states[r]!;
    assert.deepEqual(chooseReadReplicas(['a', 'b', 'c'], of, 'one'), ['b']);
    assert.deepEqual(chooseReadReplicas(['a', 'b', 'c'], of, 'quorum', 'b'), ['b', 'a']);
    assert.equal(chooseReadReplicas(['a', 'b', 'c'], of, 'all'), undefined);
  });

  it('resolves to the newest entry, tombstones included, and names the stale replicas', () => {
    const r = resolveEntry(
      new Map([
        ['a', { version: v(5), deleted: false, value: 1 }],
        ['b', { version: v(7), deleted: true }],
        ['c', undefined],
      ]),
    );
    assert.deepEqual(r.winner, { version: v(7), deleted: true });
    assert.deepEqual(r.stale, ['a', 'c']);
    // Same HLC: the node tag breaks the tie.
    const tie = resolveEntry(
      new Map([
        ['a', { version: v(5, 2), deleted: false }],
        ['b', { version: v(5, 9), deleted: false }],
      ]),
    );
    assert.deepEqual(tie.winner?.version, v(5, 9));
  });
});

describe('digests', () => {
  it('are equal for replicas that applied the same changes in any order', () => {
    const a = new ShardReplica<number>(8);
    const b = new ShardReplica<number>(8);
    const changes = Array.from({ length: 500 }, (_, i) => ({
      id: i % 137,
      entry: { version: v(i + 1, i % 3), deleted: i % 5 === 0 },
    }));
    for (const c of changes) a.apply(c.id, c.entry);
    for (const c of [...changes].reverse()) b.apply(c.id, c.entry);
    assert.equal(a.digest.root(), b.digest.root());
    assert.deepEqual(compareDigests(a.digest, b.digest), []);
  });

  it('find exactly the leaves where replicas differ, in at most depth + 1 round trips', () => {
    const a = new ShardReplica<number>(10);
    const b = new ShardReplica<number>(10);
    for (let i = 0; i < 5000; i++) {
      a.apply(i, { version: v(i + 1), deleted: false });
      b.apply(i, { version: v(i + 1), deleted: false });
    }
    const changed = [17, 2222, 4999];
    b.apply(changed[0]!, { version: v(9000), deleted: true });
    b.apply(changed[1]!, { version: v(9001), deleted: false });
    a.apply(7000, { version: v(9002), deleted: false });
    const cmp = new DigestComparison(a.digest, 10);
    let trips = 0;
    for (let step = cmp.next(); step; step = cmp.next()) {
      trips++;
      cmp.receive(b.digest.nodes(step.level, step.indices));
    }
    assert.ok(trips <= 11, `${trips} round trips`);
    const leaves = cmp.differingLeaves();
    const ids = new Set([...a.entriesIn(leaves), ...b.entriesIn(leaves)].map(([id]) => id));
    for (const id of [...changed.slice(0, 2), 7000]) assert.ok(ids.has(id), `id ${id} in a differing leaf`);
    assert.ok(leaves.length <= 3, `${leaves.length} leaves`);
    // Syncing those leaves both ways makes the replicas equal.
    for (const [id, e] of a.entriesIn(leaves)) b.apply(id, e);
    for (const [id, e] of b.entriesIn(leaves)) a.apply(id, e);
    assert.equal(a.digest.root(), b.digest.root());
    assert.throws(() => new DigestComparison(a.digest, 9), /depth 10 here, 9 remote/);
  });
});

describe('hints and catch-up', () => {
  it('keep hints per target up to the cap, then mark the target for repair', () => {
    const log = new HintLog<number>(2);
    assert.ok(log.add({ target: 'b', dataset: 'd', shard: 0, payload: 1 }));
    assert.ok(log.add({ target: 'b', dataset: 'd', shard: 1, payload: 2 }));
    assert.equal(log.add({ target: 'b', dataset: 'd', shard: 1, payload: 3 }), false);
    assert.deepEqual(log.needsRepair(), ['b']);
    assert.ok(log.hasPending('b', 'd', 1));
    assert.deepEqual(
      log.peek('b', 5).map((h) => h.payload),
      [1, 2],
    );
    log.delivered('b', 1);
    assert.deepEqual(
      log.peek('b', 5).map((h) => h.payload),
      [2],
    );
    assert.deepEqual(log.counters, { stored: 2, replayed: 1, dropped: 1 });
    log.repaired('b');
    assert.deepEqual(log.needsRepair(), []);
  });

  it('a returning replica is up after RF − W peers (crash) or RF − W + 1 peers (lost disk)', () => {
    const crash = new CatchUp(3);
    crash.returned('catching_up');
    crash.syncedWith('b');
    assert.equal(crash.state, 'up');
    const disk = new CatchUp(3);
    disk.returned('rebuilding');
    disk.syncedWith('b');
    disk.syncedWith('b');
    assert.equal(disk.state, 'rebuilding');
    disk.returned('catching_up');
    disk.syncedWith('b');
    assert.equal(disk.state, 'rebuilding', 'a crash does not end a rebuild');
    disk.syncedWith('c');
    assert.equal(disk.state, 'up');
    const single = new CatchUp(1);
    single.returned('rebuilding');
    assert.equal(single.state, 'up');
  });
});
