/**
 * Filter evaluation cost: `Dataset.matchingRows` (the row set a filtered search or scan
 * starts from) over a 331,479-row dataset, for the filter shapes users send most —
 * numeric comparisons, string equality, `in` lists and an `and` of two — on plain and
 * dictionary-encoded columns. Prints ms per evaluation (median of 15) with the fast paths
 * and with the generic path, measured in the same run, and their ratio.
 *
 *     node packages/server/bench/filter.bench.ts
 */
import { ZERO_VERSION } from '@longbow/cluster';
import {
  Dictionary,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { Dataset } from '../src/store/dataset.ts';
import { compileFilter } from '../src/store/filter.ts';
import { defineDataset } from '../src/store/schema.ts';

const ROWS = 331_479;
const BATCH = 10_000;
const DIM = 4;
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const CATS = Array.from({ length: 20 }, (_, i) => `category-${i}`);
const schema = new Schema([
  new Field('id', new Int64(), false),
  new Field('vector', VECTOR, false),
  new Field('price', new Float64(), true),
  new Field('year', new Int32(), true),
  new Field('category', new Utf8(), true),
  new Field('tag', new Dictionary(new Utf8(), new Int32()), true),
]);

function batch(from: number, n: number): RecordBatch {
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
  const values = new Float32Array(n * DIM).map((_, i) => Math.sin(from + i));
  const children = [
    makeData({ type: new Int64(), length: n, data: ids }),
    makeData({
      type: VECTOR,
      length: n,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: n * DIM, data: values }),
    }),
    makeData({
      type: new Float64(),
      length: n,
      data: Float64Array.from({ length: n }, (_, i) => ((from + i) * 7919) % 1000),
    }),
    makeData({
      type: new Int32(),
      length: n,
      data: Int32Array.from({ length: n }, (_, i) => 1990 + ((from + i) % 35)),
    }),
    vectorFromArray(
      Array.from({ length: n }, (_, i) => CATS[(from + i) % 20]!),
      new Utf8(),
    ).data[0]!,
    vectorFromArray(
      Array.from({ length: n }, (_, i) => CATS[((from + i) * 3) % 20]!),
      new Dictionary(new Utf8(), new Int32()),
    ).data[0]!,
  ];
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }),
  );
}

const def = defineDataset('bench', schema);
const ds = new Dataset(def);
for (let from = 0; from < ROWS; from += BATCH)
  ds.append(batch(from, Math.min(BATCH, ROWS - from)), 1n, 0, {
    kind: 'uniform',
    version: ZERO_VERSION,
  });

const shapes: Record<string, unknown> = {
  'price < 100 (float64, 10%)': [{ field: 'price', op: '<', value: 100 }],
  'year = 2000 (int32, 3%)': [{ field: 'year', op: '=', value: 2000 }],
  'category = "category-3" (utf8, 5%)': [{ field: 'category', op: '=', value: 'category-3' }],
  'category in [3 values] (utf8, 15%)': [
    { field: 'category', op: 'in', value: ['category-1', 'category-2', 'category-3'] },
  ],
  'tag = "category-3" (dictionary, 5%)': [{ field: 'tag', op: '=', value: 'category-3' }],
  'year >= 2010 and category != "category-0"': [
    { field: 'year', op: '>=', value: 2010 },
    { field: 'category', op: '!=', value: 'category-0' },
  ],
};

console.log(
  `matchingRows over ${ROWS} rows (${Math.ceil(ROWS / BATCH)} batches), median of 15 runs: fast paths vs the generic path (Arrow get per cell)`,
);
function time(match: ReturnType<typeof compileFilter> & {}): { ms: number; matched: number } {
  let matched = 0;
  const times: number[] = [];
  for (let r = 0; r < 17; r++) {
    const t0 = performance.now();
    matched = ds.matchingRows(match).count;
    if (r >= 2) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, matched };
}
for (const [name, filters] of Object.entries(shapes)) {
  const fast = time(compileFilter(filters, def.schema)!);
  const generic = time(compileFilter(filters, def.schema, { fastPaths: false })!);
  if (fast.matched !== generic.matched)
    throw new Error(`${name}: ${fast.matched} vs ${generic.matched} rows`);
  console.log(
    `${name.padEnd(44)} fast ${fast.ms.toFixed(2).padStart(6)} ms  generic ${generic.ms.toFixed(2).padStart(6)} ms  ` +
      `x${(generic.ms / fast.ms).toFixed(1).padStart(4)}  matched ${fast.matched}`,
  );
}
