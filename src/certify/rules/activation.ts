import { unsupported, type Bound } from '../emitter.ts';
import { isBound, type BoundRule } from './rule.ts';
import type { BoundEmitter } from '../emitter.ts';

/** ReLU: the emitter's per-box linear relaxation (or intervals in IBP mode). */
export const reluRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported('Relu', node.name, 'no input depends on the perturbation');
  return em.reluBound(x);
};

/**
 * clip(z, lo, hi) = hi − relu(hi − (lo + relu(z − lo))): two ReLU relaxations, exact wherever
 * z cannot reach a bound inside the box. Also the camera's clip(α·x + β, 0, 1).
 */
export function clipBound(em: BoundEmitter, x: Bound, lo: number | undefined, hi: number | undefined): Bound {
  let y = x;
  if (lo !== undefined) {
    y = em.shift(em.reluBound(em.shift(y, em.scalar(-lo))), em.scalar(lo));
  }
  if (hi !== undefined) {
    const k = em.scalar(hi);
    y = em.shift(em.negate(em.reluBound(em.shift(em.negate(y), k))), k);
  }
  return y;
}

export const clipRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported('Clip', node.name, 'no input depends on the perturbation');
  return clipBound(em, x, node.attrs.min as number | undefined, node.attrs.max as number | undefined);
};
