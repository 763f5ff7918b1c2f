/**
 * Last-writer-wins in the store, against a naive oracle: for random sets of versioned puts
 * and deletes applied in random orders (as replicas receive them), the live rows are the
 * oracle's — per id, the highest version wins, and a delete at the highest version keeps
 * the id dead — whatever the order, and applying everything twice changes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom, type Version } from '@longbow/cluster';
import { Int64, type RecordBatch } from 'apache-arrow';
import { IndexPool } from '../../src/index/index-pool.ts';
import { encodeBatchRecord, encodeDeleteRecord } from '../../src/store/records.ts';
import { Store } from '../../src/store/store.ts';
import { encodeRowVersions, type WalEntry, WalOp } from '../../src/wal/entry.ts';
import { vectorBatch } from '../fixtures/vector-batch.ts';

function batch(ids: number[], tag: number): RecordBatch {
  return vectorBatch(ids, 2, (id, c) => (c === 0 ? tag : id));
}

/** A store with small index settings and no memory limit. */
function smallStore(pool: IndexPool): Store {
  return new Store(pool, {
    hnswM: 8,
    hnswEfConstruction: 50,
    maxMemoryBytes: 0,
    indexShardRows: 10_000,
    indexVacuumRatio: 0.5,
  });
}

type Op = { kind: 'put' | 'delete'; ids: number[]; versions: Version[]; tag: number };

function entryOf(op: Op, lsn: bigint): WalEntry {
  const record =
    op.kind === 'put'
      ? encodeBatchRecord(batch(op.ids, op.tag))
      : encodeDeleteRecord(op.ids.map(BigInt), new Int64());
  return {
    lsn,
    op: op.kind === 'put' ? WalOp.put : WalOp.delete,
    dataset: 'd',
    timestampMs: 0,
    version: op.versions[0]!,
    rowVersions: encodeRowVersions(op.versions),
    record,
  };
}

/** id → tag of the live row, by the rule itself. */
function oracle(ops: Op[]): Map<number, number> {
  const best = new Map<number, { v: Version; tag: number | undefined }>();
  for (const op of ops) {
    op.ids.forEach((id, i) => {
      const v = op.versions[i]!;
      const cur = best.get(id);
      const higher = !cur || v.hlc > cur.v.hlc || (v.hlc === cur.v.hlc && v.node > cur.v.node);
      if (higher) best.set(id, { v, tag: op.kind === 'put' ? op.tag : undefined });
    });
  }
  const live = new Map<number, number>();
  for (const [id, { tag }] of best) if (tag !== undefined) live.set(id, tag);
  return live;
}

function liveRows(store: Store): Map<number, number> {
  const ds = store.get('d');
  const out = new Map<number, number>();
  if (!ds) return out;
  for (let o = 0; o < ds.rowCount; o++) {
    if (!ds.isLive(o)) continue;
    const id: number = Number(ds.cell(o, 'id'));
    assert.equal(out.has(id), false, `id ${id} live twice`);
    out.set(id, ds.vectorOf(o)[0]!);
  }
  return out;
}

describe('last writer wins', () => {
  it('ends in the oracle state for any order of versioned puts and deletes, and is idempotent', async () => {
    const pool = new IndexPool(1, () => {});
    try {
      for (let seed = 1; seed <= 60; seed++) {
        const random = seededRandom(seed);
        const rnd = () => random.next();
        const pick = (n: number) => Math.floor(rnd() * n);
        // Distinct versions per id except deliberate exact duplicates (re-sent writes).
        const ops: Op[] = [{ kind: 'put', ids: [0], versions: [{ hlc: 1n, node: 1 }], tag: 1 }];
        for (let k = 0; k < 12; k++) {
          const ids = [...new Set(Array.from({ length: 1 + pick(4) }, () => pick(8)))];
          const versions = ids.map(() => ({ hlc: BigInt(1 + pick(20)), node: 1 + pick(3) }));
          ops.push({ kind: rnd() < 0.3 ? 'delete' : 'put', ids, versions, tag: 100 + k });
        }
        // Equal versions must be the same write: give each (version) one meaning.
        const seen = new Map<string, Op>();
        const unique = ops.filter((op) => {
          const keys = op.ids.map((id, i) => `${id}@${op.versions[i]!.hlc}/${op.versions[i]!.node}`);
          if (keys.some((k) => seen.has(k))) return false;
          for (const k of keys) seen.set(k, op);
          return true;
        });
        const expected = oracle(unique);
        const order = [...unique].sort(() => rnd() - 0.5);
        const store = smallStore(pool);
        let lsn = 0n;
        for (const op of [...order, ...order]) {
          if (op.kind === 'delete' && !store.get('d')) {
            store.applyEntry(entryOf(unique[0]!, ++lsn)); // deletes need the dataset to exist
          }
          store.applyEntry(entryOf(op, ++lsn));
        }
        assert.deepEqual(
          [...liveRows(store)].sort((a, b) => a[0] - b[0]),
          [...expected].sort((a, b) => a[0] - b[0]),
          `seed ${seed}`,
        );
        store.applyEntry({
          lsn: ++lsn,
          op: WalOp.dropDataset,
          dataset: 'd',
          timestampMs: 0,
          version: { hlc: 0n, node: 0 },
          record: new Uint8Array(0),
        });
      }
    } finally {
      await pool.close();
    }
  });

  it('keeps a deleted id dead against an older write that arrives later', async () => {
    const pool = new IndexPool(1, () => {});
    try {
      const store = smallStore(pool);
      const v = (hlc: number) => ({ hlc: BigInt(hlc), node: 1 });
      store.applyEntry(entryOf({ kind: 'put', ids: [1, 2], versions: [v(5), v(5)], tag: 1 }, 1n));
      store.applyEntry(entryOf({ kind: 'delete', ids: [1, 3], versions: [v(10), v(10)], tag: 0 }, 2n));
      // An older delete arriving late must not lower the tombstone's version.
      store.applyEntry(entryOf({ kind: 'delete', ids: [3], versions: [v(6)], tag: 0 }, 3n));
      store.applyEntry(entryOf({ kind: 'put', ids: [1, 3], versions: [v(7), v(8)], tag: 2 }, 3n));
      assert.deepEqual([...liveRows(store)], [[2, 1]]);
      assert.equal(store.get('d')!.deletedIdCount, 2);
      store.applyEntry(entryOf({ kind: 'put', ids: [3], versions: [v(11)], tag: 3 }, 4n));
      assert.deepEqual(
        [...liveRows(store)].sort((a, b) => a[0] - b[0]),
        [
          [2, 1],
          [3, 3],
        ],
      );
      assert.equal(store.get('d')!.deletedIdCount, 1);
      assert.equal(store.purgeDeletedIds(11n), 1);
    } finally {
      await pool.close();
    }
  });
});
