import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Bool,
  Dictionary,
  Float32,
  Float64,
  Int8,
  Int32,
  Int64,
  type RecordBatch,
  Table,
  tableFromArrays,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { LongbowError } from '../../src/errors.ts';
import { compileFilter } from '../../src/store/filter.ts';

// 200 rows with every kind of column; each filter is checked against a plain JS oracle.
const N = 200;
const rows = Array.from({ length: N }, (_, i) => ({
  id: BigInt(i),
  price: i % 7 === 0 ? null : i * 1.5,
  category: ['red', 'green', 'blue'][i % 3]!,
  flag: i % 2 === 0,
}));
const table = tableFromArrays({
  id: BigInt64Array.from(rows.map((r) => r.id)),
  price: rows.map((r) => r.price),
  category: rows.map((r) => r.category),
  flag: rows.map((r) => r.flag),
});
const batch = table.batches[0]!;

function run(filters: unknown): number[] {
  const pred = compileFilter(filters, batch.schema)!;
  const test = pred(batch);
  return Array.from({ length: N }, (_, i) => i).filter(test);
}

function oracle(f: (r: (typeof rows)[number]) => boolean): number[] {
  return rows.map((r, i) => (f(r) ? i : -1)).filter((i) => i >= 0);
}

describe('filters', () => {
  it('comparisons on int64, float with nulls, strings and bools', () => {
    assert.deepEqual(
      run([{ field: 'id', op: '<', value: 10 }]),
      oracle((r) => r.id < 10n),
    );
    assert.deepEqual(
      run([{ field: 'id', op: '>=', value: 190 }]),
      oracle((r) => r.id >= 190n),
    );
    assert.deepEqual(
      run([{ field: 'price', op: '>', value: 100 }]),
      oracle((r) => r.price !== null && r.price > 100),
    );
    assert.deepEqual(
      run([{ field: 'price', op: '!=', value: 3 }]),
      oracle((r) => r.price !== null && r.price !== 3),
    );
    assert.deepEqual(
      run([{ field: 'category', op: '=', value: 'blue' }]),
      oracle((r) => r.category === 'blue'),
    );
    assert.deepEqual(
      run([{ field: 'flag', op: '=', value: true }]),
      oracle((r) => r.flag),
    );
  });

  it('in, not_in, contains and boolean combinations', () => {
    assert.deepEqual(
      run([{ field: 'category', op: 'in', value: ['red', 'blue'] }]),
      oracle((r) => r.category !== 'green'),
    );
    assert.deepEqual(
      run([{ field: 'id', op: 'not_in', value: [1, 2, 3] }]),
      oracle((r) => ![1n, 2n, 3n].includes(r.id)),
    );
    assert.deepEqual(
      run([{ field: 'category', op: 'contains', value: 'ee' }]),
      oracle((r) => r.category.includes('ee')),
    );
    const tree = {
      or: [
        {
          and: [
            { field: 'flag', op: '=', value: true },
            { field: 'id', op: '<', value: 20 },
          ],
        },
        { not: { field: 'price', op: '<=', value: 290 } },
      ],
    };
    assert.deepEqual(
      run(tree),
      oracle((r) => (r.flag && r.id < 20n) || !(r.price !== null && r.price <= 290)),
    );
  });

  it('an empty list is no filter', () => {
    assert.equal(compileFilter([], batch.schema), undefined);
  });

  it('names the problem in bad filters', () => {
    const bad: [unknown, RegExp][] = [
      [[{ field: 'nope', op: '=', value: 1 }], /unknown field "nope"/],
      [[{ field: 'id', op: 'like', value: 1 }], /unknown op "like"/],
      [[{ field: 'category', op: '=', value: 3 }], /"category" \(string\) has a value of type number/],
      [[{ field: 'id', op: 'in', value: 3 }], /needs a list value/],
      [[{ and: [] }], /non-empty list/],
      [['x'], /must be an object/],
      [[{ field: 'flag', op: 'contains', value: 'x' }], /"contains" needs a string or list field/],
    ];
    for (const [filters, message] of bad) {
      assert.throws(
        () => compileFilter(filters, batch.schema),
        (e: unknown) => e instanceof LongbowError && message.test(e.message),
      );
    }
  });
});

describe('filter fast paths', () => {
  // Columns of every kind the fast paths read (typed arrays, utf8 bytes, dictionaries),
  // with nulls, NaN, multi-byte strings, and batches sliced so chunks start at an offset.
  const M = 500;
  let seed = 99;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const words = ['', 'a', 'ab', 'é', 'éa', 'naïve', '日本', 'zz', 'A'];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const maybe = <T>(v: T) => (rand() < 0.1 ? null : v);
  const full = new Table({
    i8: vectorFromArray(
      Array.from({ length: M }, () => maybe(Math.floor(rand() * 20) - 10)),
      new Int8(),
    ),
    i32: vectorFromArray(
      Array.from({ length: M }, () => maybe(Math.floor(rand() * 2000) - 1000)),
      new Int32(),
    ),
    i64: vectorFromArray(
      Array.from({ length: M }, () => maybe(BigInt(Math.floor(rand() * 100) - 50))),
      new Int64(),
    ),
    u64: vectorFromArray(
      Array.from({ length: M }, () => maybe(BigInt(Math.floor(rand() * 100)))),
      new Uint64(),
    ),
    f32: vectorFromArray(
      Array.from({ length: M }, () => maybe(Math.fround(rand() * 10 - 5))),
      new Float32(),
    ),
    f64: vectorFromArray(
      Array.from({ length: M }, () => maybe(rand() < 0.05 ? Number.NaN : Math.round(rand() * 40) / 4 - 5)),
      new Float64(),
    ),
    text: vectorFromArray(
      Array.from({ length: M }, () => maybe(pick(words))),
      new Utf8(),
    ),
    dict: vectorFromArray(
      Array.from({ length: M }, () => maybe(pick(words))),
      new Dictionary(new Utf8(), new Int32()),
    ),
    flag: vectorFromArray(
      Array.from({ length: M }, () => maybe(rand() < 0.5)),
      new Bool(),
    ),
  });
  const whole = full.batches[0]!;
  const batches = [whole, whole.slice(3, 260), whole.slice(257, M)];

  const numericFields = ['i8', 'i32', 'i64', 'u64', 'f32', 'f64'];
  const randomLeaf = (): Record<string, unknown> => {
    const r = rand();
    if (r < 0.5) {
      const field = pick(numericFields);
      const value = rand() < 0.3 ? Math.floor(rand() * 20) - 10 : Math.round(rand() * 40) / 4 - 5;
      if (rand() < 0.2) return { field, op: pick(['in', 'not_in']), value: [value, Math.floor(value)] };
      if ((field === 'i64' || field === 'u64') && !Number.isInteger(value))
        return { field, op: pick(['<', '>=']), value };
      return { field, op: pick(['=', '!=', '<', '<=', '>', '>=']), value };
    }
    if (r < 0.9) {
      const field = pick(['text', 'dict']);
      const op = pick(['=', '!=', 'in', 'not_in', '<', '>=', 'contains']);
      if (op === 'in' || op === 'not_in')
        return { field, op, value: [pick(words), pick(words), pick(words)] };
      return { field, op, value: op === 'contains' ? pick(['a', 'é', '本']) : pick(words) };
    }
    return { field: 'flag', op: pick(['=', '!=']), value: rand() < 0.5 };
  };
  const randomFilter = (depth: number): Record<string, unknown> => {
    const r = rand();
    if (depth > 2 || r < 0.5) return randomLeaf();
    if (r < 0.7) return { and: [randomFilter(depth + 1), randomFilter(depth + 1)] };
    if (r < 0.9) return { or: [randomFilter(depth + 1), randomFilter(depth + 1), randomFilter(depth + 1)] };
    return { not: randomFilter(depth + 1) };
  };
  const rowsOf = (filters: unknown, b: RecordBatch, fastPaths: boolean) => {
    const test = compileFilter(filters, b.schema, { fastPaths })!(b);
    return Array.from({ length: b.numRows }, (_, i) => i).filter(test);
  };

  it('answer exactly what the generic path answers, on 600 random filter trees', () => {
    let matched = 0;
    for (let t = 0; t < 600; t++) {
      const filter = randomFilter(0);
      for (const b of batches) {
        const fast = rowsOf([filter], b, true);
        assert.deepEqual(fast, rowsOf([filter], b, false), JSON.stringify(filter));
        matched += fast.length;
      }
    }
    assert.ok(matched > 10_000, `the filters match something (${matched} rows)`);
  });

  it('a NaN cell matches no comparison, like a null one', () => {
    const b = tableFromArrays({ x: Float64Array.of(1, Number.NaN, 3) }).batches[0]!;
    for (const fastPaths of [true, false]) {
      const rows = (op: string, value: number) => rowsOf([{ field: 'x', op, value }], b, fastPaths);
      assert.deepEqual(rows('=', 1), [0]);
      assert.deepEqual(rows('!=', 1), [2], `fastPaths=${fastPaths}`);
      assert.deepEqual(rows('>=', 0), [0, 2]);
      assert.deepEqual(rows('<', 10), [0, 2]);
    }
  });
});
