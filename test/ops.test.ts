import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LuxcertError } from '../src/core/errors.ts';
import { Rng } from '../src/core/random.ts';
import { maxRelativeDifference, tensor } from '../src/core/tensor.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { evaluateGraph } from '../src/graph/evaluate.ts';
import { foldBatchNorms } from '../src/graph/passes/fold-batchnorm.ts';
import { graphStats } from '../src/graph/stats.ts';
import { validateGraph } from '../src/graph/validate.ts';
import { randomConvGraph, randomTensor } from './helpers/random-graphs.ts';

const single = (op: string, x: number[], dims: number[], attrs = {}, weights: [number[], number[]][] = []) => {
  const b = new GraphBuilder('t');
  const inputs = [b.input('x', dims), ...weights.map(([d, v], i) => b.weight(`w${i}`, tensor(d, v)))];
  const g = b.build([b.op(op, inputs, attrs)]);
  const out = Object.values(evaluateGraph(g, { x: tensor(dims, x) }))[0]!;
  return { dims: out.dims, data: Array.from(out.data) };
};

describe('reference evaluation, checked by hand', () => {
  it('Conv with padding and stride', () => {
    // 3×3 input, 2×2 ones kernel, pad 1, stride 2 → corner sums.
    const r = single('Conv', [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2] }, [[[1, 1, 2, 2], [1, 1, 1, 1]]]);
    assert.deepEqual(r, { dims: [1, 1, 2, 2], data: [1, 3 + 2 + 0, 4 + 7, 5 + 6 + 8 + 9] });
  });
  it('AveragePool divides by the padded or the real window', () => {
    const x = [1, 2, 3, 4];
    const inc = single('AveragePool', x, [1, 1, 2, 2], { kernel_shape: [2, 2], pads: [1, 1, 0, 0], count_include_pad: 1 });
    const exc = single('AveragePool', x, [1, 1, 2, 2], { kernel_shape: [2, 2], pads: [1, 1, 0, 0], count_include_pad: 0 });
    assert.deepEqual(inc.data, [0.25, 0.75, 1, 2.5]);
    assert.deepEqual(exc.data, [1, 1.5, 2, 2.5]);
  });
  it('MaxPool ignores padding, even when every input is negative', () => {
    const r = single('MaxPool', [-4, -3, -2, -1], [1, 1, 2, 2], { kernel_shape: [2, 2], pads: [1, 1, 1, 1], strides: [2, 2] });
    assert.deepEqual(r.data, [-4, -3, -2, -1]);
  });
  it('Pad, Clip, broadcasting Sub and Flatten', () => {
    assert.deepEqual(single('Pad', [1, 2], [1, 2], { pads: [0, 1, 0, 2], value: 9 }).data, [9, 1, 2, 9, 9]);
    assert.deepEqual(single('Clip', [-2, 0.5, 3], [3], { min: 0, max: 1 }).data, [0, 0.5, 1]);
    assert.deepEqual(single('Sub', [1, 2, 3, 4], [2, 2], {}, [[[2, 1], [1, 2]]]).data, [0, 1, 1, 2]);
    assert.deepEqual(single('Flatten', [1, 2, 3, 4], [1, 2, 2, 1], { axis: 2 }).dims, [2, 2]);
  });
  it('Reshape keeps a dynamic batch through 0 and −1', () => {
    const b = new GraphBuilder('r');
    const x = b.input('x', ['batch', 4, 2, 2]);
    const g = b.build([b.op('Reshape', [b.op('Reshape', [x], { shape: [0, -1] })], { shape: [-1, 8, 2] })]);
    assert.deepEqual(g.outputs[0]!.shape, ['batch', 8, 2]);
  });
});

describe('BatchNormalization folding', () => {
  it('computes what the unfolded graph computes, and removes every foldable BatchNormalization', () => {
    const g = randomConvGraph(11);
    const feeds = { image: randomTensor(new Rng(3), [2, 3, 12, 12]) };
    const before = evaluateGraph(g, feeds).keypoints!;
    const nBn = g.nodes.filter((n) => n.op === 'BatchNormalization').length;
    foldBatchNorms(g);
    validateGraph(g);
    assert.equal(g.nodes.filter((n) => n.op === 'BatchNormalization').length, nBn - 2, 'the one after Add stays');
    assert.ok(maxRelativeDifference(evaluateGraph(g, feeds).keypoints!.data, before.data) <= 1e-6);
  });
});

describe('graph checks and statistics', () => {
  it('counts parameters once per initializer and FLOPs per node', () => {
    const b = new GraphBuilder('s');
    const x = b.input('x', ['n', 2, 4, 4]);
    const w = b.weight('w', tensor([3, 2, 3, 3]));
    const bias = b.weight('b', tensor([3]));
    const y = b.op('Conv', [x, w, bias], { pads: [1, 1, 1, 1] });
    const g = b.build([b.op('Relu', [y])]);
    const s = graphStats(g);
    assert.equal(s.params, 3 * 2 * 9 + 3);
    assert.equal(s.nodes[0]!.flops, (2 * 18 + 1) * 3 * 16);
    assert.equal(s.nodes[1]!.flops, 3 * 16);
    assert.deepEqual(s.opCounts, { Conv: 1, Relu: 1 });
  });
  it('rejects broadcast mismatches, cycles and duplicate names with the node named', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', [2, 3]);
    b.weight('w', tensor([4]));
    assert.throws(() => b.build([b.op('Add', [x, 'w'], {}, 'adder')]), (e: unknown) => e instanceof LuxcertError && /Add node 'adder': shapes \[2,3\] and \[4\]/.test(e.message));
    const c = new GraphBuilder('cycle');
    c.input('x', [1]);
    c.op('Add', ['x', 'b'], {}, 'a');
    assert.throws(() => c.build([c.op('Relu', ['a'], {}, 'b')]), /cycle through node 'a'/);
    const d = new GraphBuilder('dup');
    const dx = d.input('x', [1]);
    d.op('Relu', [dx], {}, 'r');
    assert.throws(() => d.build([d.op('Relu', [dx], {}, 'r')]), /node name 'r' is used twice/);
  });
});
