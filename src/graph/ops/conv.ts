import { LuxcertError } from '../../core/errors.ts';
import { sizeOf } from '../../core/tensor.ts';
import { intAttr, intsAttr } from '../attrs.ts';
import type { Node } from '../graph.ts';
import type { OpDef } from '../op.ts';
import { nchw, window2d } from './spatial.ts';

function kernelOf(node: Node, weight: number[]): number[] {
  return intsAttr(node, 'kernel_shape', weight.slice(2));
}

/** 2-D convolution with groups, strides, pads and dilations; inputs X, W and optional B. */
export const Conv: OpDef = {
  op: 'Conv',
  inferShapes(node, [x, w, b]) {
    const [n, c, h, wd] = nchw(node, x!);
    if (w!.length !== 4 || !w!.every((d) => typeof d === 'number')) {
      throw new LuxcertError(`Conv node '${node.name}': weight must be a static 4-D tensor, got [${w}]`);
    }
    const [m, cg] = w as number[];
    const group = intAttr(node, 'group', 1);
    if (typeof c === 'number' && c !== cg! * group) {
      throw new LuxcertError(`Conv node '${node.name}': input has ${c} channels but weight expects ${cg! * group} (${cg}×group ${group})`);
    }
    if (m! % group !== 0) throw new LuxcertError(`Conv node '${node.name}': ${m} output channels not divisible by group ${group}`);
    if (b && (b.length !== 1 || b[0] !== m)) throw new LuxcertError(`Conv node '${node.name}': bias shape [${b}] does not match ${m} output channels`);
    const win = window2d(node, h, wd, kernelOf(node, w as number[]));
    return [[n, m!, win.outH, win.outW]];
  },
  evaluate(node, [x, w, b]) {
    const [N, C, H, W] = x!.dims as [number, number, number, number];
    const [M, Cg, KH, KW] = w!.dims as [number, number, number, number];
    const group = intAttr(node, 'group', 1);
    const win = window2d(node, H, W, kernelOf(node, w!.dims));
    const { outH: OH, outW: OW } = win;
    const [sh, sw] = win.strides;
    const [dh, dw] = win.dilations;
    const [pt, pl] = win.pads;
    const Mg = M / group;
    const xd = x!.data;
    const wdata = w!.data;
    const out = new Float32Array(N * M * OH * OW);
    for (let n = 0; n < N; n++) {
      for (let m = 0; m < M; m++) {
        const c0 = Math.floor(m / Mg) * Cg;
        const bias = b ? b.data[m]! : 0;
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            let acc = bias;
            for (let c = 0; c < Cg; c++) {
              const xBase = (n * C + c0 + c) * H;
              const wBase = (m * Cg + c) * KH;
              for (let kh = 0; kh < KH; kh++) {
                const ih = oh * sh - pt + kh * dh;
                if (ih < 0 || ih >= H) continue;
                for (let kw = 0; kw < KW; kw++) {
                  const iw = ow * sw - pl + kw * dw;
                  if (iw < 0 || iw >= W) continue;
                  acc += xd[(xBase + ih) * W + iw]! * wdata[(wBase + kh) * KW + kw]!;
                }
              }
            }
            out[((n * M + m) * OH + oh) * OW + ow] = acc;
          }
        }
      }
    }
    return [{ dims: [N, M, OH, OW], data: out }];
  },
  flops(_node, [, w, b], [y]) {
    const perOutput = 2 * sizeOf(w!.slice(1)) + (b ? 1 : 0);
    return perOutput * sizeOf(y!);
  },
};

