import type { OnnxEmitter } from '../../onnx/emit.ts';
import type { GradRule } from './rule.ts';

/** A 0/1 float mask of `v > 0` (Cast of Greater: 2.7× faster than Sign in onnxruntime). */
const positive = (e: OnnxEmitter, v: string) => e.op('Cast', [e.op('Greater', [v, e.scalar(0)])], { to: 1 });

/** Relu: the gradient passes where the output is positive. */
export const reluGrad: GradRule = {
  backward: ({ e }, f, dy) => [e.op('Mul', [dy, positive(e, f.out)])],
};

/** Abs: the gradient is multiplied by the input's sign. */
export const absGrad: GradRule = {
  backward: ({ e, ins }, _f, dy) => [e.op('Mul', [dy, e.op('Sign', [ins[0]!])])],
};

/** Clip: the gradient passes where the clip left the value unchanged. */
export const clipGrad: GradRule = {
  backward: ({ e, ins }, f, dy) => [e.op('Mul', [dy, e.op('Cast', [e.op('Equal', [f.out, ins[0]!])], { to: 1 })])],
};
