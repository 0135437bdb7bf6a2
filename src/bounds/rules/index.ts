import { absRule, clipRule, reluRule } from './activation.ts';
import { addRule, divRule, mulRule, subRule } from './elementwise.ts';
import { batchNormRule, convRule, gemmRule, matmulRule } from './linear.ts';
import { averagePoolRule, maxPoolRule } from './pooling.ts';
import type { OpName } from '../../graph/ops/registry.ts';
import type { BoundRule } from './rule.ts';
import { concatRule, padRule, reshapeLikeRule } from './structural.ts';

/** The bound rule of every IR operator (exhaustive: a new operator does not compile without one). */
export const RULES: Record<OpName, BoundRule> = {
  Conv: convRule,
  ConvTranspose: convRule,
  Gemm: gemmRule,
  MatMul: matmulRule,
  BatchNormalization: batchNormRule,
  Add: addRule,
  Sub: subRule,
  Mul: mulRule,
  Div: divRule,
  Relu: reluRule,
  Abs: absRule,
  Clip: clipRule,
  MaxPool: maxPoolRule,
  AveragePool: averagePoolRule,
  GlobalAveragePool: averagePoolRule,
  Flatten: reshapeLikeRule,
  Reshape: reshapeLikeRule,
  Identity: reshapeLikeRule,
  Concat: concatRule,
  Pad: padRule,
};
