import { floatAttr, intAttr } from '../graph/attrs.ts';
import { producers, type Graph, type Node } from '../graph/graph.ts';
import type { Bound, BoundEmitter } from './emitter.ts';
import { isBound, type BoundInput } from './rules/rule.ts';

/** What a tail step sees: the emitter, the model, the forward bounds of every value, and feature counts. */
interface TailContext {
  em: BoundEmitter;
  model: Graph;
  values: Map<string, BoundInput>;
  features(name: string): number;
}

/** Λ (coefficients [·, m, n] on the current value) and offsets ([·, m, 1]) of both bounds. */
interface TailState {
  lamL: string;
  lamU: string;
  offL: string;
  offU: string;
}

/** How the backward pass crosses one operator of the dense tail. */
interface TailRule {
  /** Whether this node can be crossed (its constants have the form `step` relies on). */
  accepts(ctx: TailContext, n: Node): boolean;
  /** Λ and the offsets in terms of the node's input, given them in terms of its output. */
  step(ctx: TailContext, n: Node, s: TailState): TailState;
}

/** The constant operand of a binary node, when the other one is the bounded value. */
function constantOf(ctx: TailContext, n: Node): Float32Array | undefined {
  const [a, b] = n.inputs;
  if (!isBound(ctx.values.get(a!)) || b === undefined || !ctx.model.initializers.has(b)) return undefined;
  return ctx.model.initializers.get(b)!.data;
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

/** Add/Sub/Mul/Div with a constant second operand: k[i], or k[0] when k is a scalar. */
const elementwise = (f: (k: number) => number, kind: 'shift' | 'scale'): TailRule => ({
  accepts: (ctx, n) => constantOf(ctx, n) !== undefined,
  step: (ctx, n, s) => {
    const k = constantOf(ctx, n)!;
    const v = Float32Array.from({ length: ctx.features(n.outputs[0]!) }, (_, i) => f(k[k.length === 1 ? 0 : i]!));
    return kind === 'shift' ? addConstant(ctx, s, v) : scaleColumns(ctx, s, v);
  },
});

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
 * Every operator the backward tail crosses, with its rule. Exhaustive over `TailOp`: an operator
 * not listed ends the tail — it is never relaxed as something else.
 */
const TAIL = {
  Reshape: passThrough,
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
    accepts: (ctx, n) => ctx.model.initializers.has(n.inputs[1]!) && ctx.model.initializers.get(n.inputs[1]!)!.dims.length === 2,
    step: affine,
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
} satisfies Record<string, TailRule>;

type TailOp = keyof typeof TAIL;
const isTailOp = (op: string): op is TailOp => Object.hasOwn(TAIL, op);

/** The model's dense tail: nodes from the output back to the first one that is not a 2-D affine/ReLU step. */
function denseTail(ctx: TailContext, shapes: Map<string, (number | string)[]>): { nodes: (Node & { op: TailOp })[]; anchor: string } | undefined {
  const prod = producers(ctx.model);
  const nodes: (Node & { op: TailOp })[] = [];
  let v = ctx.model.outputs[0]!.name;
  for (;;) {
    const n = prod.get(v);
    if (!n || !isTailOp(n.op)) break;
    const input = n.inputs[0]!;
    if (shapes.get(input)!.length !== 2 || !isBound(ctx.values.get(input))) break;
    const tn = n as Node & { op: TailOp };
    if (!TAIL[tn.op].accepts(ctx, tn)) break;
    nodes.push(tn);
    v = input;
  }
  return nodes.some((n) => n.op === 'Gemm' || n.op === 'MatMul') ? { nodes, anchor: v } : undefined;
}

/**
 * Backward (CROWN-style) bounds on the model output through its dense tail: the output is written
 * as Λ·x + offset in terms of the tail's input x, choosing each ReLU's lower or upper line by the
 * sign of its coefficient for that output (so the relaxations compose per output instead of per
 * neuron), then x's forward linear bounds are substituted. Returns packed bounds [3B, …outDims], or
 * undefined when the model has no dense tail.
 */
export function backwardTail(em: BoundEmitter, model: Graph, values: Map<string, BoundInput>, shapes: Map<string, (number | string)[]>, outDims: number[]): Bound | undefined {
  const ctx: TailContext = { em, model, values, features: (name) => shapes.get(name)![1] as number };
  const tail = denseTail(ctx, shapes);
  if (!tail) return undefined;
  const B = em.boxes;
  const m = outDims.reduce((p, q) => p * q, 1);
  const eye = new Float32Array(m * m);
  for (let i = 0; i < m; i++) eye[i * m + i] = 1;
  const lam = em.constant('lambda', { dims: [1, m, m], data: eye });
  const zeroCol = em.constant('offset', { dims: [1, m, 1], data: new Float32Array(m) });
  let s: TailState = { lamL: lam, lamU: lam, offL: zeroCol, offU: zeroCol };
  for (const n of tail.nodes) s = TAIL[n.op].step(ctx, n, s);
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
