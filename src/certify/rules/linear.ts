import { floatAttr, intAttr } from '../../graph/attrs.ts';
import { batchNormAffine } from '../../graph/ops/batchnorm.ts';
import { unsupported } from '../emitter.ts';
import { absWeight, isBound, weight, type BoundRule } from './rule.ts';

/** Conv: W·x with W and |W|, bias on the constant part. */
export const convRule: BoundRule = ({ em, node, ...ctx }, [x, w, b]) => {
  if (!isBound(x) || isBound(w) || isBound(b)) unsupported('Conv', node.name, 'only the data input may depend on the perturbation');
  const absW = absWeight({ em, node, ...ctx }, w as string);
  const attrs = node.attrs;
  return em.linear(
    x,
    (t, abs) => em.op('Conv', [t, abs ? absW : (w as string)], attrs),
    b === undefined ? undefined : (t) => em.add(t, em.op('Reshape', [b as string], { shape: [1, -1, 1, 1] })),
  );
};

/** Gemm with a constant B (and C): alpha·x·op(B) + beta·C. */
export const gemmRule: BoundRule = ({ em, node, ...ctx }, [x, w, c]) => {
  if (!isBound(x) || isBound(w) || isBound(c)) unsupported('Gemm', node.name, 'only input A may depend on the perturbation');
  if (intAttr(node, 'transA', 0) !== 0) unsupported('Gemm', node.name, 'transA mixes the batch into the product');
  const absW = absWeight({ em, node, ...ctx }, w as string);
  const attrs = { transB: intAttr(node, 'transB', 0), alpha: floatAttr(node, 'alpha', 1) };
  // |alpha·W| = |alpha|·|W|: apply the sign of alpha to the middle term only.
  const absAttrs = { ...attrs, alpha: Math.abs(attrs.alpha) };
  const beta = floatAttr(node, 'beta', 1);
  return em.linear(
    x,
    (t, abs) => em.op('Gemm', [t, abs ? absW : (w as string)], abs ? absAttrs : attrs),
    c === undefined ? undefined : (t) => em.add(t, em.mul(c as string, em.scalar(beta))),
  );
};

/** MatMul with one constant operand. */
export const matmulRule: BoundRule = (ctx, [x, y]) => {
  const { em, node } = ctx;
  if (isBound(x) === isBound(y)) unsupported('MatMul', node.name, 'exactly one operand must be a constant');
  const bound = (isBound(x) ? x : y) as Exclude<typeof x, string | undefined>;
  const w = (isBound(x) ? y : x) as string;
  const absW = absWeight(ctx, w);
  return em.linear(bound, (t, abs) => em.op('MatMul', isBound(x) ? [t, abs ? absW : w] : [abs ? absW : w, t]));
};

/** Inference BatchNormalization left unfolded: a per-channel affine map. */
export const batchNormRule: BoundRule = (ctx, [x, ...params]) => {
  const { em, node } = ctx;
  if (!isBound(x) || params.some(isBound)) unsupported('BatchNormalization', node.name, 'only the data input may depend on the perturbation');
  const [scale, shift, mean, variance] = (params as string[]).map((p) => weight(ctx, p));
  const { a, b } = batchNormAffine(node, scale!, shift!, mean!, variance!);
  const shape = [1, a.length, ...new Array<number>(x.rank - 2).fill(1)];
  const aT = em.constant(`${node.name}.scale`, { dims: shape, data: Float32Array.from(a) });
  const absA = em.constant(`${node.name}.abs_scale`, { dims: shape, data: Float32Array.from(a, Math.abs) });
  const bT = em.constant(`${node.name}.shift`, { dims: shape, data: Float32Array.from(b) });
  return em.linear(x, (t, abs) => em.mul(t, abs ? absA : aT), (t) => em.add(t, bT));
};
