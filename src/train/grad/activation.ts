import type { GradRule } from './rule.ts';

/** Relu: the gradient passes where the output is positive (Sign of a ReLU output is that mask). */
export const reluGrad: GradRule = {
  backward: ({ e }, f, dy) => [e.op('Mul', [dy, e.op('Sign', [f.out])])],
};

/** Abs: the gradient is multiplied by the input's sign. */
export const absGrad: GradRule = {
  backward: ({ e, ins }, _f, dy) => [e.op('Mul', [dy, e.op('Sign', [ins[0]!])])],
};

/** Clip: the gradient passes where the clip left the value unchanged. */
export const clipGrad: GradRule = {
  backward: ({ e, ins }, f, dy) => [e.op('Mul', [dy, e.op('Cast', [e.op('Equal', [f.out, ins[0]!])], { to: 1 })])],
};
