/**
 * The replication core under random fault schedules (src/sim/replication-sim.ts): after
 * healing, hint replay and one anti-entropy pass, no acknowledged write is lost or undone,
 * no acknowledged delete undone, quorum reads saw every write acknowledged before them,
 * and the replicas of every shard are identical. `SEEDS=20000 node --test …` for a longer
 * run; a failing seed reproduces exactly with `runReplicationSim({ seed })`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runReplicationSim } from '../../src/sim/replication-sim.ts';

const SEEDS = Number(process.env.SEEDS ?? 1500);

describe('replication simulation', () => {
  it(`over ${SEEDS} seeded fault schedules: nothing acknowledged is lost, undone or hidden, and replicas converge`, (t) => {
    const totals = {
      acked: 0,
      unavailable: 0,
      indeterminate: 0,
      reversioned: 0,
      reads: 0,
      repaired: 0,
      hintsDropped: 0,
    };
    const faults: Record<string, number> = {};
    const failing: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runReplicationSim({ seed });
      totals.acked += r.writes.acked;
      totals.unavailable += r.writes.unavailable;
      totals.indeterminate += r.writes.indeterminate;
      totals.reversioned += r.writes.reversioned;
      totals.reads += r.reads.answered;
      totals.repaired += r.reads.repaired;
      totals.hintsDropped += r.hints.dropped;
      for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
      if (r.anomalies.length > 0)
        failing.push(...r.anomalies.slice(0, 3).map((a) => `${a.kind}: ${a.detail}`));
    }
    assert.deepEqual(failing.slice(0, 10), []);
    // The schedules did what they are for: every fault kind, writes that had to be
    // re-versioned above a newer replica, hints that overflowed, reads that repaired.
    for (const kind of [
      'crash',
      'restart',
      'disk_loss',
      'pause',
      'partition',
      'one_way_partition',
      'clock_jump',
      'coordinator_crash',
    ]) {
      assert.ok((faults[kind] ?? 0) > 0, `no ${kind} in ${SEEDS} schedules`);
    }
    assert.ok(totals.acked > SEEDS * 20, JSON.stringify(totals));
    assert.ok(
      totals.reversioned > 0 && totals.hintsDropped > 0 && totals.repaired > 0,
      JSON.stringify(totals),
    );
    t.diagnostic(JSON.stringify({ totals, faults }));
  });

  it('at W = one it does lose acknowledged writes (the checker can see a loss)', () => {
    let anomalies = 0;
    for (let seed = 1; seed <= 300 && anomalies === 0; seed++) {
      anomalies += runReplicationSim({ seed, writeLevel: 'one' }).anomalies.length;
    }
    assert.ok(anomalies > 0, 'a lost disk after a W = one write must show as lost or undone');
  });

  it('replays a seed exactly', () => {
    assert.deepEqual(runReplicationSim({ seed: 42 }), runReplicationSim({ seed: 42 }));
  });
});
