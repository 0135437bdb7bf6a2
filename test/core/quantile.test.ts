import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, quantile } from '../../src/core/quantile.ts';

describe('quantile and median', () => {
  it('quantile takes the nearest rank; median averages the two middle values of an even list', () => {
    const xs = [4, 1, 3, 2];
    assert.equal(quantile(xs, 0.5), 3);
    assert.equal(quantile(xs, 0), 1);
    assert.equal(quantile(xs, 1), 4);
    assert.equal(median(xs), 2.5);
    assert.equal(median([5, 1, 3]), 3);
    assert.deepEqual(xs, [4, 1, 3, 2], 'the input is not reordered');
  });

  it('an empty list has quantile 0 and no median', () => {
    assert.equal(quantile([], 0.5), 0);
    assert.ok(Number.isNaN(median([])));
  });
});
