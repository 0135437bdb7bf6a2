import { LuxcertError } from '../../core/errors.ts';
import { sizeOf, stridesOf, type Dim } from '../../core/tensor.ts';
import { floatAttr, intAttr, intsAttr, stringAttr } from '../attrs.ts';
import type { Attrs, Node } from '../graph.ts';
import type { OnnxConstInput, OpDef } from '../op.ts';
import { productDim } from './spatial.ts';

function normaliseAxis(node: Node, axis: number, rank: number, allowEnd = false): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a > rank || (a === rank && !allowEnd)) throw new LuxcertError(`${node.op} node '${node.name}': axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Copies `x` into a view of the same data with new dims. */
const reshaped = (x: { data: Float32Array }, dims: number[]) => ({ dims, data: x.data.slice() });

/** Constant padding; pads and value are IR attributes (ONNX ≥ 11 passes them as inputs). */
export const Pad: OpDef = {
  op: 'Pad',
  fromOnnx({ node, opset, constant }) {
    const mode = stringAttr(node, 'mode', 'constant');
    if (mode !== 'constant') throw new LuxcertError(`Pad node '${node.name}': only constant mode is supported, got '${mode}'`);
    let pads: number[] | undefined;
    let value = 0;
    if (opset < 11) {
      pads = intsAttr(node, 'pads', []);
      value = floatAttr(node, 'value', 0);
    } else {
      if (node.inputs[3]) throw new LuxcertError(`Pad node '${node.name}': the axes input is not supported`);
      pads = constant(node.inputs[1] ?? '');
      if (!pads) throw new LuxcertError(`Pad node '${node.name}': pads must be a constant`);
      if (node.inputs[2]) {
        const v = constant(node.inputs[2]);
        if (!v || v.length !== 1) throw new LuxcertError(`Pad node '${node.name}': constant_value must be a constant scalar`);
        value = v[0]!;
      }
    }
    const attrs: Attrs = value === 0 ? { pads } : { pads, value };
    return { ...node, inputs: [node.inputs[0]!], attrs };
  },
  toOnnx(node) {
    const pads = intsAttr(node, 'pads', []);
    const inputs: (string | OnnxConstInput)[] = [node.inputs[0]!, { suffix: 'pads', dtype: 'int64', dims: [pads.length], values: pads }];
    if (node.attrs.value !== undefined) inputs.push({ suffix: 'value', dtype: 'float32', dims: [], values: [node.attrs.value as number] });
    return { inputs, attrs: { mode: 'constant' } };
  },
  inferShapes(node, [x]) {
    const pads = intsAttr(node, 'pads', []);
    const r = x!.length;
    if (pads.length !== 2 * r) throw new LuxcertError(`Pad node '${node.name}': pads has ${pads.length} values, input rank ${r} needs ${2 * r}`);
    return [
      x!.map((d, i) => {
        const extra = pads[i]! + pads[i + r]!;
        if (typeof d === 'string') {
          if (extra !== 0) throw new LuxcertError(`Pad node '${node.name}': cannot pad dynamic dimension ${d}`);
          return d;
        }
        if (d + extra < 0) throw new LuxcertError(`Pad node '${node.name}': pads [${pads}] remove more than dimension ${i} holds`);
        return d + extra;
      }),
    ];
  },
  evaluate(node, [x]) {
    const pads = intsAttr(node, 'pads', []);
    const value = Math.fround(floatAttr(node, 'value', 0));
    const r = x!.dims.length;
    const outDims = x!.dims.map((d, i) => d + pads[i]! + pads[i + r]!);
    const inStrides = stridesOf(x!.dims);
    const out = new Float32Array(sizeOf(outDims));
    const idx = new Array<number>(r).fill(0);
    for (let o = 0; o < out.length; o++) {
      let src = 0;
      for (let d = 0; d < r && src >= 0; d++) {
        const i = idx[d]! - pads[d]!;
        src = i < 0 || i >= x!.dims[d]! ? -1 : src + i * inStrides[d]!;
      }
      out[o] = src >= 0 ? x!.data[src]! : value;
      for (let d = r - 1; d >= 0; d--) {
        if (++idx[d]! < outDims[d]!) break;
        idx[d] = 0;
      }
    }
    return [{ dims: outDims, data: out }];
  },
  flops: () => 0,
};

/** Reshape to 2-D around `axis`. */
export const Flatten: OpDef = {
  op: 'Flatten',
  inferShapes(node, [x]) {
    const axis = normaliseAxis(node, intAttr(node, 'axis', 1), x!.length, true);
    return [[productDim(node, x!.slice(0, axis)), productDim(node, x!.slice(axis))]];
  },
  evaluate(node, [x]) {
    const axis = normaliseAxis(node, intAttr(node, 'axis', 1), x!.dims.length, true);
    return [reshaped(x!, [sizeOf(x!.dims.slice(0, axis)), sizeOf(x!.dims.slice(axis))])];
  },
  flops: () => 0,
};

/** Output dims of Reshape: 0 copies the input dim (unless allowzero), −1 takes the rest. */
function reshapeDims(node: Node, x: Dim[]): Dim[] {
  const target = intsAttr(node, 'shape', []);
  const allowZero = intAttr(node, 'allowzero', 0) === 1;
  const out: Dim[] = target.map((t, i) => {
    if (t === 0 && !allowZero) {
      if (i >= x.length) throw new LuxcertError(`Reshape node '${node.name}': shape [${target}] copies dimension ${i} the input lacks`);
      return x[i]!;
    }
    return t;
  });
  const free = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1) throw new LuxcertError(`Reshape node '${node.name}': shape [${target}] has more than one -1`);
  // Symbolic dims that appear on both sides cancel out of the element count.
  const inSym = x.filter((d): d is string => typeof d === 'string');
  const outSym = out.filter((d): d is string => typeof d === 'string');
  const leftover = inSym.filter((d) => { const j = outSym.indexOf(d); if (j >= 0) { outSym.splice(j, 1); return false; } return true; });
  const inKnown = sizeOf(x.filter((d): d is number => typeof d === 'number'));
  const outKnown = sizeOf(out.filter((d): d is number => typeof d === 'number' && d !== -1));
  if (outSym.length > 0 || leftover.length > 1 || (leftover.length === 1 && free < 0)) {
    throw new LuxcertError(`Reshape node '${node.name}': cannot reshape [${x}] to [${target}] with a dynamic dimension`);
  }
  if (free >= 0) {
    if (outKnown === 0 || inKnown % outKnown !== 0) throw new LuxcertError(`Reshape node '${node.name}': cannot reshape [${x}] to [${target}]`);
    const rest = inKnown / outKnown;
    if (leftover.length === 1) {
      if (rest !== 1) throw new LuxcertError(`Reshape node '${node.name}': cannot reshape [${x}] to [${target}] with a dynamic dimension`);
      out[free] = leftover[0]!;
    } else out[free] = rest;
  } else if (inKnown !== outKnown) {
    throw new LuxcertError(`Reshape node '${node.name}': cannot reshape [${x}] (${inKnown} elements) to [${target}]`);
  }
  return out;
}

/** Reshape to a constant target shape (an IR attribute; an input in ONNX). */
export const Reshape: OpDef = {
  op: 'Reshape',
  fromOnnx({ node, constant }) {
    const shape = constant(node.inputs[1] ?? '');
    if (!shape) throw new LuxcertError(`Reshape node '${node.name}': the target shape must be a constant`);
    const allowzero = intAttr(node, 'allowzero', 0);
    const attrs: Attrs = allowzero ? { shape, allowzero } : { shape };
    return { ...node, inputs: [node.inputs[0]!], attrs };
  },
  toOnnx(node) {
    const shape = intsAttr(node, 'shape', []);
    const attrs: Attrs = node.attrs.allowzero ? { allowzero: node.attrs.allowzero } : {};
    return { inputs: [node.inputs[0]!, { suffix: 'shape', dtype: 'int64', dims: [shape.length], values: shape }], attrs };
  },
  inferShapes: (node, [x]) => [reshapeDims(node, x!)],
  evaluate: (node, [x]) => [reshaped(x!, reshapeDims(node, x!.dims) as number[])],
  flops: () => 0,
};

/** Concatenation along `axis`. */
export const Concat: OpDef = {
  op: 'Concat',
  inferShapes(node, inputs) {
    const rank = inputs[0]!.length;
    const axis = normaliseAxis(node, intAttr(node, 'axis', 0), rank);
    const out = [...inputs[0]!];
    for (const s of inputs.slice(1)) {
      if (s.length !== rank) throw new LuxcertError(`Concat node '${node.name}': inputs have ranks ${rank} and ${s.length}`);
      s.forEach((d, i) => {
        if (i === axis) return;
        if (typeof d === 'number' && typeof out[i] === 'number' && d !== out[i]) {
          throw new LuxcertError(`Concat node '${node.name}': shapes [${inputs[0]}] and [${s}] differ outside axis ${axis}`);
        }
      });
    }
    let total = 0;
    for (const s of inputs) {
      const d = s[axis]!;
      if (typeof d === 'string') throw new LuxcertError(`Concat node '${node.name}': cannot concatenate along dynamic axis ${axis}`);
      total += d;
    }
    out[axis] = total;
    return [out];
  },
  evaluate(node, inputs) {
    const rank = inputs[0]!.dims.length;
    const axis = normaliseAxis(node, intAttr(node, 'axis', 0), rank);
    const outDims = [...inputs[0]!.dims];
    outDims[axis] = inputs.reduce((acc, t) => acc + t.dims[axis]!, 0);
    const outer = sizeOf(outDims.slice(0, axis));
    const out = new Float32Array(sizeOf(outDims));
    let o = 0;
    for (let i = 0; i < outer; i++) {
      for (const t of inputs) {
        const block = sizeOf(t.dims.slice(axis));
        out.set(t.data.subarray(i * block, (i + 1) * block), o);
        o += block;
      }
    }
    return [{ dims: outDims, data: out }];
  },
  flops: () => 0,
};
