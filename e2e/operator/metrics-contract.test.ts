// Every metric named by a dashboard or an alert in deploy/ must be exported by a real node:
// start `longbow serve` on loopback, drive some traffic through the client, scrape /metrics
// and check every metric name in every PromQL expression.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LongbowClient } from '@longbow/client';
import { freePorts } from '@longbow/testkit';
import { Field, FixedSizeList, Float32, Int64, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import { parse } from 'yaml';
import { ROOT, waitUntil } from './harness.ts';

const DIM = 8;
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const SCHEMA = new Schema([new Field('id', new Int64(), false), new Field('vector', VECTOR, false)]);

function batch(rows: number): RecordBatch {
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(i));
  const values = Float32Array.from({ length: rows * DIM }, (_, k) => Math.sin(k));
  const children = [
    makeData({ type: new Int64(), length: rows, data: ids }),
    makeData({
      type: VECTOR,
      length: rows,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: rows * DIM, data: values }),
    }),
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: rows, nullCount: 0, children }),
  );
}

/** Metric names in a PromQL expression (functions, labels and keywords are not metric names). */
export function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '');
  const names = withoutLabels.match(/\b(longbow|process|nodejs)_[a-zA-Z0-9_]+\b/g) ?? [];
  return [...new Set(names)];
}

/** Series names a /metrics text exposes (histograms as _bucket, _sum, _count). */
export function exportedSeries(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      else if (kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
      else names.add(name);
    } else if (line && !line.startsWith('#')) {
      names.add(line.split(/[{ ]/)[0]!);
    }
  }
  return names;
}

function expressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const dir = join(ROOT, 'deploy/dashboards');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    for (const panel of dashboard.panels)
      for (const t of panel.targets) out.push({ where: `${file}: ${panel.title}`, expr: t.expr });
    for (const v of dashboard.templating.list)
      if (v.type === 'query') out.push({ where: `${file}: $${v.name}`, expr: v.query });
  }
  const rules = parse(readFileSync(join(ROOT, 'deploy/prometheus/longbow-rules.yaml'), 'utf8'));
  for (const group of rules.spec.groups)
    for (const rule of group.rules) out.push({ where: `alert ${rule.alert}`, expr: rule.expr });
  return out;
}

describe('dashboards and alerts against a real node', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'longbow-metrics-'));
  let node: ReturnType<typeof spawn>;
  let metricsUrl = '';
  let dataAddr = '';
  let stderr = '';

  before(async () => {
    const [data, meta, http] = await freePorts(3);
    dataAddr = `127.0.0.1:${data}`;
    metricsUrl = `http://127.0.0.1:${http}`;
    node = spawn(process.execPath, [join(ROOT, 'packages/server/bin/longbow.js'), 'serve'], {
      env: {
        PATH: process.env.PATH,
        LONGBOW_LISTEN_ADDR: dataAddr,
        LONGBOW_META_ADDR: `127.0.0.1:${meta}`,
        LONGBOW_METRICS_ADDR: `127.0.0.1:${http}`,
        LONGBOW_DATA_PATH: join(dataDir, 'wal'),
        LONGBOW_SNAPSHOT_PATH: join(dataDir, 'snapshots'),
        LONGBOW_GOSSIP_ENABLED: 'false',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    node.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-2000);
    });
    await waitUntil(
      `node ready (stderr: ${stderr})`,
      async () => (await fetch(`${metricsUrl}/readyz`).catch(() => undefined))?.ok,
      60_000,
    );
  });

  after(async () => {
    if (node.exitCode === null && node.pid !== undefined) {
      const exited = new Promise((r) => node.once('exit', r));
      process.kill(node.pid, 'SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('exports every metric a dashboard or alert names', async () => {
    const client = new LongbowClient({ seeds: [dataAddr] });
    try {
      await client.put('metrics_contract', SCHEMA, [batch(64)]);
      const hits = await client.search('metrics_contract', {
        vector: Array.from({ length: DIM }, (_, k) => Math.sin(k)),
        k: 5,
      });
      assert.equal(hits.numRows, 5);
      await client.action('force_snapshot', {});
    } finally {
      client.close();
    }
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    assert.match(text, /^longbow_ingest_rows_total\S* 64$/m, 'the traffic shows up in the metrics');
    const exported = exportedSeries(text);
    const all = expressions();
    assert.ok(all.length > 30, `expressions found: ${all.length}`);
    const missing = all.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${where}: ${name}`),
    );
    assert.deepEqual(missing, [], 'metrics named in deploy/ but not exported by the node');
  });

  it('recognises metric names the way the check needs', () => {
    assert.deepEqual(metricNames('sum by (le) (rate(longbow_x_bucket{a="longbow_y"}[5m])) / nodejs_z'), [
      'longbow_x_bucket',
      'nodejs_z',
    ]);
    const series = exportedSeries('# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE g gauge\ng 1\n');
    assert.ok(series.has('h_count') && series.has('g') && !series.has('h'));
  });
});
