import { intsAttr } from '../../graph/attrs.ts';
import { unsupported, type Bound } from '../emitter.ts';
import { isBound, type BoundRule } from './rule.ts';

/** Shape-only operators apply to every part unchanged (Flatten, Reshape with 0 keeping the batch, Identity). */
export const reshapeLikeRule: BoundRule = ({ em, node, outRank }, [x]) => {
  if (!isBound(x)) unsupported(node.op, node.name, 'no input depends on the perturbation');
  if (node.op === 'Identity') return x;
  const target = intsAttr(node, 'shape', []);
  // The batch axis survives as a leading 0, or as a leading −1 when every other size is explicit.
  if (node.op === 'Reshape' && target[0] !== 0 && !(target[0] === -1 && target.slice(1).every((d) => d > 0))) {
    unsupported('Reshape', node.name, 'the target shape must keep the batch axis (0 or −1 first)');
  }
  if (node.op === 'Flatten' && (node.attrs.axis ?? 1) !== 1) unsupported('Flatten', node.name, 'only axis 1 keeps the batch axis');
  return em.map(x, (t) => em.op(node.op, [t], node.attrs), outRank);
};

/** Concatenation of bounds (constants join with zero coefficients). */
export const concatRule: BoundRule = ({ em, node, outRank }, inputs) => {
  const axis = node.attrs.axis as number;
  if (axis === 0 || axis === -outRank) unsupported('Concat', node.name, 'cannot concatenate along the batch axis');
  const bounds: Bound[] = inputs.map((x) => (isBound(x) ? x : em.interval(x as string, x as string, outRank)));
  const cat = (pick: (b: Bound) => string) => em.op('Concat', bounds.map(pick), node.attrs);
  const exact = bounds.every((b) => b.exact);
  // Coefficient tensors may be shared across boxes ([1, …]) or per box ([B, …]): align them.
  const part = (b: Bound, side: 'lo' | 'hi', k: 'a' | 'b' | 'c') => em.perBox(b[side][k], outRank);
  const lo = { a: cat((b) => part(b, 'lo', 'a')), b: cat((b) => part(b, 'lo', 'b')), c: cat((b) => part(b, 'lo', 'c')) };
  return { lo, hi: exact ? lo : { a: cat((b) => part(b, 'hi', 'a')), b: cat((b) => part(b, 'hi', 'b')), c: cat((b) => part(b, 'hi', 'c')) }, exact, rank: outRank };
};

/** Constant padding: coefficients pad with 0, the constant part with the pad value. */
export const padRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported('Pad', node.name, 'no input depends on the perturbation');
  const zero = { pads: node.attrs.pads! };
  return em.map(x, (t, part) => em.op('Pad', [t], part === 'c' ? node.attrs : zero));
};
