/**
 * The mutation check: a test that cannot fail is not a test. Each mutant below breaks one
 * promise the node makes (delete the fsync before the ack, skip the replay, stop counting
 * a metric, …) in a scratch copy of the tree; the named tests must then fail. A mutant that
 * survives — its tests still pass — fails this script, so the suite stays honest as the code
 * changes. A mutant whose target text is no longer in the source fails too (update the
 * mutant with the code).
 *
 * Usage: `node scripts/mutation-check.ts [name …]` (default: every mutant). Prints one
 * line per mutant and a table; exits 1 when any mutant survived or could not be applied.
 * Runs only each mutant's own test files (a few seconds each), one mutant at a time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Mutant {
  /** Short name, for the table and the command line. */
  name: string;
  /** What breaks, in a user's words. */
  breaks: string;
  /** File, relative to the repository root. */
  file: string;
  /** Exact text that must occur exactly once in the file… */
  find: string;
  /** …and what it becomes. */
  replace: string;
  /** Test files that must fail (relative to the root). */
  tests: string[];
}

const MUTANTS: Mutant[] = [
  {
    name: 'wal-no-datasync',
    breaks: 'the WAL acknowledges group commits without fdatasync',
    file: 'packages/server/src/wal/wal.ts',
    find: `          const t0 = performance.now();
          await this.datasyncObserved();`,
    replace: `          const t0 = performance.now();`,
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'real-fs-no-datasync',
    breaks: "the real file layer's datasync returns without calling fdatasync(2)",
    file: 'packages/server/src/storage/file-layer.ts',
    find: `  datasync(): Promise<void> {
    return this.fh.datasync();
  }`,
    replace: `  datasync(): Promise<void> {
    return Promise.resolve();
  }`,
    tests: ['packages/server/test/commit/real-fsync.test.ts'],
  },
  {
    name: 'replay-skips-puts',
    breaks: 'WAL replay ignores every put',
    file: 'packages/server/src/commit/committer.ts',
    find: `  if (!covered) store.applyEntry(entry);`,
    replace: `  if (!covered && entry.op !== WalOp.put) store.applyEntry(entry);`,
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'fsync-error-uncounted',
    breaks: 'a failed fsync is not counted in longbow_flush_ops_total{status="error"}',
    file: 'packages/server/src/wal/wal.ts',
    find: `      this.opts.observer?.onFsync?.(false);
      throw err;`,
    replace: `      throw err;`,
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'wal-keeps-writing-after-failure',
    breaks: 'after a failed fsync the WAL accepts new writes as if nothing happened',
    file: 'packages/server/src/wal/wal.ts',
    find: `    if (this.failureValue)
      return Promise.reject(new WalUnavailableError(`,
    replace: `    if (this.failureValue && this.closed)
      return Promise.reject(new WalUnavailableError(`,
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'short-write-ignored',
    breaks: 'a short WAL write is taken as complete',
    file: 'packages/server/src/wal/wal.ts',
    find: 'if (bytesWritten !== expected) throw',
    replace: 'if (bytesWritten > expected) throw',
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'lww-ignores-versions',
    breaks: 'a write replaces the live row of its id whatever its version',
    file: 'packages/server/src/store/dataset.ts',
    find: 'if (order > 0 || (order === 0 && previous >= firstRow)) {',
    replace: 'if (order > -2) {',
    tests: ['packages/server/test/store/last-writer-wins.test.ts'],
  },
  {
    name: 'delete-forgets-tombstone',
    breaks: 'a delete keeps no tombstone, so an older write resurrects the id',
    file: 'packages/server/src/store/dataset.ts',
    find: 'if (dead === undefined || compareVersions(version, dead) > 0) this.deletedIds.set(key, version);',
    replace: '',
    tests: ['packages/server/test/store/last-writer-wins.test.ts'],
  },
  {
    name: 'metric-wal-bytes',
    breaks: 'longbow_wal_bytes_written_total stops moving',
    file: 'packages/server/src/node.ts',
    find: '              metrics.walBytes.inc(bytes);',
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-flush-ops',
    breaks: 'longbow_flush_ops_total stops moving',
    file: 'packages/server/src/node.ts',
    find: "onFsync: (ok) => metrics.flushOps.inc({ status: ok ? 'ok' : 'error' }),",
    replace: "onFsync: (ok) => (ok ? undefined : metrics.flushOps.inc({ status: 'error' })),",
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-ingest-bytes',
    breaks: 'longbow_ingest_bytes_total stops moving',
    file: 'packages/server/src/api/ingest.ts',
    find: '          ctx.metrics.ingestBytes.inc(batch.data.byteLength);',
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-group-commit',
    breaks: 'longbow_wal_group_commit_entries stops moving',
    file: 'packages/server/src/node.ts',
    find: '              metrics.walGroupEntries.observe(n);',
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-snapshot-size',
    breaks: 'longbow_snapshot_size_bytes is never set',
    file: 'packages/server/src/snapshot/persistence.ts',
    find: '              metrics.snapshotSize.set({ dataset }, bytes);',
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-memory-rejections',
    breaks: 'MEMORY_LIMIT refusals are not counted',
    file: 'packages/server/src/api/ingest.ts',
    find: 'ctx.metrics.memoryLimitRejections.inc();',
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-compaction',
    breaks: 'compaction merges are not counted',
    file: 'packages/server/src/store/compaction.ts',
    find: '          this.onMerge();',
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-replay',
    breaks: 'the start-up replay time is not observed',
    file: 'packages/server/src/node.ts',
    find: '      metrics.walReplaySeconds.observe(replaySeconds);',
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'metric-worker-restarts',
    breaks: 'a replaced index worker is not reported',
    file: 'packages/server/src/index/index-pool.ts',
    find: '      this.onRestart();',
    replace: '',
    tests: ['packages/server/test/index/index-pool.test.ts'],
  },
  {
    name: 'metric-s3-requests',
    breaks: 'S3 requests are not counted',
    file: 'packages/server/src/snapshot/s3.ts',
    find: '            onRequest(operation, true);',
    replace: '',
    tests: ['packages/server/test/s3/s3.test.ts'],
  },
  {
    name: 'no-post-filter',
    breaks: 'the index worker never post-filters broad filters (always the slow traversal filter)',
    file: 'packages/server/src/index/hnsw-worker.ts',
    find: 'allowed && (msg.selectivity ?? 0) >= POST_FILTER_MIN_SELECTIVITY',
    replace: 'allowed && (msg.selectivity ?? 0) > 2',
    tests: ['packages/server/test/index/sharded-index.test.ts'],
  },
  {
    name: 'client-no-backoff',
    breaks: 'the smart client retries UNAVAILABLE at once, without back-off',
    file: 'packages/client/src/client.ts',
    find: '          await this.clock.sleep(Math.min(delayMs, leftMs));',
    replace: '',
    tests: ['packages/client/test/client.test.ts'],
  },
  {
    name: 'wal-read-error-ignored',
    breaks: 'a WAL segment that cannot be read is taken as empty (acknowledged rows vanish)',
    file: 'packages/server/src/wal/wal.ts',
    find: '      const buf = await files.readFile(file);',
    replace: '      const buf = await files.readFile(file).catch(() => new Uint8Array(0));',
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'snapshot-sync-error-ignored',
    breaks: 'a snapshot whose fsync failed is made current anyway (and the WAL behind it truncated)',
    file: 'packages/server/src/snapshot/local.ts',
    find: '      await fh.sync();',
    replace: '      await fh.sync().catch(() => {});',
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'snapshot-rename-not-synced',
    breaks: 'a snapshot is made current without fsyncing its directory, then the WAL behind it is truncated',
    file: 'packages/server/src/snapshot/local.ts',
    find: `    await this.files.rename(temp, final);
    await this.files.syncDir(this.dir);`,
    replace: `    await this.files.rename(temp, final);`,
    tests: ['packages/server/test/commit/power-loss.test.ts'],
  },
  {
    name: 'metric-wal-write-errors',
    breaks:
      'a failed WAL write is not counted in longbow_wal_writes_total{status="error"} (the alert stays silent)',
    file: 'packages/server/src/node.ts',
    find: "              metrics.walWrites.inc({ status: 'error' });",
    replace: '',
    tests: ['packages/server/test/metrics-contract.test.ts'],
  },
  {
    name: 'stale-put-over-tombstone',
    breaks: 'a write older than the delete of its id brings the id back',
    file: 'packages/server/src/store/dataset.ts',
    find: 'if (compareVersions(versionAt(versions, i), dead) <= 0) {',
    replace: 'if (compareVersions(versionAt(versions, i), dead) < -1) {',
    tests: ['packages/server/test/store/last-writer-wins.test.ts'],
  },
  {
    name: 'late-delete-lowers-tombstone',
    breaks: 'an older delete arriving late lowers the tombstone, so a write between the two revives the id',
    file: 'packages/server/src/store/dataset.ts',
    find: 'if (dead === undefined || compareVersions(version, dead) > 0) this.deletedIds.set(key, version);',
    replace: 'if (dead !== null) this.deletedIds.set(key, version);',
    tests: ['packages/server/test/store/last-writer-wins.test.ts'],
  },
  {
    name: 'quorum-too-small',
    breaks: 'a quorum of RF = 3 is one replica (floor(rf/2) instead of floor(rf/2) + 1)',
    file: 'packages/cluster/src/replication/quorum.ts',
    find: 'return Math.floor(rf / 2) + 1;',
    replace: 'return Math.max(1, Math.floor(rf / 2));',
    tests: ['packages/cluster/test/replication/replication-sim.test.ts'],
  },
  {
    name: 'read-from-rebuilding',
    breaks: 'reads count a replica that lost its disk and is still rebuilding',
    file: 'packages/cluster/src/replication/quorum.ts',
    find: "return s === 'up' || (level !== 'one' && s === 'catching_up');",
    replace: "return s !== 'down';",
    tests: ['packages/cluster/test/replication/replication-sim.test.ts'],
  },
  {
    name: 'no-reversioning',
    breaks: 'a write that meets a newer version on a replica is acknowledged anyway, below it',
    file: 'packages/cluster/src/replication/quorum.ts',
    find: "if (this.newest) return 'stale';",
    replace: '',
    tests: ['packages/cluster/test/replication/replication-sim.test.ts'],
  },
  {
    name: 'rebuild-from-one-peer',
    breaks: 'a replica back with an empty disk serves reads after syncing with one peer',
    file: 'packages/cluster/src/replication/replica.ts',
    find: 'Math.min(this.rf - 1, this.rf - w + 1)',
    replace: '1',
    tests: ['packages/cluster/test/replication/replication-sim.test.ts'],
  },
  {
    name: 'crash-ends-rebuild',
    breaks: 'a crash during a rebuild makes the replica merely catching up',
    file: 'packages/cluster/src/replication/replica.ts',
    find: "this.stateValue === 'rebuilding' ? 'rebuilding' : how",
    replace: 'how',
    tests: ['packages/cluster/test/replication/replication-sim.test.ts'],
  },
  {
    name: 'digest-misses-leaves',
    breaks: 'anti-entropy syncs only the first differing leaf of a shard',
    file: 'packages/cluster/src/replication/digest.ts',
    find: 'this.result = this.level === this.local.depth ? differing : [];',
    replace: 'this.result = this.level === this.local.depth ? differing.slice(0, 1) : [];',
    tests: ['packages/cluster/test/replication/replication-sim.test.ts'],
  },
  {
    name: 'replica-ignores-versions',
    breaks: 'a replica takes whatever write arrives last, older or not',
    file: 'packages/cluster/src/replication/replica.ts',
    find: 'if (before && compareVersions(entry.version, before.version) <= 0) return false;',
    replace: 'if (before && compareVersions(entry.version, before.version) === 0) return false;',
    tests: ['packages/cluster/test/replication/replication-sim.test.ts'],
  },
  {
    name: 'paxos-ignores-accepted',
    breaks: 'a proposer that learns of an accepted value proposes its own anyway',
    file: 'packages/cluster/src/replication/consensus.ts',
    find: 'r.value = accepted.value;',
    replace: '',
    tests: ['packages/cluster/test/replication/consensus.test.ts'],
  },
  {
    name: 'paxos-minority',
    breaks: 'a topology change is decided by half of the ring members',
    file: 'packages/cluster/src/replication/consensus.ts',
    find: 'return Math.floor(this.host.acceptors(this.stateValue).length / 2) + 1;',
    replace: 'return Math.max(1, Math.floor(this.host.acceptors(this.stateValue).length / 2));',
    tests: ['packages/cluster/test/replication/consensus.test.ts'],
  },
  {
    name: 'paxos-forgets-promise',
    breaks: 'an acceptor restarted after a crash forgets what it promised',
    file: 'packages/cluster/src/replication/consensus.ts',
    find: 'this.promised = d.promised;',
    replace: 'this.promised = undefined;',
    tests: ['packages/cluster/test/replication/consensus.test.ts'],
  },
  {
    name: 'snapshot-drops-versions',
    breaks: 'rows restored from a snapshot lose their versions (every older write then wins)',
    file: 'packages/server/src/store/store.ts',
    find: "ds.append(batch, lsn, 0, versions?.[i] ?? { kind: 'uniform', version: ZERO_VERSION });",
    replace: "ds.append(batch, lsn, 0, { kind: 'uniform', version: ZERO_VERSION });",
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'snapshot-drops-tombstones',
    breaks: 'deleted-id tombstones are not restored from a snapshot (an older write resurrects the id)',
    file: 'packages/server/src/store/store.ts',
    find: 'ds.restoreDeletedIds(deletedIds);',
    replace: '',
    tests: ['packages/server/test/commit/durability.test.ts'],
  },
  {
    name: 'hlc-follows-wall-clock',
    breaks: 'the hybrid logical clock goes backwards with the wall clock',
    file: 'packages/cluster/src/versions/version.ts',
    find: 'this.last = wall > this.last ? wall : this.last + 1n;',
    replace: 'this.last = wall;',
    tests: ['packages/cluster/test/versions/version.test.ts'],
  },
  {
    name: 'wal-v1-unversioned',
    breaks: 'version-1 WAL entries replay without an LSN-ordered version (old upserts would tie)',
    file: 'packages/server/src/wal/entry.ts',
    find: 'version === 1 ? { hlc: lsn, node: 0 }',
    replace: 'version === 1 ? { hlc: 0n, node: 0 }',
    tests: ['packages/server/test/wal/wal.test.ts'],
  },
  {
    name: 'torn-tail-kept',
    breaks: 'replay keeps reading past a torn tail instead of truncating it',
    file: 'packages/server/src/wal/wal.ts',
    find: '          await truncateFile(files, file, offset);',
    replace: '',
    tests: ['packages/server/test/wal/wal.test.ts'],
  },
];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A scratch copy of the tree: tracked files copied, node_modules hard-linked. */
function scratchCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'longbow-mutants-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f && fs.existsSync(path.join(ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
  // Hard links (cp -al) keep the workspace symlinks relative to the copy.
  execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')]);
  return dir;
}

type Outcome = 'killed' | 'SURVIVED' | 'NOT APPLIED';

function run(dir: string, m: Mutant): { outcome: Outcome; detail: string } {
  const file = path.join(dir, m.file);
  const original = fs.readFileSync(file, 'utf8');
  const hits = original.split(m.find).length - 1;
  if (hits !== 1) return { outcome: 'NOT APPLIED', detail: `target text found ${hits} times in ${m.file}` };
  fs.writeFileSync(file, original.replace(m.find, m.replace));
  try {
    // A mutant may make a test hang (an ack that never comes): a test past 30 s fails, the
    // tests run in this one child (no isolation) so a kill at the time-out ends them all.
    const r = spawnSync(
      process.execPath,
      [
        '--test',
        '--test-isolation=none',
        '--test-reporter=tap',
        '--test-timeout=30000',
        '--test-force-exit',
        ...m.tests,
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
        killSignal: 'SIGKILL',
      },
    );
    if (r.status === 0) return { outcome: 'SURVIVED', detail: 'its tests passed' };
    const failed = [...r.stdout.matchAll(/^\s*not ok \d+ - (.+)$/gm)]
      .map((x) => x[1]!)
      .filter((t) => !t.endsWith('.ts'));
    return { outcome: 'killed', detail: failed.at(0) ?? `exit ${r.status ?? r.signal}` };
  } finally {
    fs.writeFileSync(file, original);
  }
}

function main(): void {
  const wanted = process.argv.slice(2);
  const mutants = wanted.length > 0 ? MUTANTS.filter((m) => wanted.includes(m.name)) : MUTANTS;
  const unknown = wanted.filter((w) => !MUTANTS.some((m) => m.name === w));
  if (unknown.length > 0) {
    console.error(`unknown mutants: ${unknown.join(', ')} (known: ${MUTANTS.map((m) => m.name).join(', ')})`);
    process.exit(2);
  }
  const dir = scratchCopy();
  const rows: string[] = [];
  let bad = 0;
  try {
    for (const [i, m] of mutants.entries()) {
      const startedMs = performance.now();
      const { outcome, detail } = run(dir, m);
      if (outcome !== 'killed') bad++;
      const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
      console.log(`[${i + 1}/${mutants.length}] ${m.name}: ${outcome} in ${seconds} s — ${detail}`);
      rows.push(`| ${m.name} | ${m.breaks} | ${outcome} | ${detail.replaceAll('|', '\\|')} |`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(['', '| mutant | breaks | outcome | killed by |', '|---|---|---|---|', ...rows].join('\n'));
  console.log(`\n${mutants.length - bad} passed, ${bad} failed`);
  process.exit(bad > 0 ? 1 : 0);
}

main();
