import { intAttr, intsAttr } from '../../graph/attrs.ts';
import { window2d, type Window2d } from '../../graph/ops/spatial.ts';
import type { GradContext, GradRule } from './rule.ts';

const windowOf = ({ node, inShapes }: GradContext): Window2d => window2d(node, inShapes[0]![2]!, inShapes[0]![3]!, intsAttr(node, 'kernel_shape', []));

/**
 * MaxPool: each output's gradient goes to the input element it took (onnxruntime's Indices, which
 * ignore padding), summed where windows overlap.
 */
export const maxPoolGrad: GradRule = {
  forward: ({ e, node, ins }) => {
    const [out, indices] = e.irNodeOutputs(node, ins, 2);
    return { out: out!, saved: { indices: indices! } };
  },
  backward({ e, inShapes }, f, dy) {
    const size = inShapes[0]!.reduce((p, d) => p * d, 1);
    const zeros = e.op('ConstantOfShape', [e.ints([size])]);
    const flat = e.op('ScatterElements', [zeros, e.op('Reshape', [f.saved!.indices!, e.ints([-1])]), e.op('Reshape', [dy, e.ints([-1])])], { axis: 0, reduction: 'add' });
    return [e.op('Reshape', [flat, e.ints(inShapes[0]!)])];
  },
};

/** The divisor of each output of an AveragePool: the window's positions inside the input, or inside the padded input. */
function divisors(win: Window2d, h: number, w: number, includePad: boolean): Float32Array {
  const count = (o: number, axis: 0 | 1) => {
    const [size, before, after] = axis === 0 ? [h, win.pads[0], win.pads[2]] : [w, win.pads[1], win.pads[3]];
    const [lo, hi] = includePad ? [-before, size + after] : [0, size];
    let c = 0;
    for (let k = 0; k < win.kernel[axis]; k++) {
      const p = o * win.strides[axis] - before + k * win.dilations[axis];
      if (p >= lo && p < hi) c++;
    }
    return c;
  };
  const d = new Float32Array(win.outH * win.outW);
  for (let y = 0; y < win.outH; y++) for (let x = 0; x < win.outW; x++) d[y * win.outW + x] = count(y, 0) * count(x, 1);
  return d;
}

/**
 * AveragePool: each output's gradient, over its divisor, spreads over its window (a ConvTranspose
 * with a kernel of ones per channel over the padded input, then the input's part of it).
 */
export const averagePoolGrad: GradRule = {
  backward(ctx, _f, dy) {
    const { e, node, inShapes } = ctx;
    const win = windowOf(ctx);
    const [n, c, h, w] = inShapes[0]! as [number, number, number, number];
    const { kernel: [kh, kw], strides, dilations, pads } = win;
    const perWindow = e.op('Div', [dy, e.tensor('avgpool.divisors', { dims: [1, 1, win.outH, win.outW], data: divisors(win, h, w, intAttr(node, 'count_include_pad', 0) === 1) })]);
    const ones = e.tensor('avgpool.ones', { dims: [1, 1, kh, kw], data: new Float32Array(kh * kw).fill(1) });
    let full = e.op('ConvTranspose', [e.op('Reshape', [perWindow, e.ints([n * c, 1, win.outH, win.outW])]), ones], { kernel_shape: [kh, kw], strides, dilations });
    // The full map covers the padded input from its top-left corner; windows may stop short of its end.
    const reach = [strides[0] * (win.outH - 1) + dilations[0] * (kh - 1) + 1, strides[1] * (win.outW - 1) + dilations[1] * (kw - 1) + 1];
    const short = [Math.max(0, pads[0] + h - reach[0]!), Math.max(0, pads[1] + w - reach[1]!)];
    if (short[0]! > 0 || short[1]! > 0) full = e.op('Pad', [full, e.ints([0, 0, 0, 0, 0, 0, short[0]!, short[1]!])]);
    const dx = e.op('Slice', [full, e.ints([pads[0], pads[1]]), e.ints([pads[0] + h, pads[1] + w]), e.ints([2, 3])]);
    return [e.op('Reshape', [dx, e.ints(inShapes[0]!)])];
  },
};

/** GlobalAveragePool: the gradient spreads evenly over each channel's map. */
export const globalAveragePoolGrad: GradRule = {
  backward({ e, inShapes }, _f, dy) {
    const [, , h, w] = inShapes[0]!;
    return [e.op('Expand', [e.op('Div', [dy, e.scalar(h! * w!)]), e.ints(inShapes[0]!)])];
  },
};
