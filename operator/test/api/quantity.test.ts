import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareQuantity, parseQuantity } from '../../src/api/quantity.ts';

describe('quantities', () => {
  it('parses binary and decimal suffixes', () => {
    assert.equal(parseQuantity('1Gi'), 2 ** 30);
    assert.equal(parseQuantity('1.5Ki'), 1536);
    assert.equal(parseQuantity('2G'), 2e9);
    assert.equal(parseQuantity('100'), 100);
  });

  it('compares across suffixes', () => {
    assert.equal(compareQuantity('1Gi', '1024Mi'), 0);
    assert.equal(compareQuantity('1G', '1Gi'), -1);
    assert.equal(compareQuantity('20Gi', '10Gi'), 1);
  });

  it('rejects what the CRD pattern rejects, naming the input', () => {
    assert.throws(() => parseQuantity('ten gigs'), /invalid quantity "ten gigs"/);
    assert.throws(() => parseQuantity('-1Gi'), /invalid quantity/);
  });
});
