/**
 * The in-process baseline for the glove100 benchmark: the same queries on a bare
 * hnswlib-node index with the same parameters, in one thread, no Flight, no server.
 *
 * Usage: node bare-hnswlib.ts <base.fvecs> <query.fvecs> <truth.ivecs> <metric> <M> <efC> <ef,ef,…> [limit] [queries]
 * Prints one JSON object: build seconds and, per ef, recall@10 and QPS.
 */
import fs from 'node:fs';
import hnswlib from 'hnswlib-node';

function readVecs(
  file: string,
  limit = Number.POSITIVE_INFINITY,
): { dim: number; rows: Float32Array[] | Int32Array[] } {
  const buf = fs.readFileSync(file);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dim = view.getInt32(0, true);
  const count = Math.min(limit, buf.byteLength / (4 * (dim + 1)));
  const int = file.endsWith('.ivecs');
  const rows = [];
  for (let i = 0; i < count; i++) {
    const start = buf.byteOffset + i * 4 * (dim + 1) + 4;
    const copy = buf.buffer.slice(start, start + 4 * dim);
    rows.push(int ? new Int32Array(copy) : new Float32Array(copy));
  }
  return { dim, rows: rows as Float32Array[] | Int32Array[] };
}

const [baseFile, queryFile, truthFile, metric, m, efc, efs, limitArg, queriesArg] = process.argv.slice(2);
const limit = limitArg ? Number(limitArg) : Number.POSITIVE_INFINITY;
const base = readVecs(baseFile!, limit);
const queries = readVecs(queryFile!, queriesArg ? Number(queriesArg) : Number.POSITIVE_INFINITY);
const truth = readVecs(truthFile!, queries.rows.length);
const space = metric === 'dot' ? 'ip' : (metric as 'l2' | 'cosine');
const index = new hnswlib.HierarchicalNSW(space, base.dim);
index.initIndex({ maxElements: base.rows.length, m: Number(m), efConstruction: Number(efc), randomSeed: 1 });
let t = performance.now();
base.rows.forEach((v, i) => {
  index.addPoint(Array.from(v), i);
  if (i % 50_000 === 0 && i > 0) process.stderr.write(`  bare build: ${i} rows\n`);
});
const buildSeconds = (performance.now() - t) / 1000;
const sweep = [];
for (const ef of efs!.split(',').map(Number)) {
  index.setEf(ef);
  let hits = 0;
  t = performance.now();
  for (const [i, q] of queries.rows.entries()) {
    const res = index.searchKnn(Array.from(q), 10);
    const want = new Set(Array.from(truth.rows[i]!.subarray(0, 10)));
    for (const n of res.neighbors) if (want.has(n)) hits++;
  }
  const seconds = (performance.now() - t) / 1000;
  sweep.push({ ef, recall_at_10: hits / (queries.rows.length * 10), qps: queries.rows.length / seconds });
}
process.stdout.write(`${JSON.stringify({ rows: base.rows.length, build_seconds: buildSeconds, sweep })}\n`);
