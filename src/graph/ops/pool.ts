import { LuxcertError } from '../../core/errors.ts';
import { sizeOf, type Tensor } from '../../core/tensor.ts';
import { intAttr, intsAttr } from '../attrs.ts';
import type { Node } from '../graph.ts';
import type { OpDef } from '../op.ts';
import { nchw, productDim, window2d, type Window2d } from './spatial.ts';

function kernelOf(node: Node): number[] {
  const k = intsAttr(node, 'kernel_shape', []);
  if (k.length === 0) throw new LuxcertError(`${node.op} node '${node.name}': kernel_shape is required`);
  return k;
}

/** Runs `reduce` over every pooling window; it gets the in-image values and the window's size. */
function pool(x: Tensor, win: Window2d, reduce: (values: number[], padded: number) => number): Tensor {
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const { outH: OH, outW: OW } = win;
  const out = new Float32Array(N * C * OH * OW);
  const values: number[] = [];
  for (let nc = 0; nc < N * C; nc++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        values.length = 0;
        let padded = 0;
        for (let kh = 0; kh < win.kernel[0]; kh++) {
          const ih = oh * win.strides[0] - win.pads[0] + kh * win.dilations[0];
          for (let kw = 0; kw < win.kernel[1]; kw++) {
            const iw = ow * win.strides[1] - win.pads[1] + kw * win.dilations[1];
            // Positions inside the padded input count for count_include_pad; beyond it (ceil_mode) never.
            if (ih < H + win.pads[2] && iw < W + win.pads[3]) padded++;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) values.push(x.data[(nc * H + ih) * W + iw]!);
          }
        }
        out[(nc * OH + oh) * OW + ow] = reduce(values, padded);
      }
    }
  }
  return { dims: [N, C, OH, OW], data: out };
}

function poolShapes(node: Node, x: (string | number)[]) {
  const [n, c, h, w] = nchw(node, x);
  const win = window2d(node, h, w, kernelOf(node));
  return [[n, c, win.outH, win.outW]];
}

/** Max over each window; padding never wins. */
export const MaxPool: OpDef = {
  op: 'MaxPool',
  fromOnnx({ node }) {
    if (node.outputs.filter((o) => o !== '').length > 1) throw new LuxcertError(`MaxPool node '${node.name}': the Indices output is not supported`);
    const { storage_order: _ignored, ...attrs } = node.attrs;
    return { ...node, outputs: [node.outputs[0]!], attrs };
  },
  inferShapes: (node, [x]) => poolShapes(node, x!),
  evaluate(node, [x]) {
    const win = window2d(node, x!.dims[2]!, x!.dims[3]!, kernelOf(node));
    return [pool(x!, win, (v) => (v.length === 0 ? -Infinity : Math.max(...v)))];
  },
  flops: (node, _inputs, [y]) => sizeOf(y!) * sizeOf(kernelOf(node)),
};

/** Mean over each window; count_include_pad decides whether padding counts in the divisor. */
export const AveragePool: OpDef = {
  op: 'AveragePool',
  inferShapes: (node, [x]) => poolShapes(node, x!),
  evaluate(node, [x]) {
    const win = window2d(node, x!.dims[2]!, x!.dims[3]!, kernelOf(node));
    const includePad = intAttr(node, 'count_include_pad', 0) === 1;
    return [
      pool(x!, win, (v, padded) => {
        let s = 0;
        for (const e of v) s += e;
        return s / (includePad ? padded : v.length);
      }),
    ];
  },
  flops: (node, _inputs, [y]) => sizeOf(y!) * sizeOf(kernelOf(node)),
};

/** Mean over all spatial positions, keeping 1×1. */
export const GlobalAveragePool: OpDef = {
  op: 'GlobalAveragePool',
  inferShapes(node, [x]) {
    if (x!.length < 3) throw new LuxcertError(`GlobalAveragePool node '${node.name}': expects rank ≥ 3, got [${x}]`);
    productDim(node, x!.slice(2));
    return [[x![0]!, x![1]!, ...x!.slice(2).map(() => 1)]];
  },
  evaluate(_node, [x]) {
    const [n, c] = x!.dims as [number, number];
    const inner = sizeOf(x!.dims.slice(2));
    const out = new Float32Array(n * c);
    for (let i = 0; i < n * c; i++) {
      let s = 0;
      for (let j = 0; j < inner; j++) s += x!.data[i * inner + j]!;
      out[i] = s / inner;
    }
    return [{ dims: [n, c, ...x!.dims.slice(2).map(() => 1)], data: out }];
  },
  flops: (_node, [x]) => sizeOf(x!),
};
