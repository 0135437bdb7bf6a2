import { Rng } from '../../src/core/random.ts';
import { sizeOf, type Tensor } from '../../src/core/tensor.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/graph.ts';

const t = (dims: number[], data: Float32Array): Tensor => ({ dims, data });

/** A random float tensor. */
export function randomTensor(rng: Rng, dims: number[], scale = 1): Tensor {
  return t(dims, rng.normals(sizeOf(dims), scale));
}

function positive(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform(0.5, 1.5));
}

/**
 * A convolutional graph with random weights that uses every IR operator: normalisation
 * (Sub/Div/Mul), Pad, Conv (groups, strides, dilations, SAME padding), ConvTranspose (groups, stride,
 * output_padding), BatchNormalization, Relu, Clip, Abs, MaxPool, AveragePool (both
 * count_include_pad), Concat, residual Add, GlobalAveragePool, Flatten, Gemm, MatMul, Reshape and Identity.
 */
export function randomConvGraph(seed: number, size = 12): Graph {
  const rng = new Rng(seed);
  const b = new GraphBuilder(`random_conv_${seed}`);
  const w = (name: string, dims: number[], scale = 0.4) => b.weight(name, randomTensor(rng, dims, scale));
  const bn = (x: string, c: number, name: string) =>
    b.op('BatchNormalization', [x, b.weight(`${name}.g`, t([c], positive(rng, c))), w(`${name}.b`, [c], 0.1), w(`${name}.m`, [c], 0.1), b.weight(`${name}.v`, t([c], positive(rng, c)))], { epsilon: 1e-3 });

  let x = b.input('image', ['batch', 3, size, size]);
  x = b.op('Sub', [x, b.weight('mean', t([1, 3, 1, 1], Float32Array.from([0.4, 0.5, 0.6])))]);
  x = b.op('Div', [x, b.weight('std', t([1, 3, 1, 1], Float32Array.from([0.2, 0.25, 0.3])))]);
  x = b.op('Pad', [x], { pads: [0, 0, 1, 1, 0, 0, 1, 1] });
  x = b.op('Conv', [x, w('c1.w', [8, 3, 3, 3])], { kernel_shape: [3, 3] }); // no bias: folding adds one
  x = bn(x, 8, 'bn1');
  x = b.op('Relu', [x]);
  const pooled = b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 });
  let y = b.op('Conv', [pooled, w('c2.w', [8, 4, 3, 3]), w('c2.b', [8], 0.1)], { group: 2, auto_pad: 'SAME_UPPER', strides: [1, 1] });
  y = b.op('Clip', [y], { min: 0, max: 6 });
  const z = b.op('Conv', [pooled, w('c3.w', [4, 8, 3, 3]), w('c3.b', [4], 0.1)], { dilations: [2, 2], pads: [2, 2, 2, 2] });
  // Up ×2 and back down: ConvTranspose with groups and output_padding, then a stride-2 average.
  const up = b.op('ConvTranspose', [z, w('ct.w', [4, 2, 3, 3]), w('ct.b', [4], 0.1)], { group: 2, strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] });
  const down = b.op('AveragePool', [up], { kernel_shape: [2, 2], strides: [2, 2] });
  const a1 = b.op('AveragePool', [down], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 });
  const a2 = b.op('AveragePool', [z], { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 1, 1], count_include_pad: 0 });
  let c = b.op('Concat', [a1, a2], { axis: 1 });
  c = b.op('Add', [c, y]);
  c = bn(c, 8, 'bn2'); // after Add: stays a BatchNormalization node
  c = b.op('Mul', [c, b.weight('gain', t([1], Float32Array.from([1.5])))]);
  c = b.op('Add', [b.op('Abs', [b.op('Sub', [c, b.weight('abs.shift', t([1, 8, 1, 1], rng.normals(8, 0.3)))])]), c]);
  const g = b.op('GlobalAveragePool', [c]);
  let f = b.op('Flatten', [g], { axis: 1 });
  f = b.op('Gemm', [f, w('fc.w', [16, 8]), w('fc.b', [16], 0.1)], { transB: 1, alpha: 0.9, beta: 1.1 });
  f = bn(f, 16, 'bn3');
  f = b.op('Relu', [f]);
  f = b.op('MatMul', [f, w('head.w', [16, 10])]);
  f = b.op('Add', [f, w('head.b', [10], 0.1)]);
  f = b.op('Reshape', [f], { shape: [0, 5, 2] });
  const out = b.op('Identity', [f], {}, 'keypoints');
  return b.build([out], { luxcert_test: 'random' });
}

/** Operator variants the conv graph does not reach: tensor-tensor Div/Sub, batched MatMul, transA Gemm, one-sided Clip, valued Pad, Flatten axis 3, Concat on a spatial axis. */
export function randomVariantGraph(seed: number): Graph {
  const rng = new Rng(seed);
  const b = new GraphBuilder(`random_variants_${seed}`);
  const w = (name: string, dims: number[], scale = 0.5) => b.weight(name, randomTensor(rng, dims, scale));
  const x = b.input('x', [2, 3, 4, 5]);
  const u = b.input('u', [2, 3, 4, 5]);
  let d = b.op('Div', [x, b.op('Add', [b.op('Mul', [u, u]), b.weight('one', t([], Float32Array.from([1])))])]);
  d = b.op('Sub', [d, b.op('Clip', [u], { min: -0.5 })]);
  d = b.op('Pad', [d], { pads: [0, 0, 1, 0, 0, 0, 0, 2], value: 0.25 });
  const cat = b.op('Concat', [d, b.op('Clip', [d], { max: 0.1 })], { axis: 2 });
  const fl = b.op('Flatten', [cat], { axis: 3 });
  const mm = b.op('MatMul', [fl, w('mm.w', [1, 7, 3])]);
  const r = b.op('Reshape', [mm], { shape: [-1, 6] });
  const gm = b.op('Gemm', [r, w('gt.w', [30, 4]), w('gt.c', [1, 4])], { transA: 1 });
  const mp = b.op('MaxPool', [b.op('Reshape', [gm], { shape: [1, 1, 6, 4] })], { kernel_shape: [2, 2], dilations: [2, 1], strides: [1, 2] });
  const ap = b.op('AveragePool', [mp], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 });
  return b.build([ap, gm]);
}

/**
 * A chain of convolutions into a dense head, the shape of luxcert's detectors, with the Conv
 * geometries the backward pass must mirror: stride 2 with SAME padding and groups, dilation, an
 * odd input under a stride-2 kernel that leaves a row unread, BatchNormalization nodes (raw), and
 * a per-channel normalisation. `relu: false` makes it affine (no relaxation anywhere).
 */
export function randomChainGraph(seed: number, size = 13, relu = true): Graph {
  const rng = new Rng(seed);
  const b = new GraphBuilder(`random_chain_${seed}`);
  const w = (name: string, dims: number[], scale = 0.4) => b.weight(name, randomTensor(rng, dims, scale));
  const act = (x: string) => (relu ? b.op('Relu', [x]) : x);
  let x = b.input('image', ['batch', 3, size, size]);
  x = b.op('Sub', [x, b.weight('mean', t([1, 3, 1, 1], Float32Array.from([0.4, 0.5, 0.6])))]);
  x = b.op('Div', [x, b.weight('std', t([3, 1, 1], Float32Array.from([0.2, 0.25, 0.3])))]);
  x = b.op('Conv', [x, w('c1.w', [6, 3, 3, 3]), w('c1.b', [6], 0.1)], { pads: [1, 1, 1, 1] });
  x = b.op('BatchNormalization', [x, b.weight('bn.g', t([6], positive(rng, 6))), w('bn.b', [6], 0.1), w('bn.m', [6], 0.1), b.weight('bn.v', t([6], positive(rng, 6)))], { epsilon: 1e-3 });
  x = act(x);
  x = b.op('Conv', [x, w('c2.w', [8, 3, 3, 3])], { group: 2, strides: [2, 2], auto_pad: 'SAME_UPPER' });
  x = act(x);
  x = b.op('Conv', [x, w('c3.w', [8, 8, 3, 3]), w('c3.b', [8], 0.1)], { dilations: [2, 2], pads: [2, 2, 2, 2] });
  x = act(x);
  x = b.op('Conv', [x, w('c4.w', [6, 8, 2, 2]), w('c4.b', [6], 0.1)], { strides: [2, 2] });
  x = act(x);
  x = b.op('Flatten', [x], { axis: 1 });
  const n = 6 * Math.floor(Math.ceil(size / 2) / 2) ** 2;
  x = b.op('Gemm', [x, w('fc1.w', [12, n], 0.3), w('fc1.b', [12], 0.1)], { transB: 1 });
  x = act(x);
  x = b.op('Gemm', [x, w('fc2.w', [12, 6], 0.3), w('fc2.b', [6], 0.1)]);
  const out = b.op('Reshape', [x], { shape: [0, 3, 2] }, 'keypoints');
  return b.build([out], { luxcert_test: 'random' });
}
