import { sizeOf } from '../../core/tensor.ts';
import { LuxcertError } from '../../core/errors.ts';
import { floatAttr } from '../attrs.ts';
import type { Node } from '../graph.ts';
import type { OnnxConstInput, OpDef } from '../op.ts';

/** max(x, 0). */
export const Relu: OpDef = {
  op: 'Relu',
  inferShapes: (_node, [x]) => [x!],
  evaluate(_node, [x]) {
    const out = new Float32Array(x!.data.length);
    for (let i = 0; i < out.length; i++) out[i] = x!.data[i]! > 0 ? x!.data[i]! : 0;
    return [{ dims: [...x!.dims], data: out }];
  },
  flops: (_node, [x]) => sizeOf(x!),
};

/** |x|. */
export const Abs: OpDef = {
  op: 'Abs',
  inferShapes: (_node, [x]) => [x!],
  evaluate: (_node, [x]) => [{ dims: [...x!.dims], data: x!.data.map(Math.abs) }],
  flops: (_node, [x]) => sizeOf(x!),
};

/** Passes its input through; removed on import, kept evaluable for raw graphs. */
export const Identity: OpDef = {
  op: 'Identity',
  inferShapes: (_node, [x]) => [x!],
  evaluate: (_node, [x]) => [{ dims: [...x!.dims], data: x!.data.slice() }],
  flops: () => 0,
};

function clipBound(node: Node, value: number[] | undefined, which: string): number | undefined {
  if (value === undefined) return undefined;
  if (value.length !== 1) throw new LuxcertError(`Clip node '${node.name}': ${which} must be a scalar`);
  return value[0];
}

/** min(max(x, min), max); an absent bound is unbounded. The bounds are IR attributes. */
export const Clip: OpDef = {
  op: 'Clip',
  fromOnnx({ node, opset, constant }) {
    const attrs: Record<string, number> = {};
    if (opset < 11) {
      if (node.attrs.min !== undefined) attrs.min = node.attrs.min as number;
      if (node.attrs.max !== undefined) attrs.max = node.attrs.max as number;
    } else {
      for (const [i, key] of [[1, 'min'], [2, 'max']] as const) {
        const name = node.inputs[i];
        if (!name) continue;
        const v = clipBound(node, constant(name), key);
        if (v === undefined) throw new LuxcertError(`Clip node '${node.name}': ${key} must be a constant`);
        attrs[key] = v;
      }
    }
    return { ...node, inputs: [node.inputs[0]!], attrs };
  },
  toOnnx(node) {
    const inputs: (string | OnnxConstInput)[] = [node.inputs[0]!];
    const min = node.attrs.min as number | undefined;
    const max = node.attrs.max as number | undefined;
    inputs.push(min === undefined ? '' : { suffix: 'min', dtype: 'float32', dims: [], values: [min] });
    if (max !== undefined) inputs.push({ suffix: 'max', dtype: 'float32', dims: [], values: [max] });
    return { inputs, attrs: {} };
  },
  inferShapes: (_node, [x]) => [x!],
  evaluate(node, [x]) {
    const lo = Math.fround(floatAttr(node, 'min', -Infinity));
    const hi = Math.fround(floatAttr(node, 'max', Infinity));
    const out = new Float32Array(x!.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(x!.data[i]!, lo), hi);
    return [{ dims: [...x!.dims], data: out }];
  },
  flops: (_node, [x]) => 2 * sizeOf(x!),
};
