import { LuxcertError } from '../../core/errors.ts';
import { sizeOf, type Tensor } from '../../core/tensor.ts';
import { floatAttr, intAttr } from '../attrs.ts';
import type { Attrs, Node } from '../graph.ts';
import type { OpDef } from '../op.ts';

/** Per-channel scale and shift equal to inference-mode BatchNormalization. */
export function batchNormAffine(node: Node, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor): { a: Float64Array; b: Float64Array } {
  const eps = floatAttr(node, 'epsilon', 1e-5);
  const c = scale.data.length;
  const a = new Float64Array(c);
  const b = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    // onnxruntime computes the inverse standard deviation in float32.
    a[i] = Math.fround(scale.data[i]! / Math.fround(Math.sqrt(Math.fround(variance.data[i]! + eps))));
    b[i] = bias.data[i]! - mean.data[i]! * a[i]!;
  }
  return { a, b };
}

/** Inference-mode batch normalisation over axis 1; folded into a preceding Conv/Gemm on import. */
export const BatchNormalization: OpDef = {
  op: 'BatchNormalization',
  fromOnnx({ node }) {
    if (intAttr(node, 'training_mode', 0) !== 0 || node.outputs.filter((o) => o !== '').length > 1) {
      throw new LuxcertError(`BatchNormalization node '${node.name}': training mode is not supported (export the model in eval mode)`);
    }
    const attrs: Attrs = node.attrs.epsilon === undefined ? {} : { epsilon: node.attrs.epsilon };
    return { ...node, outputs: [node.outputs[0]!], attrs };
  },
  inferShapes(node, [x, ...params]) {
    if (x!.length < 2) throw new LuxcertError(`BatchNormalization node '${node.name}': input must have a channel axis`);
    const c = x![1];
    for (const p of params) {
      if (p.length !== 1 || (typeof c === 'number' && p[0] !== c)) {
        throw new LuxcertError(`BatchNormalization node '${node.name}': parameter shape [${p}] does not match ${c} channels`);
      }
    }
    return [x!];
  },
  evaluate(node, [x, scale, bias, mean, variance]) {
    const { a, b } = batchNormAffine(node, scale!, bias!, mean!, variance!);
    const [n, c] = x!.dims as [number, number];
    const inner = sizeOf(x!.dims.slice(2));
    const out = new Float32Array(x!.data.length);
    for (let i = 0; i < n * c; i++) {
      const ch = i % c;
      for (let j = 0; j < inner; j++) out[i * inner + j] = x!.data[i * inner + j]! * a[ch]! + b[ch]!;
    }
    return [{ dims: [...x!.dims], data: out }];
  },
  flops: (_node, [x]) => 2 * sizeOf(x!),
};
