import { floatAttr, intAttr } from '../graph/attrs.ts';
import { producers, type Graph, type Node } from '../graph/graph.ts';
import { batchNormAffine } from '../graph/ops/batchnorm.ts';
import { isOpName, type OpName } from '../graph/ops/registry.ts';
import { adjointPhases, interleavePhases, window2d, type InterleaveOps, type Window2d } from '../graph/ops/spatial.ts';
import type { Bound, BoundEmitter } from './emitter.ts';
import { isBound, type BoundInput } from './rules/rule.ts';

/** What a tail step sees: the emitter, the model, the forward bounds of every value, shapes, and the output count m. */
interface TailContext {
  em: BoundEmitter;
  model: Graph;
  values: Map<string, BoundInput>;
  /** A value's dimensions without the batch axis. */
  dims(name: string): number[];
  /** A value's element count per image (Λ's last axis on it: values of any rank are flattened). */
  features(name: string): number;
  m: number;
}

/** Λ (coefficients [·, m, n] on the current value, flattened) and offsets ([·, m, 1]) of both bounds. */
interface TailState {
  lamL: string;
  lamU: string;
  offL: string;
  offU: string;
}

/** How the backward pass crosses one operator of the tail. */
interface TailRule {
  /** Whether this node can be crossed (its constants have the form `step` relies on). */
  accepts(ctx: TailContext, n: Node): boolean;
  /** Λ and the offsets in terms of the node's input, given them in terms of its output. */
  step(ctx: TailContext, n: Node, s: TailState): TailState;
}

/** The constant operand of a binary node, when the other one is the bounded value. */
function constantOf(ctx: TailContext, n: Node): { dims: number[]; data: Float32Array } | undefined {
  const [a, b] = n.inputs;
  if (!isBound(ctx.values.get(a!)) || b === undefined || !ctx.model.initializers.has(b)) return undefined;
  return ctx.model.initializers.get(b)!;
}

/** A constant broadcast (numpy rules, as the model applies it) over one image of a value: n numbers. */
function broadcastOver(k: { dims: number[]; data: Float32Array }, dims: number[]): Float32Array | undefined {
  const full = [1, ...dims];
  if (k.dims.length > full.length) return undefined;
  const kd = [...new Array<number>(full.length - k.dims.length).fill(1), ...k.dims];
  if (!kd.every((d, i) => d === 1 || d === full[i])) return undefined;
  const n = dims.reduce((p, q) => p * q, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let rest = i;
    let at = 0;
    let stride = 1;
    for (let ax = full.length - 1; ax >= 1; ax--) {
      const idx = rest % full[ax]!;
      rest = Math.floor(rest / full[ax]!);
      if (kd[ax] !== 1) at += idx * stride;
      stride *= kd[ax]!;
    }
    out[i] = k.data[at]!;
  }
  return out;
}

const matmulConst = (ctx: TailContext, lam: string, k: Float32Array, dims: number[]) => ctx.em.op('MatMul', [lam, ctx.em.constant('tail', { dims, data: k })]);

/** Adds Λ·col to both offsets (a constant added to the value). */
function addConstant(ctx: TailContext, s: TailState, col: Float32Array): TailState {
  const n = col.length;
  return { ...s, offL: ctx.em.add(s.offL, matmulConst(ctx, s.lamL, col, [n, 1])), offU: ctx.em.add(s.offU, matmulConst(ctx, s.lamU, col, [n, 1])) };
}

/** Scales Λ's columns (the value multiplied elementwise by a constant). */
function scaleColumns(ctx: TailContext, s: TailState, row: Float32Array): TailState {
  const r = ctx.em.constant('tail', { dims: [1, 1, row.length], data: row });
  return { ...s, lamL: ctx.em.mul(s.lamL, r), lamU: ctx.em.mul(s.lamU, r) };
}

const passThrough: TailRule = { accepts: () => true, step: (_c, _n, s) => s };

/** Add/Sub/Mul/Div with a constant second operand, broadcast over the value as the model does. */
const elementwise = (f: (k: number) => number, kind: 'shift' | 'scale'): TailRule => ({
  accepts: (ctx, n) => {
    const k = constantOf(ctx, n);
    return k !== undefined && broadcastOver(k, ctx.dims(n.outputs[0]!)) !== undefined;
  },
  step: (ctx, n, s) => {
    const v = broadcastOver(constantOf(ctx, n)!, ctx.dims(n.outputs[0]!))!.map(f);
    return kind === 'shift' ? addConstant(ctx, s, v) : scaleColumns(ctx, s, v);
  },
});

/** A per-channel constant repeated over each channel's spatial positions: n numbers. */
function perChannel(values: ArrayLike<number>, dims: number[]): Float32Array {
  const inner = dims.slice(1).reduce((p, q) => p * q, 1);
  return Float32Array.from({ length: values.length * inner }, (_, i) => values[Math.floor(i / inner)]!);
}

/** How a Conv's adjoint (Λ on its output → Λ on its input) is computed. */
interface Adjoint {
  cIn: number;
  hIn: number;
  wIn: number;
  cOut: number;
  hOut: number;
  wOut: number;
  win: Window2d;
  group: number;
  /** Input rows/columns the Conv never reads (they get zero coefficients). */
  extra: [number, number];
}

/** A Conv's adjoint geometry, or undefined when its weight or bias is not constant or ConvTranspose could not mirror it. */
function adjointOf(ctx: TailContext, n: Node): Adjoint | undefined {
  const w = ctx.model.initializers.get(n.inputs[1]!);
  if (!w || w.dims.length !== 4 || (n.inputs[2] !== undefined && !ctx.model.initializers.has(n.inputs[2]))) return undefined;
  const [cIn, hIn, wIn] = ctx.dims(n.inputs[0]!);
  const [cOut, hOut, wOut] = ctx.dims(n.outputs[0]!);
  if ([cIn, hIn, wIn, cOut, hOut, wOut].some((d) => d === undefined)) return undefined;
  const win = window2d(n, hIn!, wIn!, w.dims.slice(2));
  const extra = ([0, 1] as const).map((i) => [hIn!, wIn!][i]! - (win.strides[i] * ([hOut!, wOut!][i]! - 1) + (win.kernel[i] - 1) * win.dilations[i] + 1 - win.pads[i] - win.pads[i + 2]!)) as [number, number];
  // ONNX's ConvTranspose needs output_padding below the stride or the dilation.
  if (!extra.every((e, i) => e >= 0 && e < Math.max(win.strides[i as 0 | 1], win.dilations[i as 0 | 1]))) return undefined;
  return { cIn: cIn!, hIn: hIn!, wIn: wIn!, cOut: cOut!, hOut: hOut!, wOut: wOut!, win, group: intAttr(n, 'group', 1), extra };
}

/**
 * Λ·(W ⋆ x) = (Wᵀ ⋆ Λ)·x: the adjoint of a Conv. Written as a Conv with the kernel flipped and its
 * channel axes swapped, over Λ with stride − 1 zeros inserted between its rows and columns
 * (onnxruntime's CPU Conv took half the time of its ConvTranspose on the demo's shapes); as a
 * ConvTranspose when the padding that needs would be negative.
 */
function adjointConv(ctx: TailContext, n: Node, a: Adjoint): (lam: string) => string {
  const { em } = ctx;
  const w = ctx.model.initializers.get(n.inputs[1]!)!;
  const [kh, kw] = a.win.kernel;
  const [sh, sw] = a.win.strides;
  const [dh, dw] = a.win.dilations;
  const [pt, pl, pb, pr] = a.win.pads;
  const pads = [(kh - 1) * dh - pt, (kw - 1) * dw - pl, (kh - 1) * dh - pb + a.extra[0] - (sh - 1), (kw - 1) * dw - pr + a.extra[1] - (sw - 1)];
  const toSpatial = (lam: string) => em.op('Reshape', [lam], { shape: [-1, a.cOut, a.hOut, a.wOut] });
  const toRows = (t: string) => em.op('Reshape', [t], { shape: [-1, ctx.m, a.cIn * a.hIn * a.wIn] });
  const phases = polyphase(ctx, n, a);
  if (phases) return (lam) => toRows(phases(toSpatial(lam)));
  if (pads.some((p) => p < 0)) {
    const weight = em.constant('tail', w);
    const attrs = { kernel_shape: a.win.kernel, strides: a.win.strides, dilations: a.win.dilations, pads: a.win.pads, group: a.group, output_padding: a.extra };
    return (lam) => toRows(em.op('ConvTranspose', [toSpatial(lam), weight], attrs));
  }
  // W [cOut, cIn/g, kh, kw] → W' [cIn, cOut/g, kh, kw], flipped in both spatial axes, per group.
  const cOutG = a.cOut / a.group;
  const cInG = a.cIn / a.group;
  const flipped = new Float32Array(w.data.length);
  for (let g = 0; g < a.group; g++) {
    for (let co = 0; co < cOutG; co++) {
      for (let ci = 0; ci < cInG; ci++) {
        for (let y = 0; y < kh; y++) {
          for (let x = 0; x < kw; x++) {
            flipped[(((g * cInG + ci) * cOutG + co) * kh + (kh - 1 - y)) * kw + (kw - 1 - x)] = w.data[(((g * cOutG + co) * cInG + ci) * kh + y) * kw + x]!;
          }
        }
      }
    }
  }
  const weight = em.constant('tail', { dims: [a.cIn, cOutG, kh, kw], data: flipped });
  const attrs = { kernel_shape: a.win.kernel, dilations: a.win.dilations, pads, group: a.group };
  // Zeros between rows and columns: Λ as the grid's phase (0, 0), zeros in every other phase
  // (onnxruntime's rank-6 Mul and broadcasts are slow: zeros are made at rank 4).
  const spread = (t: string) => {
    if (sh === 1 && sw === 1) return t;
    const zero = em.mul(t, em.scalar(0));
    const grid = Array.from({ length: sh }, (_, r) => Array.from({ length: sw }, (_, c) => (r === 0 && c === 0 ? t : zero)));
    return interleavePhases(grid, interleaveOps(em, a.cOut, a.hOut, a.wOut, sh, sw));
  };
  return (lam) => toRows(em.op('Conv', [spread(toSpatial(lam)), weight], attrs));
}

/**
 * A strided Conv's adjoint by phases (`adjointPhases`): one small stride-1 Conv over Λ per phase,
 * interleaved into the input's grid — a quarter of the multiply-adds of a Conv over Λ spread with
 * zeros at stride 2, and no zeros to write. Undefined at stride 1 and where the phases do not apply.
 */
function polyphase(ctx: TailContext, n: Node, a: Adjoint): ((lam: string) => string) | undefined {
  const { em } = ctx;
  const [sh, sw] = a.win.strides;
  if (sh === 1 && sw === 1) return undefined;
  const w = ctx.model.initializers.get(n.inputs[1]!)!;
  const [kh, kw] = a.win.kernel;
  const rows = adjointPhases(sh, kh, a.win.dilations[0], a.win.pads[0], a.hIn, a.hOut);
  const cols = adjointPhases(sw, kw, a.win.dilations[1], a.win.pads[1], a.wIn, a.wOut);
  if (!rows || !cols) return undefined;
  const cOutG = a.cOut / a.group;
  const cInG = a.cIn / a.group;
  const kernels = rows.map((ry) => cols.map((rx) => {
    const data = new Float32Array(a.cIn * cOutG * ry.len * rx.len);
    for (let g = 0; g < a.group; g++) {
      for (let co = 0; co < cOutG; co++) {
        for (let ci = 0; ci < cInG; ci++) {
          for (const ty of ry.taps) {
            for (const tx of rx.taps) {
              data[(((g * cInG + ci) * cOutG + co) * ry.len + ty.offset - ry.lo) * rx.len + tx.offset - rx.lo] = w.data[(((g * cOutG + co) * cInG + ci) * kh + ty.k) * kw + tx.k]!;
            }
          }
        }
      }
    }
    return { weight: em.constant('tail', { dims: [a.cIn, cOutG, ry.len, rx.len], data }), attrs: { kernel_shape: [ry.len, rx.len], pads: [ry.pads[0], rx.pads[0], ry.pads[1], rx.pads[1]], group: a.group } };
  }));
  const ops = interleaveOps(em, a.cIn, a.hIn / sh, a.wIn / sw, sh, sw);
  return (lam) => interleavePhases(kernels.map((row) => row.map((k) => em.op('Conv', [lam, k.weight], k.attrs))), ops);
}

/** `interleavePhases` in the bound graph: phases [N, c, h, w] into [N, c, h·sh, w·sw], the batch left to Reshape's −1. */
function interleaveOps(em: BoundEmitter, c: number, h: number, w: number, sh: number, sw: number): InterleaveOps<string> {
  return {
    six: (t) => em.op('Reshape', [t], { shape: [-1, c, h, 1, w, 1] }),
    four: (t) => em.op('Reshape', [t], { shape: [-1, c, h * sh, w * sw] }),
    concat: (parts, axis) => em.op('Concat', parts, { axis }),
  };
}

/** Conv y = W ⋆ x (+ b): Λ on y becomes Λ on x through the adjoint; the bias moves into the offsets. */
function convStep(ctx: TailContext, n: Node, s: TailState): TailState {
  const a = adjointOf(ctx, n)!;
  const back = adjointConv(ctx, n, a);
  let t = s;
  if (n.inputs[2] !== undefined) t = addConstant(ctx, t, perChannel(ctx.model.initializers.get(n.inputs[2])!.data, [a.cOut, a.hOut, a.wOut]));
  return { ...t, lamL: back(t.lamL), lamU: back(t.lamU) };
}

/** y = A·x (+ c) with A [nOut, nIn] from the node's constant weight. */
function affine(ctx: TailContext, n: Node, s: TailState): TailState {
  const nIn = ctx.features(n.inputs[0]!);
  const nOut = ctx.features(n.outputs[0]!);
  const w = ctx.model.initializers.get(n.inputs[1]!)!;
  const alpha = n.op === 'Gemm' ? floatAttr(n, 'alpha', 1) : 1;
  const transB = n.op === 'Gemm' && intAttr(n, 'transB', 0) === 1;
  const a = new Float32Array(nOut * nIn);
  for (let o = 0; o < nOut; o++) for (let i = 0; i < nIn; i++) a[o * nIn + i] = alpha * (transB ? w.data[o * nIn + i]! : w.data[i * nOut + o]!);
  let t = s;
  if (n.op === 'Gemm' && n.inputs[2] !== undefined) {
    const c = ctx.model.initializers.get(n.inputs[2])!.data;
    const beta = floatAttr(n, 'beta', 1);
    t = addConstant(ctx, t, Float32Array.from({ length: nOut }, (_, o) => beta * c[c.length === 1 ? 0 : o]!));
  }
  const A = ctx.em.constant('tail', { dims: [nOut, nIn], data: a });
  return { ...t, lamL: ctx.em.op('MatMul', [t.lamL, A]), lamU: ctx.em.op('MatMul', [t.lamU, A]) };
}

/**
 * The backward tail's rule of every IR operator, or null for one that ends the tail (it is never
 * relaxed as something else). Exhaustive: a new operator does not compile until it has an entry.
 */
const TAIL: Record<OpName, TailRule | null> = {
  Reshape: passThrough,
  Flatten: passThrough,
  Identity: passThrough,
  Add: elementwise((k) => k, 'shift'),
  Sub: elementwise((k) => -k, 'shift'),
  Mul: elementwise((k) => k, 'scale'),
  Div: elementwise((k) => 1 / k, 'scale'),
  Gemm: {
    accepts: (ctx, n) => intAttr(n, 'transA', 0) === 0 && ctx.model.initializers.has(n.inputs[1]!) && (n.inputs[2] === undefined || ctx.model.initializers.has(n.inputs[2])),
    step: affine,
  },
  MatMul: {
    accepts: (ctx, n) => ctx.model.initializers.has(n.inputs[1]!) && ctx.model.initializers.get(n.inputs[1]!)!.dims.length === 2 && ctx.dims(n.inputs[0]!).length === 1,
    step: affine,
  },
  Conv: { accepts: (ctx, n) => adjointOf(ctx, n) !== undefined, step: convStep },
  BatchNormalization: {
    accepts: (ctx, n) => n.inputs.slice(1).every((p) => ctx.model.initializers.has(p)),
    // y = a·x + b per channel (axis 1): scale Λ's columns by a, then add Λ·b.
    step: (ctx, n, s) => {
      const [scale, bias, mean, variance] = n.inputs.slice(1).map((p) => ctx.model.initializers.get(p)!);
      const { a, b } = batchNormAffine(n, scale!, bias!, mean!, variance!);
      const dims = ctx.dims(n.outputs[0]!);
      return scaleColumns(ctx, addConstant(ctx, s, perChannel(b, dims)), perChannel(a, dims));
    },
  },
  Relu: {
    accepts: () => true,
    // ReLU on z = the node's input, relaxed with the forward pass's per-box bounds and slopes; each
    // output's bound takes the lower or upper line by the sign of its coefficient.
    step: (ctx, n, s) => {
      const { em } = ctx;
      const B = em.boxes;
      const nIn = ctx.features(n.inputs[0]!);
      const { l, u } = em.concretize(ctx.values.get(n.inputs[0]!) as Bound);
      const { lower, upper, shift } = em.reluSlopes(l, u);
      const row = (t: string) => em.op('Reshape', [t], { shape: [B, 1, nIn] });
      const shiftCol = em.op('Reshape', [shift], { shape: [B, nIn, 1] });
      const split = (lam: string) => {
        const pos = em.relu(lam);
        return { pos, neg: em.sub(lam, pos) };
      };
      const L = split(s.lamL);
      const U = split(s.lamU);
      return {
        offL: em.add(s.offL, em.op('MatMul', [L.neg, shiftCol])),
        offU: em.add(s.offU, em.op('MatMul', [U.pos, shiftCol])),
        lamL: em.add(em.mul(L.pos, row(lower)), em.mul(L.neg, row(upper))),
        lamU: em.add(em.mul(U.pos, row(upper)), em.mul(U.neg, row(lower))),
      };
    },
  },
  ConvTranspose: null,
  Abs: null,
  Clip: null,
  MaxPool: null,
  AveragePool: null,
  GlobalAveragePool: null,
  Concat: null,
  Pad: null,
};

/** A node the tail crosses, with its rule. */
interface TailNode {
  node: Node;
  rule: TailRule;
}

/** Λ tensors larger than this many elements end the tail: its memory and time grow with outputs × features × boxes. */
const MAX_LAMBDA = 1 << 22;

/**
 * The model's tail: nodes from the output back to the first one the backward pass cannot cross,
 * crossing at most `convs` convolutions and only while Λ stays under MAX_LAMBDA elements.
 */
function tailOf(ctx: TailContext, convs: number): { nodes: TailNode[]; anchor: string } | undefined {
  const prod = producers(ctx.model);
  const nodes: TailNode[] = [];
  let crossed = 0;
  let v = ctx.model.outputs[0]!.name;
  for (;;) {
    const n = prod.get(v);
    const rule = n && isOpName(n.op) ? TAIL[n.op] : null;
    if (!n || !rule) break;
    const input = n.inputs[0]!;
    if (!isBound(ctx.values.get(input))) break;
    if (ctx.em.boxes * ctx.m * ctx.features(input) > MAX_LAMBDA) break;
    if (!rule.accepts(ctx, n)) break;
    if (n.op === 'Conv' && crossed === convs) break;
    if (n.op === 'Conv') crossed++;
    nodes.push({ node: n, rule });
    v = input;
  }
  // A tail that reached the image: below its earliest ReLU the model is affine in the camera's
  // output, which the forward bounds carry exactly but for clipped pixels, so crossing it would
  // cost full-resolution adjoints for nothing. The tail ends at that ReLU's input.
  const last = nodes.map((t) => t.node.op).lastIndexOf('Relu');
  if (v === ctx.model.inputs[0]!.name && last >= 0 && last < nodes.length - 1) {
    const cut = nodes.splice(last + 1);
    v = cut[0]!.node.outputs[0]!;
  }
  return nodes.some((t) => t.node.op === 'Gemm' || t.node.op === 'MatMul' || t.node.op === 'Conv') ? { nodes, anchor: v } : undefined;
}

/**
 * Backward (CROWN-style) bounds on the model output through its tail: the output is written as
 * Λ·x + offset in terms of the tail's input x, choosing each ReLU's lower or upper line by the sign
 * of its coefficient for that output (so the relaxations compose per output instead of per neuron),
 * then x's forward linear bounds are substituted. The tail crosses dense layers and at most `convs`
 * convolutions (Infinity: down to the camera when Λ stays small). Returns packed bounds
 * [3B, …outDims], or undefined when the model has no tail with an affine step.
 */
export function backwardTail(em: BoundEmitter, model: Graph, values: Map<string, BoundInput>, shapes: Map<string, (number | string)[]>, outDims: number[], convs: number): Bound | undefined {
  const m = outDims.reduce((p, q) => p * q, 1);
  const dims = (name: string) => shapes.get(name)!.slice(1) as number[];
  const ctx: TailContext = { em, model, values, dims, features: (name) => dims(name).reduce((p, q) => p * q, 1), m };
  const tail = tailOf(ctx, convs);
  if (!tail) return undefined;
  const B = em.boxes;
  const eye = new Float32Array(m * m);
  for (let i = 0; i < m; i++) eye[i * m + i] = 1;
  const lam = em.constant('lambda', { dims: [1, m, m], data: eye });
  const zeroCol = em.constant('offset', { dims: [1, m, 1], data: new Float32Array(m) });
  let s: TailState = { lamL: lam, lamU: lam, offL: zeroCol, offU: zeroCol };
  for (const { node, rule } of tail.nodes) s = rule.step(ctx, node, s);
  // Substitute the anchor's forward bounds: Λ·mid ∓ |Λ|·rad per coefficient row.
  const x = values.get(tail.anchor) as Bound;
  const n = ctx.features(tail.anchor);
  const perRow = (t: string) => em.op('Reshape', [t], { shape: [3, B, n, 1] });
  const half = em.scalar(0.5);
  const mid = perRow(em.mul(em.add(x.lo, x.hi), half));
  const rad = perRow(em.mul(em.sub(x.hi, x.lo), half));
  const packed = (t: string) => em.op('Reshape', [t], { shape: [3 * B, m] });
  const offsets = (off: string) => {
    const perBox = em.op('Reshape', [em.add(off, em.constant('zeros', { dims: [B, 1, 1], data: new Float32Array(B) }))], { shape: [B, m] });
    const z = em.mul(perBox, em.scalar(0));
    return em.stack(z, z, perBox);
  };
  const side = (lam: string, off: string, sign: 1 | -1) => {
    const centre = packed(em.op('MatMul', [lam, mid]));
    const spread = packed(em.op('MatMul', [em.op('Abs', [lam]), rad]));
    return em.add(sign > 0 ? em.add(centre, spread) : em.sub(centre, spread), offsets(off));
  };
  const shape = { shape: [-1, ...outDims] };
  return { lo: em.op('Reshape', [side(s.lamL, s.offL, -1)], shape), hi: em.op('Reshape', [side(s.lamU, s.offU, 1)], shape), exact: false, dims: outDims };
}
