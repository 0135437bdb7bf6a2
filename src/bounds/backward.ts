import { floatAttr, intAttr } from '../graph/attrs.ts';
import { producers, type Graph, type Node } from '../graph/graph.ts';
import type { Bound, BoundEmitter } from './emitter.ts';
import { isBound, type BoundInput } from './rules/rule.ts';

const TAIL_OPS = new Set(['Gemm', 'MatMul', 'Relu', 'Add', 'Sub', 'Mul', 'Div', 'Reshape', 'Identity']);

/** The constant operand of a binary node, when the other one is the bounded value. */
function constantOf(model: Graph, n: Node, values: Map<string, BoundInput>): Float32Array | undefined {
  const [a, b] = n.inputs;
  if (!isBound(values.get(a!)) || b === undefined || !model.initializers.has(b)) return undefined;
  return model.initializers.get(b)!.data;
}

/** The model's dense tail: nodes from the output back to the first one that is not a 2-D affine/ReLU step. */
function denseTail(model: Graph, values: Map<string, BoundInput>, shapes: Map<string, (number | string)[]>): { nodes: Node[]; anchor: string } | undefined {
  const prod = producers(model);
  const nodes: Node[] = [];
  let v = model.outputs[0]!.name;
  for (;;) {
    const n = prod.get(v);
    if (!n || !TAIL_OPS.has(n.op)) break;
    const input = n.inputs[0]!;
    if (shapes.get(input)!.length !== 2 || !isBound(values.get(input))) break;
    if (n.op === 'Gemm' && (intAttr(n, 'transA', 0) !== 0 || !model.initializers.has(n.inputs[1]!) || (n.inputs[2] !== undefined && !model.initializers.has(n.inputs[2])))) break;
    if (n.op === 'MatMul' && (!model.initializers.has(n.inputs[1]!) || model.initializers.get(n.inputs[1]!)!.dims.length !== 2)) break;
    if (['Add', 'Sub', 'Mul', 'Div'].includes(n.op) && !constantOf(model, n, values)) break;
    nodes.push(n);
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
  const tail = denseTail(model, values, shapes);
  if (!tail) return undefined;
  const B = em.boxes;
  const m = outDims.reduce((p, q) => p * q, 1);
  const features = (name: string) => shapes.get(name)![1] as number;
  const eye = new Float32Array(m * m);
  for (let i = 0; i < m; i++) eye[i * m + i] = 1;
  // Λ: [·, m, n] coefficients on the current value; offsets: [·, m, 1].
  let lamL = em.constant('lambda', { dims: [1, m, m], data: eye });
  let lamU = lamL;
  const zeroCol = em.constant('offset', { dims: [1, m, 1], data: new Float32Array(m) });
  let offL = zeroCol;
  let offU = zeroCol;
  const matmulConst = (lam: string, k: Float32Array, dims: number[]) => em.op('MatMul', [lam, em.constant('tail', { dims, data: k })]);
  for (const n of tail.nodes) {
    const nIn = features(n.inputs[0]!);
    const nOut = features(n.outputs[0]!);
    if (n.op === 'Reshape' || n.op === 'Identity') continue;
    if (n.op === 'Add' || n.op === 'Sub') {
      const k = constantOf(model, n, values)!;
      const col = Float32Array.from({ length: nOut }, (_, i) => (n.op === 'Sub' ? -1 : 1) * k[k.length === 1 ? 0 : i]!);
      offL = em.add(offL, matmulConst(lamL, col, [nOut, 1]));
      offU = em.add(offU, matmulConst(lamU, col, [nOut, 1]));
    } else if (n.op === 'Mul' || n.op === 'Div') {
      const k = constantOf(model, n, values)!;
      const row = Float32Array.from({ length: nOut }, (_, i) => (n.op === 'Div' ? 1 / k[k.length === 1 ? 0 : i]! : k[k.length === 1 ? 0 : i]!));
      const r = em.constant('tail', { dims: [1, 1, nOut], data: row });
      lamL = em.mul(lamL, r);
      lamU = em.mul(lamU, r);
    } else if (n.op === 'Gemm' || n.op === 'MatMul') {
      const w = model.initializers.get(n.inputs[1]!)!;
      const alpha = n.op === 'Gemm' ? floatAttr(n, 'alpha', 1) : 1;
      const transB = n.op === 'Gemm' && intAttr(n, 'transB', 0) === 1;
      // y = A·x with A [nOut, nIn].
      const a = new Float32Array(nOut * nIn);
      for (let o = 0; o < nOut; o++) for (let i = 0; i < nIn; i++) a[o * nIn + i] = alpha * (transB ? w.data[o * nIn + i]! : w.data[i * nOut + o]!);
      if (n.op === 'Gemm' && n.inputs[2] !== undefined) {
        const c = model.initializers.get(n.inputs[2])!.data;
        const beta = floatAttr(n, 'beta', 1);
        const col = Float32Array.from({ length: nOut }, (_, o) => beta * c[c.length === 1 ? 0 : o]!);
        offL = em.add(offL, matmulConst(lamL, col, [nOut, 1]));
        offU = em.add(offU, matmulConst(lamU, col, [nOut, 1]));
      }
      const A = em.constant('tail', { dims: [nOut, nIn], data: a });
      lamL = em.op('MatMul', [lamL, A]);
      lamU = em.op('MatMul', [lamU, A]);
    } else {
      // ReLU on z = the node's input, relaxed with the forward pass's per-box bounds and slopes.
      const { l, u } = em.concretize(values.get(n.inputs[0]!) as Bound);
      const { lower, upper, shift } = em.reluSlopes(l, u);
      const row = (t: string) => em.op('Reshape', [t], { shape: [B, 1, nIn] });
      const shiftCol = em.op('Reshape', [shift], { shape: [B, nIn, 1] });
      const split = (lam: string) => {
        const pos = em.relu(lam);
        return { pos, neg: em.sub(lam, pos) };
      };
      const L = split(lamL);
      const U = split(lamU);
      offL = em.add(offL, em.op('MatMul', [L.neg, shiftCol]));
      offU = em.add(offU, em.op('MatMul', [U.pos, shiftCol]));
      lamL = em.add(em.mul(L.pos, row(lower)), em.mul(L.neg, row(upper)));
      lamU = em.add(em.mul(U.pos, row(upper)), em.mul(U.neg, row(lower)));
    }
  }
  // Substitute the anchor's forward bounds: Λ·mid ∓ |Λ|·rad per coefficient row.
  const x = values.get(tail.anchor) as Bound;
  const n = features(tail.anchor);
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
  return { lo: em.op('Reshape', [side(lamL, offL, -1)], shape), hi: em.op('Reshape', [side(lamU, offU, 1)], shape), exact: false, dims: outDims };
}
