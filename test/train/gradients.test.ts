import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { describe, it } from 'node:test';
import { Rng } from '../../src/core/random.ts';
import { tensor } from '../../src/core/tensor.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/graph.ts';
import { OP_NAMES, type OpName } from '../../src/graph/ops/registry.ts';
import { validateGraph } from '../../src/graph/validate.ts';
import { modelMeta, setModelMeta } from '../../src/model/metadata.ts';
import { decodeOnnx } from '../../src/onnx/read.ts';
import { OnnxEmitter } from '../../src/onnx/emit.ts';
import { openSession } from '../../src/onnx/ort.ts';
import { num, onnx } from '../../src/onnx/proto.ts';
import { positive, signOf } from '../../src/train/grad/activation.ts';
import { GRAD_RULES } from '../../src/train/grad/index.ts';
import { stepConvBlock } from '../../src/train/engine.ts';
import { scanSteps } from '../../src/train/scan-steps.ts';
import { buildTrainStep } from '../../src/train/train-step.ts';
import { gradientCases } from './pytorch-gradient-cases.ts';
import { directionalCheck, randomBatch, StepProbe } from './step-check.ts';

type Weight = (name: string, dims: number[], lo?: number, hi?: number) => string;
type Body = (b: GraphBuilder, x: string, w: Weight) => string;

/** Cases on larger images than 8 × 8: maps of 32 × 32 and more, where the Conv weight gradient gathers rows. */
const GATHERED = 'Conv stride 1 on 32 × 32 maps, dilation 2, uneven pads, a 3×2 kernel (weight gradient by gathered rows of either operand, border pairs on several taps)';
const SIZES: Record<string, number> = { [GATHERED]: 32 };

/** A regression model around a body: image [N, 3, S, S] (8 unless SIZES says) → body → Flatten → Gemm (α = 2) → [N, 2, 2]. */
function model(name: string, body: Body): Graph {
  const S = SIZES[name] ?? 8;
  const make = (head?: number) => {
    const b = new GraphBuilder(name);
    const rng = new Rng(11);
    const w: Weight = (n, dims, lo = -0.5, hi = 0.5) => b.weight(n, tensor(dims, Float32Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => rng.uniform(lo, hi))));
    const y = body(b, b.input('image', ['N', 3, S, S]), w);
    if (head === undefined) return b.build([y]);
    const flat = b.op('Flatten', [y], { axis: 1 });
    const out = b.op('Gemm', [flat, w('head.w', [4, head], -0.3, 0.3), w('head.b', [4], 2, 6)], { transB: 1, alpha: 2 });
    return b.build([b.op('Reshape', [out], { shape: [0, 2, 2] }, 'keypoints')]);
  };
  const probe = make();
  const dims = validateGraph({ ...probe, inputs: [{ name: 'image', shape: [1, 3, S, S] }] }).get(probe.outputs[0]!.name)!;
  const g = make((dims as number[]).slice(1).reduce((p, q) => p * q, 1));
  setModelMeta(g, { head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: [S, S], channels: 3, pixelScale: 1 / 255, cropPadding: 1.25 });
  return g;
}

const conv = (b: GraphBuilder, x: string, w: Weight, name: string, cin: number, cout: number, attrs: Record<string, number[] | number> = {}, k = 3) =>
  b.op('Conv', [x, w(`${name}.w`, [cout, cin / ((attrs.group as number) ?? 1), k, k]), w(`${name}.b`, [cout])], { kernel_shape: [k, k], ...attrs }, name);

/** One model per rule variant; together they use every operator that has a gradient rule. */
const CASES: Record<string, Body> = {
  'Conv stride 1 (flipped-kernel adjoint), Relu': (b, x, w) => b.op('Relu', [conv(b, conv(b, x, w, 'c1', 3, 4, { pads: [1, 1, 1, 1] }), w, 'c2', 4, 3, { pads: [1, 0, 2, 1] })]),
  'Conv stride 2, dilation 2, uneven pads (ConvTranspose adjoint)': (b, x, w) => conv(b, conv(b, x, w, 'c1', 3, 2, { pads: [1, 1, 1, 1] }), w, 'c2', 2, 4, { pads: [1, 0, 2, 1], strides: [2, 2], dilations: [2, 2] }),
  'Conv pads beyond the kernel (ConvTranspose at stride 1)': (b, x, w) => conv(b, conv(b, x, w, 'c1', 3, 2, { pads: [1, 1, 1, 1] }), w, 'c2', 2, 2, { pads: [3, 3, 3, 3] }),
  'Conv stride 3 with rows and columns the windows never read (output padding)': (b, x, w) => conv(b, conv(b, x, w, 'c1', 3, 2, { pads: [1, 1, 1, 1] }), w, 'c2', 2, 3, { strides: [3, 3] }),
  'grouped Conv, both adjoints': (b, x, w) => {
    const a = conv(b, x, w, 'c1', 3, 4, { pads: [1, 1, 1, 1] });
    return conv(b, conv(b, a, w, 'g1', 4, 6, { group: 2 }), w, 'g2', 6, 4, { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] });
  },
  'Conv stride 1, dilation 2, groups, uneven pads (weight gradient by shifted rows and columns)': (b, x, w) =>
    conv(b, conv(b, x, w, 'c1', 3, 8, { pads: [1, 1, 1, 1] }), w, 'c2', 8, 2, { group: 2, dilations: [2, 2], pads: [2, 1, 1, 3] }),
  'Conv stride 1 with a 3×2 kernel (weight gradient by shifted rows and columns)': (b, x, w) =>
    b.op('Conv', [conv(b, x, w, 'c1', 3, 8, { pads: [1, 1, 1, 1] }), w('r.w', [4, 8, 3, 2]), w('r.b', [4])], { kernel_shape: [3, 2], pads: [1, 0, 1, 1] }, 'r'),
  [GATHERED]: (b, x, w) => {
    const r = b.op('Conv', [conv(b, x, w, 'c1', 3, 4, { pads: [1, 1, 1, 1] }), w('r.w', [2, 4, 3, 2]), w('r.b', [2])], { kernel_shape: [3, 2], dilations: [2, 2], pads: [3, 1, 2, 2] }, 'r');
    return conv(b, r, w, 'r2', 2, 3, { dilations: [2, 2], pads: [3, 2, 2, 2] });
  },
  'BatchNormalization in training mode (4-D and 2-D), Gemm, MatMul': (b, x, w) => {
    const c = conv(b, x, w, 'c', 3, 4, { pads: [1, 1, 1, 1], strides: [2, 2] });
    const bn = b.op('BatchNormalization', [c, w('bn.s', [4], 0.5, 1.5), w('bn.t', [4]), w('bn.m', [4], 0, 0), w('bn.v', [4], 1, 1)], { epsilon: 1e-5 });
    const f = b.op('Flatten', [b.op('Relu', [bn])], { axis: 1 });
    const g = b.op('Gemm', [f, w('fc.w', [64, 10], -0.3, 0.3), w('fc.b', [1, 10])], { alpha: 0.7, beta: 1.5 });
    const bn2 = b.op('BatchNormalization', [g, w('bn2.s', [10], 0.5, 1.5), w('bn2.t', [10]), w('bn2.m', [10], 0, 0), w('bn2.v', [10], 1, 1)], { epsilon: 1e-5 });
    return b.op('MatMul', [bn2, w('mm.w', [10, 6])]);
  },
  'Gemm with transposed A': (b, x, w) => {
    const f = b.op('Flatten', [conv(b, x, w, 'c', 3, 2, { strides: [2, 2] })], { axis: 1 }); // [N, 18]
    const t = b.op('Gemm', [w('t.a', [18, 5], -0.3, 0.3), f], { transA: 1, transB: 1 }); // [5, N]
    return b.op('Gemm', [t, w('t.b', [5, 3])], { transA: 1 });
  },
  'Add, Sub, Mul, Div with broadcasting, Abs, Clip': (b, x, w) => {
    const p = conv(b, x, w, 'p', 3, 4, { pads: [1, 1, 1, 1], strides: [2, 2] });
    const q = conv(b, x, w, 'q', 3, 4, { pads: [1, 1, 1, 1], strides: [2, 2] });
    const sum = b.op('Add', [p, q]);
    const diff = b.op('Sub', [w('sub.k', [4, 1, 1]), sum]);
    const prod = b.op('Mul', [diff, q]);
    const den = b.op('Add', [b.op('Abs', [p]), w('den.k', [1], 1, 1)]);
    const quo = b.op('Div', [prod, den]);
    return b.op('Clip', [b.op('Add', [quo, b.op('Div', [w('num.k', [4, 1, 1]), den])])], { min: -0.6, max: 0.8 });
  },
  'MaxPool and AveragePool (overlapping and not), GlobalAveragePool, Concat': (b, x, w) => {
    // No ReLU before the pools: the zeros it makes tie in max windows, where the gradient is one-sided.
    const c = conv(b, x, w, 'c', 3, 4, { pads: [1, 1, 1, 1] });
    const m = b.op('MaxPool', [c], { kernel_shape: [3, 3], strides: [1, 1] }); // 6×6
    const a = b.op('AveragePool', [m], { kernel_shape: [2, 2], strides: [2, 2] }); // 3×3
    const m2 = b.op('MaxPool', [c], { kernel_shape: [2, 2], strides: [2, 2] }); // 4×4
    const a2 = b.op('AveragePool', [m2], { kernel_shape: [2, 2], strides: [1, 1] }); // 3×3
    const gap = b.op('GlobalAveragePool', [c]);
    return b.op('Concat', [a, a2, b.op('Mul', [gap, a])], { axis: 1 });
  },
  'padded, ceil-mode and dilated pools': (b, x, w) => {
    const c = conv(b, x, w, 'c', 3, 3, { pads: [1, 1, 1, 1] });
    const m = b.op('MaxPool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }); // 5×5
    const m2 = b.op('MaxPool', [c], { kernel_shape: [2, 2], strides: [1, 1], dilations: [2, 2] }); // 6×6
    const a = b.op('AveragePool', [m2], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 2], count_include_pad: 0 }); // 3×4
    const a2 = b.op('AveragePool', [m], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0], count_include_pad: 1, ceil_mode: 1 }); // 3×3
    return b.op('Concat', [b.op('Flatten', [a], { axis: 1 }), b.op('Flatten', [a2], { axis: 1 })], { axis: 1 });
  },
  'Pad, Reshape, Identity': (b, x, w) => {
    const c = conv(b, x, w, 'c', 3, 2, { strides: [2, 2] }); // [N, 2, 3, 3]
    const p = b.op('Pad', [c], { pads: [0, 0, 1, 0, 0, 1, 0, 2], mode: 'constant', value: 0.25 });
    return b.op('Identity', [b.op('Reshape', [p, ], { shape: [0, 3, -1] })]);
  },
};

describe('gradient rules', () => {
  it('every IR operator has a rule or is refused by name, and the cases use every rule', () => {
    const used = new Set<string>();
    for (const [name, body] of Object.entries(CASES)) for (const n of model(name, body).nodes) used.add(n.op);
    for (const op of OP_NAMES) {
      if (GRAD_RULES[op]) assert.ok(used.has(op), `no gradient case uses ${op}`);
    }
    const refused = OP_NAMES.filter((op: OpName) => !GRAD_RULES[op]);
    assert.deepEqual(refused, ['ConvTranspose']);
  });

  it('the Conv weight gradient copies what costs less to write: patches of 3 channels (im2col), shifted rows and columns of 8 → 2 and for a 3×2 kernel, gathered rows on 32 × 32 maps', () => {
    const name = 'Conv stride 1, dilation 2, groups, uneven pads (weight gradient by shifted rows and columns)';
    const g = model(name, CASES[name]!);
    const unfolds = decodeOnnx(buildTrainStep({ model: g, meta: modelMeta(g, name), batch: 2 }).onnx, 'step').nodes
      .filter((n) => n.op === 'Conv' && n.inputs[1]!.startsWith('conv.unfold'))
      .map((n) => `${n.inputs[0]!.split('.')[0]} ${(n.attrs.kernel_shape as number[]).join('×')}`);
    // c1 (3 → 8): 27 patch rows against 9 + 24 shifted ones; c2 (8 → 2): 72 against 24 + 6.
    assert.deepEqual(unfolds.map((u) => u.split(' ')[1]).sort(), ['1×3', '3×1', '3×3'], unfolds.join(', '));
    assert.ok(unfolds.includes('image 3×3') && unfolds.includes('c1 3×1'), unfolds.join(', '));
    const rect = 'Conv stride 1 with a 3×2 kernel (weight gradient by shifted rows and columns)';
    const r = model(rect, CASES[rect]!);
    const shapes = decodeOnnx(buildTrainStep({ model: r, meta: modelMeta(r, rect), batch: 2 }).onnx, 'step').nodes
      .filter((n) => n.op === 'Conv' && n.inputs[1]!.startsWith('conv.unfold')).map((n) => (n.attrs.kernel_shape as number[]).join('×'));
    assert.deepEqual(shapes.sort(), ['1×2', '3×1', '3×3']);
    // On 32 × 32 maps row shifts are gathered whole rows, with border pairs subtracted: c1 (3 → 4) and r2 (2 → 3) gather
    // their output gradients' rows against their inputs' column copies, r (4 → 2) its input's rows against its output gradient's.
    const big = model(GATHERED, CASES[GATHERED]!);
    const nodes = decodeOnnx(buildTrainStep({ model: big, meta: modelMeta(big, GATHERED), batch: 2 }).onnx, 'step').nodes;
    const copied = (v: string) => (v === 'image' || v === 'r' ? v : 'output gradient');
    const copies = nodes.filter((n) => n.op === 'Conv' && n.inputs[1]!.startsWith('conv.unfold')).map((n) => `${copied(n.inputs[0]!)} ${(n.attrs.kernel_shape as number[]).join('×')}`);
    assert.deepEqual(copies.sort(), ['image 1×3', 'output gradient 1×2', 'r 1×3']);
    assert.equal(nodes.filter((n) => n.op === 'MatMul' && n.inputs[0]!.startsWith('conv.border')).length, 3);
  });

  for (const [name, body] of Object.entries(CASES)) {
    it(`${name}: every weight's gradient matches central differences`, async () => {
      const g = model(name, body);
      const probe = await StepProbe.open(g, modelMeta(g, name), randomBatch(modelMeta(g, name), 3, 5));
      const { worst, where } = await directionalCheck(probe, undefined, 1);
      await probe.release();
      assert.ok(worst < 2e-2, `worst relative error ${worst.toExponential(2)} at ${where}`);
    });
  }

  it('signOf is the sign, exactly, at zero and at normal floats of any size; a denormal keeps its sign', async () => {
    const v = Float32Array.of(-3e38, -2.5, -1.1754943508222875e-38, -0, 0, 1.1754943508222875e-38, 1e-20, 1, 7.25, 3e38, 1e-45, -1e-44, Infinity);
    const e = new OnnxEmitter('sign');
    e.input('v', [v.length]);
    e.output(signOf(e, 'v', e.op('Abs', ['v'])), 'sign');
    const session = await openSession(e.encode());
    const out = (await session.run({ v: new ort.Tensor('float32', v, [v.length]) })).sign!.data as Float32Array;
    await session.release();
    for (let i = 0; i < 10; i++) assert.ok(out[i] === Math.sign(v[i]!), `sign of ${v[i]} came out ${out[i]}`);
    // Denormals (1e-45, -1e-44): only the sign and a magnitude in (0, 1] are promised; ±Infinity gives NaN.
    assert.ok(out[10]! > 0 && out[10]! <= 1 && out[11]! < 0 && out[11]! >= -1, `${out[10]}, ${out[11]}`);
    assert.ok(Number.isNaN(out[12]));
  });

  it('positive is the 0/1 mask of v > 0, exactly, at zero, negatives and normal floats of any size', async () => {
    const v = Float32Array.of(-Infinity, -3e38, -1, -1e-45, -0, 0, 1.1754943508222875e-38, 1e-20, 1, 3e38, Infinity, 1e-45);
    const e = new OnnxEmitter('positive');
    e.input('v', [v.length]);
    e.output(positive(e, 'v'), 'mask');
    const session = await openSession(e.encode());
    const out = (await session.run({ v: new ort.Tensor('float32', v, [v.length]) })).mask!.data as Float32Array;
    await session.release();
    for (let i = 0; i < 11; i++) assert.ok(out[i] === (v[i]! > 0 ? 1 : 0), `mask of ${v[i]} came out ${out[i]}`);
    // A positive denormal: only a mask in [0, 1] is promised.
    assert.ok(out[11]! >= 0 && out[11]! <= 1, `${out[11]}`);
  });

  it('the CUDA form of the step uses only operators onnxruntime\'s CUDA provider has kernels for, so no node falls back to the CPU', async () => {
    // onnxruntime's docs/OperatorKernels.md, CUDAExecutionProvider: each has a float kernel at the step's opset (17).
    // An operator outside this list runs on the CPU, with copies to and from the GPU around it, every step.
    const cuda = new Set([
      'Abs', 'Add', 'AveragePool', 'Cast', 'Clip', 'Concat', 'Conv', 'ConvTranspose', 'Div', 'Equal', 'Exp', 'Expand', 'Flatten', 'Gather', 'Gemm',
      'GlobalAveragePool', 'HardSigmoid', 'Identity', 'LogSoftmax', 'MatMul', 'Max', 'MaxPool', 'Min', 'Mul', 'Neg', 'Pad',
      'Reciprocal', 'ReduceMean', 'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Scan', 'ScatterElements', 'Sign', 'Slice', 'Split', 'Sqrt',
      'Sub', 'TopK', 'Transpose', 'Unsqueeze', 'com.microsoft:FusedMatMul',
    ]);
    const convBlock = await stepConvBlock({ device: 'cuda' });
    const opsOf = (step: Uint8Array) => {
      const raw = decodeOnnx(step, 'step');
      assert.equal(raw.opset, 17);
      return raw.nodes.map((n) => (raw.domains.get(n.name) ? `${raw.domains.get(n.name)}:${n.op}` : n.op));
    };
    const cases = gradientCases();
    const steps = [
      ...Object.entries(CASES).map(([name, body]) => { const g = model(name, body); return { name, ops: opsOf(buildTrainStep({ model: g, meta: modelMeta(g, name), batch: 2, convBlock }).onnx) }; }),
      // Every zoo model with both heads, regularised, and a large weight crossing in pieces.
      ...cases.map((c) => ({ name: c.name, ops: opsOf(buildTrainStep({ model: c.model, meta: c.meta, batch: 2, convBlock, pieceValues: 1024, ...(c.regularisers ? { regularisers: c.regularisers } : {}) }).onnx) })),
    ];
    for (const { name, ops } of steps) {
      const outside = [...new Set(ops.filter((op) => !cuda.has(op)))];
      assert.deepEqual(outside, [], `${name}: ${outside.join(', ')} would run on the CPU`);
    }
    // The runner's model is the step as the body of a Scan, which CUDA has a kernel for (opset 16–18).
    const scanned = scanSteps(buildTrainStep({ model: cases[0]!.model, meta: cases[0]!.meta, batch: 2, convBlock }));
    const outer = onnx.ModelProto.decode(scanned.onnx);
    assert.deepEqual(outer.graph!.node!.map((n) => n.opType), ['Scan']);
    assert.equal(num(outer.opsetImport!.find((o) => !o.domain)!.version), 17);
    // The CPU form is another graph: its blocked convolutions are the CPU provider's own operators.
    const cnn7 = cases.find((c) => c.name.startsWith('cnn7'))!;
    const cpuOps = opsOf(buildTrainStep({ model: cnn7.model, meta: cnn7.meta, batch: 2, convBlock: 16 }).onnx);
    assert.ok(cpuOps.some((op) => op.startsWith('com.microsoft.nchwc:')), 'the CPU form blocks cnn7\'s convolutions');
    assert.equal(convBlock, 1);
  });

  it('refuses to train a model with an operator that has no rule, naming the node', () => {
    const g = model('ct', (b, x, w) => b.op('ConvTranspose', [x, w('ct.w', [3, 2, 2, 2])], { kernel_shape: [2, 2], strides: [2, 2] }, 'up'));
    assert.throws(() => buildTrainStep({ model: g, meta: modelMeta(g, 'ct'), batch: 2 }), /ConvTranspose node 'up' has no gradient rule/);
  });
});
