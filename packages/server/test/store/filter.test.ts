import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tableFromArrays } from 'apache-arrow';
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
