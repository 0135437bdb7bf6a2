import { floatAttr, intAttr } from '../../graph/attrs.ts';
import { batchNormAffine } from '../../graph/ops/batchnorm.ts';
import { unsupported, type Bound } from '../emitter.ts';
import { isBound, weight, weightForms, type BoundRule } from './rule.ts';

/** Conv and ConvTranspose: W·x with W/2 and |W|/2 on the packed bound, bias on the c rows. */
export const convRule: BoundRule = (ctx, [x, w, b]) => {
  const { em, node, outDims } = ctx;
  if (!isBound(x) || isBound(w) || isBound(b)) unsupported(node.op, node.name, 'only the data input may depend on the perturbation');
  const forms = weightForms(ctx, w as string);
  const bias = b === undefined ? undefined : (() => {
    const t = weight(ctx, b as string);
    return em.cRows(`${node.name}.bias`, { dims: [t.data.length, 1, 1], data: t.data }, 4);
  })();
  return em.linear(x, (t, kind) => em.op(node.op, [t, forms[kind]], node.attrs), bias, outDims);
};

/** Gemm with a constant B (and C): alpha·x·op(B) + beta·C. */
export const gemmRule: BoundRule = (ctx, [x, w, c]) => {
  const { em, node, outDims } = ctx;
  if (!isBound(x) || isBound(w) || isBound(c)) unsupported('Gemm', node.name, 'only input A may depend on the perturbation');
  if (intAttr(node, 'transA', 0) !== 0) unsupported('Gemm', node.name, 'transA mixes the batch into the product');
  const forms = weightForms(ctx, w as string, floatAttr(node, 'alpha', 1));
  const attrs = { transB: intAttr(node, 'transB', 0) };
  const bias = c === undefined ? undefined : (() => {
    const t = weight(ctx, c as string);
    const beta = floatAttr(node, 'beta', 1);
    return em.cRows(`${node.name}.bias`, { dims: [t.data.length === 1 ? 1 : outDims[0]!], data: t.data.map((v) => v * beta) }, 2);
  })();
  return em.linear(x, (t, kind) => em.op('Gemm', [t, forms[kind]], attrs), bias, outDims);
};

/** MatMul with one constant operand. */
export const matmulRule: BoundRule = (ctx, [x, y]) => {
  const { em, node, outDims } = ctx;
  if (isBound(x) === isBound(y)) unsupported('MatMul', node.name, 'exactly one operand must be a constant');
  const bound = (isBound(x) ? x : y) as Bound;
  const forms = weightForms(ctx, (isBound(x) ? y : x) as string);
  return em.linear(bound, (t, kind) => em.op('MatMul', isBound(x) ? [t, forms[kind]] : [forms[kind], t]), undefined, outDims);
};

/** A per-element affine map y = k·x + shift with constant tensors (broadcast like the model does). */
export function scaleBound(ctx: Parameters<BoundRule>[0], x: Bound, base: string, k: { dims: number[]; data: Float32Array }, shift?: { dims: number[]; data: Float32Array }): Bound {
  const { em, outDims } = ctx;
  const full = em.constant(`${base}.k`, k);
  const half = em.constant(`${base}.k_half`, { dims: k.dims, data: k.data.map((v) => v / 2) });
  const halfAbs = em.constant(`${base}.k_half_abs`, { dims: k.dims, data: k.data.map((v) => Math.abs(v) / 2) });
  const forms = { full, half, halfAbs };
  return em.linear(x, (t, kind) => em.mul(t, forms[kind]), shift && em.cRows(`${base}.shift`, shift, outDims.length + 1), outDims);
}

/** Inference BatchNormalization left unfolded: a per-channel affine map. */
export const batchNormRule: BoundRule = (ctx, [x, ...params]) => {
  const { node } = ctx;
  if (!isBound(x) || params.some(isBound)) unsupported('BatchNormalization', node.name, 'only the data input may depend on the perturbation');
  const [scale, shift, mean, variance] = (params as string[]).map((p) => weight(ctx, p));
  const { a, b } = batchNormAffine(node, scale!, shift!, mean!, variance!);
  const dims = [a.length, ...new Array<number>(x.dims.length - 1).fill(1)];
  return scaleBound(ctx, x, node.name, { dims, data: Float32Array.from(a) }, { dims, data: Float32Array.from(b) });
};
