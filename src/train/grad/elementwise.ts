import { unbroadcast, type GradRule } from './rule.ts';

/** Add: the gradient reaches both operands, summed over the axes each was broadcast along. */
export const addGrad: GradRule = {
  backward: ({ e, inShapes, outShape }, _f, dy, needs) => inShapes.map((s, i) => (needs[i] ? unbroadcast(e, dy, outShape, s) : undefined)),
};

/** Sub: as Add, negated for the subtrahend. */
export const subGrad: GradRule = {
  backward: ({ e, inShapes, outShape }, _f, dy, needs) => [
    needs[0] ? unbroadcast(e, dy, outShape, inShapes[0]!) : undefined,
    needs[1] ? unbroadcast(e, e.op('Neg', [dy]), outShape, inShapes[1]!) : undefined,
  ],
};

/** Mul: each operand's gradient is the output's times the other operand. */
export const mulGrad: GradRule = {
  backward: ({ e, ins, inShapes, outShape }, _f, dy, needs) => [
    needs[0] ? unbroadcast(e, e.op('Mul', [dy, ins[1]!]), outShape, inShapes[0]!) : undefined,
    needs[1] ? unbroadcast(e, e.op('Mul', [dy, ins[0]!]), outShape, inShapes[1]!) : undefined,
  ],
};

/** Div: d(a/b) = da/b − a·db/b². */
export const divGrad: GradRule = {
  backward: ({ e, ins, inShapes, outShape }, f, dy, needs) => {
    const q = needs[0] || needs[1] ? e.op('Div', [dy, ins[1]!]) : '';
    return [
      needs[0] ? unbroadcast(e, q, outShape, inShapes[0]!) : undefined,
      needs[1] ? unbroadcast(e, e.op('Neg', [e.op('Mul', [q, f.out])]), outShape, inShapes[1]!) : undefined,
    ];
  },
};
