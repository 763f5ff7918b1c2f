/**
 * The metrics contract, on values: every series the shipped dashboards and alerts query
 * (deploy/dashboards/*.json, deploy/prometheus/longbow-rules.yaml) and every series the
 * docs promise must exist after real traffic, counters and histograms must have *moved*,
 * and the label values the alerts select (`status="error"`, a non-OK `code`) must appear
 * once the matching fault happened. A metric that stops being updated fails here, not in
 * production when an alert stays silent.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import type { RecordBatch } from 'apache-arrow';
import pino from 'pino';
import { LongbowNode } from '../src/node.ts';
import { testNodeConfig } from './fixtures/node-config.ts';
import { SimFileLayer } from './fixtures/sim-file-layer.ts';
import { vectorBatch, vectorSchema } from './fixtures/vector-batch.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SCHEMA = vectorSchema(4);

/** Series that only a cluster (gossip on) feeds: checked for presence, not movement. */
const CLUSTER_ONLY = new Set([
  'longbow_gossip_members',
  'longbow_gossip_messages_total',
  'longbow_ring_nodes',
]);
/** Gauges that are legitimately 0 on an idle node: checked for presence. */
const MAY_BE_ZERO = new Set([
  'longbow_wal_queue_depth',
  'longbow_wal_queue_bytes',
  'longbow_index_queue_depth',
  'longbow_tombstones',
  'longbow_memory_limit_bytes',
]);
/** Series the docs promise beyond what dashboards show, that traffic must move. */
const MUST_MOVE = [
  'longbow_wal_bytes_written_total',
  'longbow_flush_ops_total',
  'longbow_ingest_bytes_total',
  'longbow_wal_group_commit_entries_count',
  'longbow_wal_ack_duration_seconds_count',
  'longbow_wal_writes_total',
  'longbow_snapshot_operations_total',
  'longbow_snapshot_duration_seconds_count',
  'longbow_snapshot_size_bytes',
  'longbow_wal_replay_duration_seconds_count',
  'longbow_compaction_merges_total',
  'longbow_memory_limit_rejections_total',
];
/** Registered on every node, moved by what this test cannot drive in-process (s3.test.ts,
 * index-pool.test.ts check that they count). */
const PRESENT = ['longbow_s3_requests_total', 'longbow_index_worker_restarts_total'];

function batch(from: number, rows: number): RecordBatch {
  const ids = Array.from({ length: rows }, (_, i) => from + i);
  return vectorBatch(ids, 4, (id, c) => Math.sin(id * 4 + c));
}

/** Metric names and literal label selectors (`{status="error"}`) the shipped queries use. */
function queriedSeries(): {
  names: Set<string>;
  selectors: { name: string; label: string; value: string }[];
} {
  const texts = [
    ...fs
      .readdirSync(path.join(REPO, 'deploy/dashboards'))
      .map((f) => fs.readFileSync(path.join(REPO, 'deploy/dashboards', f), 'utf8').replaceAll('\\"', '"')),
    fs.readFileSync(path.join(REPO, 'deploy/prometheus/longbow-rules.yaml'), 'utf8'),
  ];
  const names = new Set<string>();
  const selectors: { name: string; label: string; value: string }[] = [];
  for (const text of texts) {
    for (const m of text.matchAll(/\b(longbow_[a-z_]+)(\{[^}]*\})?/g)) {
      names.add(m[1]!);
      for (const sel of (m[2] ?? '').matchAll(/(\w+)="([^"$]+)"/g))
        selectors.push({ name: m[1]!, label: sel[1]!, value: sel[2]! });
    }
  }
  return { names, selectors };
}

/** name → samples `{labels, value}` of a Prometheus text exposition. */
function parse(text: string): Map<string, { labels: string; value: number }[]> {
  const out = new Map<string, { labels: string; value: number }[]>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const list = out.get(m[1]!) ?? [];
    list.push({ labels: m[2] ?? '', value: Number(m[3]) });
    out.set(m[1]!, list);
  }
  return out;
}

const disk = new SimFileLayer();
let node: LongbowNode;
let client: FlightClient;
let samples: Map<string, { labels: string; value: number }[]>;
let exposition: string;

before(async () => {
  node = await LongbowNode.start(
    testNodeConfig('/sim/metrics', { nodeId: 'metrics', compactionIntervalMs: 5 }),
    pino({ level: 'silent' }),
    {
      files: disk,
    },
  );
  client = new FlightClient(node.dataAddress());
  // Traffic: puts, an upsert, a delete, searches, a scan, a snapshot…
  await client.doPut(pathDescriptor('m'), SCHEMA, [batch(0, 200), batch(200, 200)]);
  await client.doPut(pathDescriptor('m'), SCHEMA, [batch(0, 10)]);
  await client.doActionJson('delete', { dataset: 'm', ids: [5] });
  for (let i = 0; i < 5; i++)
    await client.doGetTable(JSON.stringify({ search: { dataset: 'm', vector: [0.1, 0.2, 0.3, 0.4], k: 3 } }));
  await client.doGetTable(JSON.stringify({ dataset: 'm', limit: 5 }));
  await client.doActionJson('force_snapshot', {});
  // The memory limit (as SIGHUP would set it) refuses a batch, then goes again.
  node.reload({ ...node.ctx.config, maxMemoryBytes: 1 });
  await assert.rejects(client.doPut(pathDescriptor('m'), SCHEMA, [batch(600, 5)]), /MEMORY_LIMIT/);
  node.reload({ ...node.ctx.config, maxMemoryBytes: 0 });
  // Compaction runs on its 5 ms timer; wait (bounded) until it has merged the small batches.
  const merged = async () =>
    !(await node.ctx.metrics.registry.metrics()).includes(
      'longbow_compaction_merges_total{node="metrics"} 0\n',
    );
  for (let i = 0; i < 500 && !(await merged()); i++) await new Promise((r) => setTimeout(r, 10));
  // …and faults: a rejected call, a snapshot that cannot be made durable, a failed fsync.
  await assert.rejects(client.doGetTable(JSON.stringify({ dataset: 'nope' })));
  disk.inject({ op: 'sync', path: /snapshots/, code: 'EIO' });
  await client.doPut(pathDescriptor('m'), SCHEMA, [batch(400, 5)]);
  await assert.rejects(client.doActionJson('force_snapshot', {}));
  disk.inject({ op: 'datasync', path: /wal-/, code: 'EIO' });
  await assert.rejects(client.doPut(pathDescriptor('m'), SCHEMA, [batch(500, 5)]));
  exposition = await node.ctx.metrics.registry.metrics();
  samples = parse(exposition);
});

after(async () => {
  client?.close();
  await node?.stop().catch(() => {});
});

describe('metrics contract', () => {
  it('has every series the dashboards and alerts query, and the counters and histograms moved', () => {
    const { names } = queriedSeries();
    assert.ok(names.size > 15, `found only ${names.size} queried series`);
    const problems: string[] = [];
    for (const name of PRESENT)
      if (!exposition.includes(`# TYPE ${name} `)) problems.push(`${name}: missing`);
    for (const name of [...names, ...MUST_MOVE]) {
      if (CLUSTER_ONLY.has(name)) continue; // e2e/cluster runs them
      const list = samples.get(name);
      if (!list) {
        problems.push(`${name}: missing`);
        continue;
      }
      if (MAY_BE_ZERO.has(name)) continue;
      if (!list.some((s) => s.value > 0))
        problems.push(`${name}: never moved (${list.length} samples, all 0)`);
    }
    assert.deepEqual(problems, []);
  });

  it('has the label values the alerts select, after the faults they watch for', () => {
    const { selectors } = queriedSeries();
    const problems: string[] = [];
    for (const { name, label, value } of selectors) {
      if (CLUSTER_ONLY.has(name)) continue;
      const list = samples.get(name) ?? [];
      if (!list.some((s) => s.labels.includes(`${label}="${value}"`) && s.value > 0))
        problems.push(`${name}{${label}="${value}"}`);
    }
    assert.deepEqual(problems, []);
    // The error-rate alert selects code!~"OK|0": some non-OK code must be counted.
    const codes = (samples.get('longbow_flight_requests_total') ?? []).filter(
      (s) => !/code="(OK|0)"/.test(s.labels) && s.value > 0,
    );
    assert.ok(codes.length > 0, 'no failed Flight call was counted');
    const flushErrors = (samples.get('longbow_flush_ops_total') ?? []).find((s) =>
      s.labels.includes('status="error"'),
    );
    assert.equal(flushErrors?.value, 1, 'the failed fsync is counted once');
    const flushOk = (samples.get('longbow_flush_ops_total') ?? []).find((s) =>
      s.labels.includes('status="ok"'),
    );
    assert.ok((flushOk?.value ?? 0) > 0, 'successful fsyncs are counted');
  });
});
