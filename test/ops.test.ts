import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LuxcertError } from '../src/core/errors.ts';
import { Rng } from '../src/core/random.ts';
import { maxRelativeDifference, tensor } from '../src/core/tensor.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { evaluateGraph } from '../src/graph/evaluate.ts';
import { foldBatchNorms } from '../src/graph/passes/fold-batchnorm.ts';
import { graphStats } from '../src/graph/stats.ts';
import { adjointPhases, type AdjointPhase } from '../src/graph/ops/spatial.ts';
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

describe("a strided Conv's adjoint by phases", () => {
  it('pairs exactly the (input row, output row, tap) triples the Conv connects, for every stride, kernel, dilation and pad that apply', () => {
    let applied = 0;
    for (const s of [2, 3]) {
      for (const k of [1, 2, 3, 5]) {
        for (const d of [1, 2]) {
          for (const pad of [0, 1, 2, 3]) {
            for (const inSize of [6, 12, 15]) {
              const outSize = Math.floor((inSize + 2 * pad - (k - 1) * d - 1) / s) + 1;
              if (outSize < 1) continue;
              const phases = adjointPhases(s, k, d, pad, inSize, outSize);
              if (!phases) continue;
              applied++;
              // What the Conv connects: output row i reads input row s·i + t·d − pad through tap t.
              const conv = new Set<string>();
              for (let i = 0; i < outSize; i++) for (let t = 0; t < k; t++) if (s * i + t * d - pad >= 0 && s * i + t * d - pad < inSize) conv.add(`${s * i + t * d - pad},${i},${t}`);
              // What the phases connect: input row s·P + r gets output row P + offset (inside the output) through each tap.
              const adj = new Set<string>();
              for (let p = 0; p < inSize; p++) {
                const ph: AdjointPhase = phases[p % s]!;
                assert.equal(ph.len, ph.taps.at(-1)!.offset - ph.lo + 1);
                for (const tap of ph.taps) {
                  const i = Math.floor(p / s) + tap.offset;
                  assert.ok(tap.offset - ph.lo >= 0 && tap.offset - ph.lo < ph.len, 'tap inside the kernel');
                  if (i >= 0 && i < outSize) adj.add(`${p},${i},${tap.k}`);
                }
                // The stride-1 correlation's window over the padded output gradient covers every offset.
                const P = Math.floor(p / s);
                assert.ok(P + ph.lo >= -ph.pads[0] && P + ph.taps.at(-1)!.offset <= outSize - 1 + ph.pads[1], 'the pads cover every tap');
              }
              assert.deepEqual([...adj].sort(), [...conv].sort(), `s ${s}, k ${k}, d ${d}, pad ${pad}, in ${inSize}`);
            }
          }
        }
      }
    }
    assert.ok(applied >= 40, `${applied} geometries by phases`);
    assert.equal(adjointPhases(2, 3, 1, 1, 15, 8), undefined, 'an odd side would need cropping');
    assert.equal(adjointPhases(2, 1, 1, 0, 12, 6), undefined, 'a phase without taps');
  });
});
