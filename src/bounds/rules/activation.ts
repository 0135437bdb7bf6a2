import { unsupported, type Bound, type BoundEmitter } from '../emitter.ts';
import { isBound, type BoundRule } from './rule.ts';

/** ReLU: the emitter's per-box linear relaxation (or intervals in IBP mode). */
export const reluRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported('Relu', node.name, 'no input depends on the perturbation');
  return em.reluBound(x);
};

/**
 * clip(z, lo, hi) = hi − relu(hi − (lo + relu(z − lo))): two ReLU relaxations, exact wherever
 * z cannot reach a bound inside the box. (The camera's clip has its own closed form: camera.ts.)
 */
function clipBound(em: BoundEmitter, x: Bound, lo: number | undefined, hi: number | undefined): Bound {
  const shift = (v: number) => em.cRows('clip', { dims: [], data: Float32Array.of(v) }, x.dims.length + 1);
  let y = x;
  if (lo !== undefined) y = em.shift(em.reluBound(em.shift(y, shift(-lo))), shift(lo));
  if (hi !== undefined) y = em.shift(em.negate(em.reluBound(em.shift(em.negate(y), shift(hi)))), shift(hi));
  return y;
}

export const clipRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported('Clip', node.name, 'no input depends on the perturbation');
  return clipBound(em, x, node.attrs.min as number | undefined, node.attrs.max as number | undefined);
};

/** |x| as an interval: at least max(l, −u, 0), at most max(u, −l) ≤ relu(u) + relu(−l). */
export const absRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported('Abs', node.name, 'no input depends on the perturbation');
  const { l, u } = em.concretize(x);
  return em.interval(em.add(em.relu(l), em.relu(em.neg(u))), em.add(em.relu(u), em.relu(em.neg(l))), x.dims);
};
