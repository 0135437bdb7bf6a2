import { unsupported } from '../emitter.ts';
import { isBound, type BoundRule } from './rule.ts';

/** Average pooling is linear with nonnegative weights: pool each part of lo and of hi. */
export const averagePoolRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported(node.op, node.name, 'no input depends on the perturbation');
  const pool = (t: string) => em.op(node.op, [t], node.attrs);
  const lo = { a: pool(x.lo.a), b: pool(x.lo.b), c: pool(x.lo.c) };
  return { lo, hi: x.exact ? lo : { a: pool(x.hi.a), b: pool(x.hi.b), c: pool(x.hi.c) }, exact: x.exact, rank: x.rank };
};

/** Max pooling is monotone: the pooled concrete bounds bound it (an interval, as in IBP). */
export const maxPoolRule: BoundRule = ({ em, node }, [x]) => {
  if (!isBound(x)) unsupported('MaxPool', node.name, 'no input depends on the perturbation');
  const { l, u } = em.concretize(x);
  return em.interval(em.op('MaxPool', [l], node.attrs), em.op('MaxPool', [u], node.attrs), x.rank);
};
