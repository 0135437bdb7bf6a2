import type { OpName } from '../../graph/ops/registry.ts';
import { absGrad, clipGrad, reluGrad } from './activation.ts';
import { addGrad, divGrad, mulGrad, subGrad } from './elementwise.ts';
import { batchNormGrad, convGrad, gemmGrad, matmulGrad } from './linear.ts';
import { averagePoolGrad, globalAveragePoolGrad, maxPoolGrad } from './pooling.ts';
import type { GradRule } from './rule.ts';
import { concatGrad, padGrad, reshapeGrad } from './structural.ts';

/**
 * The gradient rule of every IR operator, or null for one that cannot be trained (refused by name).
 * Exhaustive: a new operator does not compile until it has an entry here.
 */
export const GRAD_RULES: Record<OpName, GradRule | null> = {
  Conv: convGrad,
  // No zoo architecture has one (the IR has it for backward bounds); a model with one is refused by name.
  ConvTranspose: null,
  Gemm: gemmGrad,
  MatMul: matmulGrad,
  BatchNormalization: batchNormGrad,
  Add: addGrad,
  Sub: subGrad,
  Mul: mulGrad,
  Div: divGrad,
  Relu: reluGrad,
  Abs: absGrad,
  Clip: clipGrad,
  MaxPool: maxPoolGrad,
  AveragePool: averagePoolGrad,
  GlobalAveragePool: globalAveragePoolGrad,
  Flatten: reshapeGrad,
  Reshape: reshapeGrad,
  Identity: reshapeGrad,
  Concat: concatGrad,
  Pad: padGrad,
};
