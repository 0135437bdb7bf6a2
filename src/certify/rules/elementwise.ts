import { unsupported } from '../emitter.ts';
import { isBound, weight, type BoundRule } from './rule.ts';

/** x + y: sum of bounds, or a constant added to the constant part. */
export const addRule: BoundRule = ({ em, node }, [x, y]) => {
  if (isBound(x) && isBound(y)) {
    const sum = (p: typeof x.lo, q: typeof y.lo) => ({ a: em.add(p.a, q.a), b: em.add(p.b, q.b), c: em.add(p.c, q.c) });
    const lo = sum(x.lo, y.lo);
    return { lo, hi: x.exact && y.exact ? lo : sum(x.hi, y.hi), exact: x.exact && y.exact, rank: Math.max(x.rank, y.rank) };
  }
  if (isBound(x)) return em.shift(x, y as string);
  if (isBound(y)) return em.shift(y, x as string);
  return unsupported('Add', node.name, 'no input depends on the perturbation');
};

/** x − y, including constant − bound. */
export const subRule: BoundRule = (ctx, [x, y]) => {
  const { em } = ctx;
  if (isBound(y)) return addRule(ctx, [x!, em.negate(y)]);
  return addRule(ctx, [x!, em.neg(y as string)]);
};

/** Multiplication or division by a constant: a linear map whose |W| is |k|. */
function scaleRule(op: 'Mul' | 'Div'): BoundRule {
  return (ctx, [x, y]) => {
    const { em, node } = ctx;
    if (isBound(x) && isBound(y)) unsupported(op, node.name, 'a product of two perturbed values is not supported');
    if (op === 'Div' && !isBound(x)) unsupported(op, node.name, 'division by a perturbed value is not supported');
    const bound = (isBound(x) ? x : y) as Exclude<typeof x, string | undefined>;
    const k = weight(ctx, (isBound(x) ? y : x) as string);
    const factor = op === 'Mul' ? k.data : k.data.map((v) => 1 / v);
    const kT = em.constant(`${node.name}.factor`, { dims: [...k.dims], data: Float32Array.from(factor) });
    const absK = em.constant(`${node.name}.abs_factor`, { dims: [...k.dims], data: Float32Array.from(factor, Math.abs) });
    return em.linear(bound, (t, abs) => em.mul(t, abs ? absK : kT));
  };
}

export const mulRule = scaleRule('Mul');
export const divRule = scaleRule('Div');
