import { LuxcertError } from '../../core/errors.ts';
import { intAttr, intsAttr } from '../../graph/attrs.ts';
import { window2d } from '../../graph/ops/spatial.ts';
import type { GradContext, GradRule } from './rule.ts';

function plainWindow({ node, inShapes }: GradContext) {
  const [, , h, w] = inShapes[0]!;
  const win = window2d(node, h!, w!, intsAttr(node, 'kernel_shape', []));
  if (win.pads.some((p) => p !== 0) || intAttr(node, 'ceil_mode', 0) !== 0 || win.dilations.some((d) => d !== 1)) {
    throw new LuxcertError(`${node.op} node '${node.name}': only unpadded, undilated pooling without ceil_mode can be trained`);
  }
  return win;
}

/** MaxPool: each output's gradient goes to the input element it took (onnxruntime's Indices), summed where windows overlap. */
export const maxPoolGrad: GradRule = {
  forward(ctx) {
    plainWindow(ctx);
    const { e, node, ins } = ctx;
    const [out, indices] = e.node('MaxPool', [ins[0]!], { kernel_shape: intsAttr(node, 'kernel_shape', []), strides: intsAttr(node, 'strides', [1, 1]) }, 2);
    return { out: out!, saved: { indices: indices! } };
  },
  backward({ e, inShapes }, f, dy) {
    const size = inShapes[0]!.reduce((p, d) => p * d, 1);
    const zeros = e.op('ConstantOfShape', [e.ints([size])]);
    const flat = e.op('ScatterElements', [zeros, e.op('Reshape', [f.saved!.indices!, e.ints([-1])]), e.op('Reshape', [dy, e.ints([-1])])], { axis: 0, reduction: 'add' });
    return [e.op('Reshape', [flat, e.ints(inShapes[0]!)])];
  },
};

/** AveragePool: each output's gradient spreads evenly over its window (a ConvTranspose per channel). */
export const averagePoolGrad: GradRule = {
  backward(ctx, _f, dy) {
    const { e, inShapes, outShape } = ctx;
    const { kernel: [kh, kw], strides: [sh, sw] } = plainWindow(ctx);
    const [n, c, h, w] = inShapes[0]!;
    const [, , ho, wo] = outShape;
    const spread = e.tensor('avgpool.spread', { dims: [1, 1, kh, kw], data: new Float32Array(kh * kw).fill(1 / (kh * kw)) });
    const perChannel = e.op('Reshape', [dy, e.ints([n! * c!, 1, ho!, wo!])]);
    const outputPadding = [h! - (sh * (ho! - 1) + kh), w! - (sw * (wo! - 1) + kw)];
    const dx = e.op('ConvTranspose', [perChannel, spread], { kernel_shape: [kh, kw], strides: [sh, sw], output_padding: outputPadding });
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
