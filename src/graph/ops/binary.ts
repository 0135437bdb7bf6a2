import { broadcastIndex, broadcastShapes } from '../../core/broadcast.ts';
import { sizeOf } from '../../core/tensor.ts';
import type { OpDef } from '../op.ts';

function elementwise(op: string, f: (a: number, b: number) => number): OpDef {
  return {
    op,
    inferShapes(node, [a, b]) {
      return [broadcastShapes(a!, b!, `${op} node '${node.name}'`)];
    },
    evaluate(node, [a, b]) {
      const dims = broadcastShapes(a!.dims, b!.dims, `${op} node '${node.name}'`) as number[];
      const ai = broadcastIndex(a!.dims, dims);
      const bi = broadcastIndex(b!.dims, dims);
      const out = new Float32Array(sizeOf(dims));
      for (let i = 0; i < out.length; i++) out[i] = f(a!.data[ai[i]!]!, b!.data[bi[i]!]!);
      return [{ dims, data: out }];
    },
    flops: (_node, _inputs, [y]) => sizeOf(y!),
  };
}

/** Elementwise a + b with broadcasting (residual additions, biases). */
export const Add = elementwise('Add', (a, b) => a + b);
/** Elementwise a − b with broadcasting (mean subtraction). */
export const Sub = elementwise('Sub', (a, b) => a - b);
/** Elementwise a · b with broadcasting (scaling). */
export const Mul = elementwise('Mul', (a, b) => a * b);
/** Elementwise a / b with broadcasting (std division); float32 division like onnxruntime. */
export const Div = elementwise('Div', (a, b) => Math.fround(a) / Math.fround(b));
