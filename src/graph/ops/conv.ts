import { LuxcertError } from '../../core/errors.ts';
import { sizeOf } from '../../core/tensor.ts';
import { intAttr, intsAttr, stringAttr } from '../attrs.ts';
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


/** Geometry of a 2-D ConvTranspose node (explicit pads and output_padding; no auto_pad, no output_shape). */
function transposeWindow(node: Node, h: number, w: number, weight: number[]): { kernel: number[]; strides: number[]; dilations: number[]; pads: number[]; outH: number; outW: number } {
  const kernel = kernelOf(node, weight);
  const strides = intsAttr(node, 'strides', [1, 1]);
  const dilations = intsAttr(node, 'dilations', [1, 1]);
  const pads = intsAttr(node, 'pads', [0, 0, 0, 0]);
  const outPad = intsAttr(node, 'output_padding', [0, 0]);
  const bad = (what: string) => new LuxcertError(`ConvTranspose node '${node.name}': ${what}`);
  if (kernel.length !== 2 || strides.length !== 2 || dilations.length !== 2 || pads.length !== 4 || outPad.length !== 2) throw bad('only 2-D kernels, strides, dilations, pads and output_padding are supported');
  if (stringAttr(node, 'auto_pad', 'NOTSET') !== 'NOTSET' || node.attrs.output_shape !== undefined) throw bad('auto_pad and output_shape are not supported (give pads and output_padding)');
  if (![...strides, ...dilations].every((v) => Number.isInteger(v) && v >= 1) || !pads.every((v) => Number.isInteger(v) && v >= 0)) throw bad('strides and dilations must be ≥ 1, pads ≥ 0');
  if (!outPad.every((p, i) => Number.isInteger(p) && p >= 0 && p < Math.max(strides[i]!, dilations[i]!))) throw bad(`output_padding [${outPad}] must be smaller than the stride or the dilation`);
  const size = (i: number, n: number) => strides[i]! * (n - 1) + outPad[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + 2]!;
  const outH = size(0, h);
  const outW = size(1, w);
  if (outH < 1 || outW < 1) throw bad(`output would be ${outH}×${outW}`);
  return { kernel, strides, dilations, pads, outH, outW };
}

/**
 * 2-D transposed convolution (the adjoint of Conv with the same weight, strides, pads, dilations
 * and groups); inputs X [N, C, H, W], W [C, M/group, kH, kW] and optional B [M]. The certifier
 * uses it to carry backward bounds through convolutions.
 */
export const ConvTranspose: OpDef = {
  op: 'ConvTranspose',
  inferShapes(node, [x, w, b]) {
    const [n, c, h, wd] = nchw(node, x!);
    if (w!.length !== 4 || !w!.every((d) => typeof d === 'number')) throw new LuxcertError(`ConvTranspose node '${node.name}': weight must be a static 4-D tensor, got [${w}]`);
    if (typeof h !== 'number' || typeof wd !== 'number') throw new LuxcertError(`ConvTranspose node '${node.name}': spatial size must be static, got ${h}×${wd}`);
    const [cw, mg] = w as number[];
    const group = intAttr(node, 'group', 1);
    if (typeof c === 'number' && c !== cw) throw new LuxcertError(`ConvTranspose node '${node.name}': input has ${c} channels but weight expects ${cw}`);
    if (cw! % group !== 0) throw new LuxcertError(`ConvTranspose node '${node.name}': ${cw} input channels not divisible by group ${group}`);
    const m = mg! * group;
    if (b && (b.length !== 1 || b[0] !== m)) throw new LuxcertError(`ConvTranspose node '${node.name}': bias shape [${b}] does not match ${m} output channels`);
    const win = transposeWindow(node, h, wd, w as number[]);
    return [[n, m, win.outH, win.outW]];
  },
  evaluate(node, [x, w, b]) {
    const [N, C, H, W] = x!.dims as [number, number, number, number];
    const [, Mg, KH, KW] = w!.dims as [number, number, number, number];
    const group = intAttr(node, 'group', 1);
    const win = transposeWindow(node, H, W, w!.dims);
    const { outH: OH, outW: OW } = win;
    const [sh, sw] = win.strides as [number, number];
    const [dh, dw] = win.dilations as [number, number];
    const [pt, pl] = win.pads as [number, number];
    const Cg = C / group;
    const M = Mg * group;
    // float64 accumulation, as the other reference operators.
    const acc = new Float64Array(N * M * OH * OW);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const g = Math.floor(c / Cg);
        for (let ih = 0; ih < H; ih++) {
          for (let iw = 0; iw < W; iw++) {
            const v = x!.data[((n * C + c) * H + ih) * W + iw]!;
            if (v === 0) continue;
            for (let mm = 0; mm < Mg; mm++) {
              const m = g * Mg + mm;
              const wBase = (c * Mg + mm) * KH;
              for (let kh = 0; kh < KH; kh++) {
                const oh = ih * sh - pt + kh * dh;
                if (oh < 0 || oh >= OH) continue;
                for (let kw = 0; kw < KW; kw++) {
                  const ow = iw * sw - pl + kw * dw;
                  if (ow < 0 || ow >= OW) continue;
                  acc[((n * M + m) * OH + oh) * OW + ow]! += v * w!.data[(wBase + kh) * KW + kw]!;
                }
              }
            }
          }
        }
      }
    }
    const out = Float32Array.from(acc);
    if (b) for (let i = 0; i < out.length; i++) out[i]! += b.data[Math.floor(i / (OH * OW)) % M]!;
    return [{ dims: [N, M, OH, OW], data: out }];
  },
  flops(_node, [x, w, b], [y]) {
    return 2 * sizeOf(x!) * sizeOf(w!.slice(1)) + (b ? sizeOf(y!) : 0);
  },
};
