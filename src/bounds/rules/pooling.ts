import { unsupported } from '../emitter.ts';
import { isBound, type BoundRule } from './rule.ts';

/** Average pooling is linear with nonnegative weights: pool lo and hi (all rows at once). */
export const averagePoolRule: BoundRule = ({ em, node, outDims }, [x]) => {
  if (!isBound(x)) unsupported(node.op, node.name, 'no input depends on the perturbation');
  return em.map(x, (t) => em.op(node.op, [t], node.attrs), outDims);
};

/** Max pooling is monotone: the pooled concrete bounds bound it (an interval, as in IBP). */
export const maxPoolRule: BoundRule = ({ em, node, outDims }, [x]) => {
  if (!isBound(x)) unsupported('MaxPool', node.name, 'no input depends on the perturbation');
  const { l, u } = em.concretize(x);
  return em.interval(em.op('MaxPool', [l], node.attrs), em.op('MaxPool', [u], node.attrs), outDims);
};
