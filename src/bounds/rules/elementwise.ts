import { unsupported, type Bound } from '../emitter.ts';
import { scaleBound } from './linear.ts';
import { isBound, weight, type BoundRule } from './rule.ts';

/** x + y: sum of bounds, or a constant added to the c rows. */
export const addRule: BoundRule = (ctx, [x, y]) => {
  const { em, node, outDims } = ctx;
  if (isBound(x) && isBound(y)) {
    const lo = em.add(x.lo, y.lo);
    const exact = x.exact && y.exact;
    return { lo, hi: exact ? lo : em.add(x.hi, y.hi), exact, dims: outDims };
  }
  if (!isBound(x) && !isBound(y)) return unsupported('Add', node.name, 'no input depends on the perturbation');
  const bound = (isBound(x) ? x : y) as Bound;
  const k = weight(ctx, (isBound(x) ? y : x) as string);
  return { ...em.shift(bound, em.cRows(`${node.name}.addend`, k, outDims.length + 1)), dims: outDims };
};

/** x − y, including constant − bound. */
export const subRule: BoundRule = (ctx, [x, y]) => {
  const { em, node, outDims } = ctx;
  if (isBound(y)) return addRule(ctx, [x!, em.negate(y)]);
  const k = weight(ctx, y as string);
  return { ...em.shift(x as Bound, em.cRows(`${node.name}.subtrahend`, { dims: k.dims, data: k.data.map((v) => -v) }, outDims.length + 1)), dims: outDims };
};

/** Multiplication or division by a constant: a linear map whose |W| is |k|. */
function scaleRule(op: 'Mul' | 'Div'): BoundRule {
  return (ctx, [x, y]) => {
    const { node } = ctx;
    if (isBound(x) && isBound(y)) unsupported(op, node.name, 'a product of two perturbed values is not supported');
    if (op === 'Div' && !isBound(x)) unsupported(op, node.name, 'division by a perturbed value is not supported');
    const bound = (isBound(x) ? x : y) as Bound;
    const k = weight(ctx, (isBound(x) ? y : x) as string);
    return scaleBound(ctx, bound, node.name, { dims: k.dims, data: op === 'Mul' ? k.data : k.data.map((v) => 1 / v) });
  };
}

export const mulRule = scaleRule('Mul');
export const divRule = scaleRule('Div');
