import { floatAttr, intsAttr } from '../../graph/attrs.ts';
import { unsupported, type Bound } from '../emitter.ts';
import { isBound, weight, type BoundRule } from './rule.ts';

/** Shape-only operators apply to lo and hi unchanged (Flatten, Reshape keeping the batch, Identity). */
export const reshapeLikeRule: BoundRule = ({ em, node, outDims }, [x]) => {
  if (!isBound(x)) unsupported(node.op, node.name, 'no input depends on the perturbation');
  if (node.op === 'Identity') return x;
  const target = intsAttr(node, 'shape', []);
  // The batch axis survives as a leading 0, or as a leading −1 when every other size is explicit.
  if (node.op === 'Reshape' && target[0] !== 0 && !(target[0] === -1 && target.slice(1).every((d) => d > 0))) {
    unsupported('Reshape', node.name, 'the target shape must keep the batch axis (0 or −1 first)');
  }
  if (node.op === 'Flatten' && (node.attrs.axis ?? 1) !== 1) unsupported('Flatten', node.name, 'only axis 1 keeps the batch axis');
  const attrs = node.op === 'Reshape' ? { ...node.attrs, shape: [-1, ...outDims] } : node.attrs;
  return em.map(x, (t) => em.op(node.op, [t], attrs), outDims);
};

/** Concatenation of bounds (constants join as c rows). */
export const concatRule: BoundRule = (ctx, inputs) => {
  const { em, node, outDims } = ctx;
  const rank = outDims.length + 1;
  const axis = (node.attrs.axis as number) < 0 ? (node.attrs.axis as number) + rank : (node.attrs.axis as number);
  if (axis === 0) unsupported('Concat', node.name, 'cannot concatenate along the batch axis');
  const bounds: Bound[] = inputs.map((x) => {
    if (isBound(x)) return x;
    const c = em.cRows(`${node.name}.constant`, weight(ctx, x as string), rank);
    return { lo: c, hi: c, exact: true, dims: [] };
  });
  const exact = bounds.every((b) => b.exact);
  const lo = em.op('Concat', bounds.map((b) => b.lo), { axis });
  return { lo, hi: exact ? lo : em.op('Concat', bounds.map((b) => b.hi), { axis }), exact, dims: outDims };
};

/** Constant padding: every row pads with 0; a nonzero pad value is added to the c rows where it pads. */
export const padRule: BoundRule = ({ em, node, outDims }, [x]) => {
  if (!isBound(x)) unsupported('Pad', node.name, 'no input depends on the perturbation');
  const pads = intsAttr(node, 'pads', []);
  const r = pads.length / 2;
  if (pads[0] !== 0 || pads[r] !== 0) unsupported('Pad', node.name, 'cannot pad the batch axis');
  const value = floatAttr(node, 'value', 0);
  const padded = em.map(x, (t) => em.op('Pad', [t], { pads }), outDims);
  if (value === 0) return padded;
  // The pad value on padded positions, 0 inside.
  const mask = new Float32Array(outDims.reduce((p, q) => p * q, 1));
  const idx = new Array<number>(outDims.length).fill(0);
  for (let o = 0; o < mask.length; o++) {
    mask[o] = idx.some((v, d) => v < pads[d + 1]! || v >= pads[d + 1]! + x.dims[d]!) ? value : 0;
    for (let d = outDims.length - 1; d >= 0; d--) {
      if (++idx[d]! < outDims[d]!) break;
      idx[d] = 0;
    }
  }
  return em.shift(padded, em.cRows(`${node.name}.value`, { dims: outDims, data: mask }, outDims.length + 1));
};
