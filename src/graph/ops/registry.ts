import type { OpDef } from '../op.ts';
import { BatchNormalization } from './batchnorm.ts';
import { Add, Div, Mul, Sub } from './binary.ts';
import { Conv, ConvTranspose } from './conv.ts';
import { Gemm } from './gemm.ts';
import { MatMul } from './matmul.ts';
import { AveragePool, GlobalAveragePool, MaxPool } from './pool.ts';
import { Concat, Flatten, Pad, Reshape } from './shape.ts';
import { Abs, Clip, Identity, Relu } from './unary.ts';

/**
 * Every operator of the IR. Tables keyed by `OpName` in later stages (bound rules, …) are
 * `Record<OpName, …>`, so the compiler lists what a new operator still lacks there.
 */
export const OP_NAMES = [
  'Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Relu', 'Abs', 'BatchNormalization', 'MaxPool', 'AveragePool',
  'GlobalAveragePool', 'Pad', 'Flatten', 'Reshape', 'Clip', 'Identity', 'Concat',
] as const;

/** The name of an IR operator. */
export type OpName = (typeof OP_NAMES)[number];

const DEFS: Record<OpName, OpDef> = {
  Conv, ConvTranspose, Gemm, MatMul, Add, Sub, Mul, Div, Relu, Abs, BatchNormalization, MaxPool, AveragePool,
  GlobalAveragePool, Pad, Flatten, Reshape, Clip, Identity, Concat,
};

/** Every operator the IR supports, by ONNX op type (Constant is turned into initializers on import). */
export const OPS: ReadonlyMap<string, OpDef> = new Map(OP_NAMES.map((n) => [n, DEFS[n]]));

/** Whether an operator type is one of the IR's. */
export const isOpName = (op: string): op is OpName => OPS.has(op);

/** Operator types luxcert reads from ONNX, including those resolved on import. */
export const SUPPORTED_ONNX_OPS: readonly string[] = [...OPS.keys(), 'Constant'].sort();
