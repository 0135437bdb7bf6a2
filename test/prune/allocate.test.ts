import assert from 'node:assert/strict';
import { it } from 'node:test';
import { globalScores, keepCounts, pruneScope, type RankedGroup } from '../../src/prune/allocate.ts';

const group = (id: number, original: number, scores: number[]): RankedGroup => ({ id, original, scores: Float64Array.from(scores) });

it('layer scope: every group keeps the same share of its original width, at least the minimum, never more than it has', () => {
  const groups = [group(0, 8, [1, 2, 3, 4, 5, 6, 7, 8]), group(1, 4, [1, 1, 1, 1]), group(2, 10, [1, 2, 3, 4, 5, 6])];
  assert.deepEqual([...keepCounts(groups, 0.5, 2, 'layer')], [[0, 4], [1, 2], [2, 5]]);
  assert.deepEqual([...keepCounts(groups, 0.9, 2, 'layer')], [[0, 2], [1, 2], [2, 2]]);
  // A group already narrower than the round's target keeps what it has.
  assert.deepEqual([...keepCounts(groups, 0.2, 2, 'layer')], [[0, 6], [1, 3], [2, 6]]);
});

it('global scope: the lowest scores of all groups go first, down to the same total, each group above its minimum', () => {
  // Group 0's channels all score below group 1's: it loses them first, down to the minimum width.
  const groups = [group(0, 6, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), group(1, 6, [0.7, 0.8, 0.9, 0.95, 0.96, 0.97])];
  assert.deepEqual([...keepCounts(groups, 0.5, 2, 'global')], [[0, 2], [1, 4]]);
  const counts = keepCounts(groups, 0.25, 2, 'global');
  assert.deepEqual([...counts], [[0, 3], [1, 6]]);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 9);
  // Interleaved scores split the removals between the groups; equal scores go to the earlier group.
  const mixed = [group(0, 4, [0.1, 0.5, 0.5, 0.9]), group(1, 4, [0.2, 0.5, 0.8, 0.9])];
  assert.deepEqual([...keepCounts(mixed, 0.5, 1, 'global')], [[0, 1], [1, 3]]);
  // The second round of a progressive schedule counts from the original widths.
  const second = [group(0, 8, [0.9, 0.8]), group(1, 8, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])];
  assert.deepEqual([...keepCounts(second, 0.75, 1, 'global')], [[0, 2], [1, 2]]);
});

it('global scores: L1 norms and BatchNorm scales are divided by their group mean; USN, NRS and random stay', () => {
  assert.deepEqual([...globalScores('l1', Float64Array.from([2, 4, 6]))], [0.5, 1, 1.5]);
  assert.deepEqual([...globalScores('slimming', Float64Array.from([1, 3]))], [0.5, 1.5]);
  assert.deepEqual([...globalScores('usn', Float64Array.from([0.2, 0.4]))], [0.2, 0.4]);
  assert.deepEqual([...globalScores('l1', Float64Array.from([0, 0]))], [0, 0]);
  assert.throws(() => pruneScope('everywhere'), /--scope must be one of layer, global, got 'everywhere'/);
});
