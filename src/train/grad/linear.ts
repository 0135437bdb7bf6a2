import { LuxcertError } from '../../core/errors.ts';
import { floatAttr, intAttr } from '../../graph/attrs.ts';
import { adjointPhases, interleavePhases, window2d } from '../../graph/ops/spatial.ts';
import { emitConv } from '../../onnx/nchwc.ts';
import { channelShape, nonChannelAxes, unbroadcast, type GradContext, type GradRule } from './rule.ts';

/** BatchNorm running statistics move this far towards each batch's (PyTorch's momentum 0.1). */
export const BN_MOMENTUM = 0.1;

function convWindow({ node, inShapes }: GradContext) {
  const [, , h, w] = inShapes[0]!;
  const [, , kh, kw] = inShapes[1]!;
  return { ...window2d(node, h!, w!, [kh!, kw!]), group: intAttr(node, 'group', 1) };
}

/** Whether a 2-D Conv of this group goes through `emitConv` (the CPU provider's blocked kernels, which take group 1 only). */
const viaEmitConv = (ctx: GradContext, group: number) => ctx.convBlock > 1 && group === 1;

/** A one-hot depthwise kernel: each of `channels` inputs copied to `taps` outputs, output t of a channel reading tap `tapOf(t)`. */
function oneHotKernel(e: GradContext['e'], channels: number, taps: number, shape: [number, number], tapOf: (t: number) => number): string {
  const data = new Float32Array(channels * taps * taps);
  for (let c = 0; c < channels; c++) for (let t = 0; t < taps; t++) data[(c * taps + t) * taps + tapOf(t)] = 1;
  return e.tensor('conv.unfold', { dims: [channels * taps, 1, ...shape], data });
}

/** Maps (the product's rows × columns) of fewer values keep the padded row copies: below it the gathered rows' border products cost more than the Gather saves. */
const MIN_GATHERED_MAP = 1024;

/**
 * Σ over images of A·Bᵀ per image and group, A and B as [rows, K] matrices per image and group; the
 * sum over images as a row of ones times the per-image products (3.2–3.8× faster than onnxruntime's
 * ReduceSum over axis 0). Shaped [group, rowsA, rowsB]. The GEMM repacks its second operand, so the
 * one with fewer rows goes second and the small sum is transposed back (16 × 27 rows over 4,096
 * values: 0.69 against 0.84 ms for 32 images; 8 × 27: 0.60 against 0.69).
 */
function summedProduct(e: GradContext['e'], [n, group]: [number, number], a: string, rowsA: number, b: string, rowsB: number): string {
  const swap = rowsA < rowsB;
  const [first, second] = swap ? [[b, rowsB], [a, rowsA]] as const : [[a, rowsA], [b, rowsB]] as const;
  const perImage = e.contrib('FusedMatMul', [e.op('Reshape', [first[0], e.ints([n, group, first[1], -1])]), e.op('Reshape', [second[0], e.ints([n, group, second[1], -1])])], { transB: 1 });
  const ones = e.memo(`ones ${n}`, () => e.tensor('ones', { dims: [1, n], data: new Float32Array(n).fill(1) }));
  const sum = e.op('Reshape', [e.op('MatMul', [ones, e.op('Reshape', [perImage, e.ints([n, -1])])]), e.ints([group, first[1], second[1]])]);
  return swap ? e.op('Transpose', [sum], { perm: [0, 2, 1] }) : sum;
}

/**
 * Σ over images of cols·rowsᵀ for a group-1, stride-1 Conv's weight gradient, where `rows` are the
 * kh row shifts of `source` [n, channels, hs, ws] gathered as whole rows (`Gather`, about half a
 * one-hot Conv's cost per value written) and `cols` [n, colRows, outRows, ws] the other operand's
 * column shifts: product row y of tap a reads source row y + shift(a). A source row out of range is
 * gathered as the nearest border row instead of zeros, so each such (tap, product row) pair's
 * product — one row of `cols` against one source row, per image — is subtracted again. Shaped
 * [1, colRows, channels·kh].
 */
function gatheredRowsProduct(e: GradContext['e'], n: number, source: { value: string; channels: number; rows: number }, shift: (tap: number) => number, kh: number, cols: string, colRows: number, outRows: number): string {
  const rowIndex: number[] = [];
  const border: { tap: number; y: number; row: number }[] = [];
  for (let tap = 0; tap < kh; tap++) {
    for (let y = 0; y < outRows; y++) {
      const src = y + shift(tap);
      const row = Math.min(source.rows - 1, Math.max(0, src));
      rowIndex.push(row);
      if (row !== src) border.push({ tap, y, row });
    }
  }
  const c = source.channels;
  const product = summedProduct(e, [n, 1], cols, colRows, e.op('Gather', [source.value, e.ints(rowIndex)], { axis: 2 }), c * kh);
  if (border.length === 0) return product;
  // Several pairs can read the same row (a dilated kernel's taps): each is gathered once.
  const row = (v: string, at: number, rows: number) => e.memo(`gathered row ${v} ${at}`, () => e.op('Reshape', [e.op('Gather', [v, e.ints([at])], { axis: 2 }), e.ints([n, rows, -1])]));
  const perPair = border.map((b) => e.op('Reshape', [e.contrib('FusedMatMul', [row(cols, b.y, colRows), row(source.value, b.row, c)], { transB: 1 }), e.ints([n, -1])]));
  // One MatMul sums each pair's per-image products into its tap: [kh, pairs·n] × [pairs·n, colRows·c].
  const p = border.length;
  const toTap = new Float32Array(kh * p * n);
  border.forEach((b, j) => toTap.fill(1, (b.tap * p + j) * n, (b.tap * p + j + 1) * n));
  const byTap = e.op('MatMul', [e.tensor('conv.border', { dims: [kh, p * n], data: toTap }), p === 1 ? perPair[0]! : e.op('Concat', perPair, { axis: 0 })]);
  const spurious = e.op('Transpose', [e.op('Reshape', [byTap, e.ints([kh, colRows, c])])], { perm: [1, 2, 0] });
  return e.op('Sub', [product, e.op('Reshape', [spurious, e.ints([1, colRows, c * kh])])]);
}

/**
 * The Conv's weight gradient, dW[co, ci, a, b] = Σ dy[n, co, y, x] · xpad[n, ci, y + a·dh, x + b·dw]:
 * one GEMM per image and group between copies of the output gradient and of the input (onnxruntime's
 * batched FusedMatMul, which takes Bᵀ without a Transpose), summed over the batch. Which copies is
 * a matter of memory, as onnxruntime has no backward-weights kernel: either the input's patches
 * (im2col: kh·kw shifted copies of the input, made by one depthwise Conv with one-hot kernels,
 * padding included) against the output gradient as it is, or — stride 1 — kh row-shifted copies of
 * the input against kw column-shifted copies of the output gradient, each pair of shifts meeting
 * once in the product; whichever costs less to write. The row shifts are gathered rows of the
 * unpadded input (`gatheredRowsProduct`) where the group is 1 and the maps hold at least
 * MIN_GATHERED_MAP values (16 → 16 channels at 64 px 10 % faster than padded copies by one-hot Conv,
 * 32 → 32 at 32 px 9 %; level at 16 px, 1.2× slower at 8 px), padded one-hot copies otherwise; or,
 * where that costs less (fewer input channels than output), the output gradient's gathered rows
 * against the input's column shifts (tiny's 3 → 8 at 64 px 12 % faster).
 * Im2col measured 1.3–3.3× faster than slicing each kernel tap and 2× faster than a Conv over the
 * batch-transposed input (16–64 channels).
 */
function convWeightGrad(ctx: GradContext, dy: string): string {
  const { e, ins, inShapes, outShape } = ctx;
  const { kernel: [kh, kw], strides, dilations: [dh, dw], pads, group } = convWindow(ctx);
  const [n, ci, h, w] = inShapes[0]!;
  const [, co, ho, wo] = outShape;
  const taps = kh * kw;
  const [rowsA, rowsB] = [(co! / group) * kw, (ci! / group) * kh];
  const reach = (kw - 1) * dw;
  const stride1 = strides.every((s) => s === 1);
  if (stride1 && taps > 1) {
    // Three ways to write the shifts, costed by values written (a gathered row at half a one-hot Conv's):
    // kh padded row copies of the input against kw column copies of dy as wide as the padded input; the
    // input's rows gathered against dy's columns as wide as the input; dy's rows gathered against the
    // input's columns as wide as dy (cheaper where the input has fewer channels).
    const gatherable = group === 1 && Math.min(ho! * w!, h! * wo!) >= MIN_GATHERED_MAP;
    const wp = w! + pads[1] + pads[3];
    const forms: { form: 'padded' | 'input rows' | 'gradient rows'; cost: number }[] = [
      { form: 'padded', cost: (ci! * kh + co! * kw) * wp },
      ...(gatherable && pads[1] <= reach && pads[3] <= reach ? [{ form: 'input rows' as const, cost: (ci! * kh / 2 + co! * kw) * w! }] : []),
      ...(gatherable ? [{ form: 'gradient rows' as const, cost: (co! * kh / 2 + ci! * kw) * wo! }] : []),
    ];
    const { form, cost } = forms.reduce((p, q) => (q.cost < p.cost ? q : p));
    if (cost < ci! * taps * wo!) {
      if (form === 'gradient rows') {
        // dW[co, ci, a, b] = Σ dy[y + pt − a·dh, x] · x[y, x + b·dw − pl] over the input's rows y and dy's columns x.
        const cols = e.op('Conv', [ins[0]!, oneHotKernel(e, ci!, kw, [1, kw], (b) => b)], { kernel_shape: [1, kw], dilations: [1, dw], pads: [0, pads[1], 0, pads[3]], group: ci! });
        const product = gatheredRowsProduct(e, n!, { value: dy, channels: co!, rows: ho! }, (a) => pads[0] - a * dh, kh, cols, ci! * kw, h!);
        return e.op('Transpose', [e.op('Reshape', [product, e.ints([ci!, kw, co!, kh])])], { perm: [2, 0, 3, 1] });
      }
      // Output column x' of shift b reads dy at x' + (kw − 1 − b)·dw − (its left pad): as wide as the input (gathered) or as the padded input.
      const gathered = form === 'input rows';
      const colPads = gathered ? [0, reach - pads[1], 0, reach - pads[3]] : [0, reach, 0, reach];
      const cols = e.op('Conv', [dy, oneHotKernel(e, co!, kw, [1, kw], (b) => kw - 1 - b)], { kernel_shape: [1, kw], dilations: [1, dw], pads: colPads, group: co! });
      const product = gathered
        ? gatheredRowsProduct(e, n!, { value: ins[0]!, channels: ci!, rows: h! }, (a) => a * dh - pads[0], kh, cols, rowsA, ho!)
        : summedProduct(e, [n!, group], cols, rowsA, e.op('Conv', [ins[0]!, oneHotKernel(e, ci!, kh, [kh, 1], (a) => a)], { kernel_shape: [kh, 1], dilations: [dh, 1], pads, group: ci! }), rowsB);
      const byShift = e.op('Reshape', [product, e.ints([group, co! / group, kw, ci! / group, kh])]);
      return e.op('Reshape', [e.op('Transpose', [byShift], { perm: [0, 1, 3, 4, 2] }), e.ints(inShapes[1]!)]);
    }
  }
  const plain = taps === 1 && stride1 && pads.every((p) => p === 0);
  const patches = plain ? ins[0]! : e.op('Conv', [ins[0]!, oneHotKernel(e, ci!, taps, [kh, kw], (t) => t)], { kernel_shape: [kh, kw], strides, dilations: [dh, dw], pads, group: ci! });
  return e.op('Reshape', [summedProduct(e, [n!, group], dy, co! / group, patches, (ci! / group) * taps), e.ints(inShapes[1]!)]);
}

/**
 * A strided group-1 Conv's input gradient by phases (`adjointPhases`, as the certifier's backward
 * tail crosses strided convolutions): input row s·P + r receives from the output gradient through
 * the taps of phase r only, so each of the sh × sw phases is a small stride-1 Conv over dy (its
 * kernel gathered from the weight's taps, channel axes swapped) through `emitConv` (blocked where
 * `blockedChannels` allows, plain Convs where not), and the phases interleave into the input's grid.
 * Undefined where a phase has no taps or a gap between them (a 1 × 1 kernel at stride 2) or the
 * input is not a multiple of the stride.
 */
function phasedInputGrad(ctx: GradContext, dy: string, win: ReturnType<typeof convWindow>): string | undefined {
  const { e, ins, inShapes, outShape } = ctx;
  const { kernel: [kh, kw], strides: [sh, sw], dilations: [dh, dw], pads } = win;
  const [n, ci, h, w] = inShapes[0]!;
  const [co] = inShapes[1]!;
  const [, , ho, wo] = outShape;
  const rows = adjointPhases(sh, kh, dh, pads[0], h!, ho!);
  const cols = adjointPhases(sw, kw, dw, pads[1], w!, wo!);
  if (!rows || !cols || [...rows, ...cols].some((p) => p.len !== p.taps.length)) return undefined;
  const swapped = e.memo(`conv-swap ${ins[1]}`, () => e.op('Transpose', [ins[1]!], { perm: [1, 0, 2, 3] }));
  const [hp, wp] = [h! / sh, w! / sw];
  const grid = rows.map((ry) => {
    const tapRows = e.op('Gather', [swapped, e.ints(ry.taps.map((t) => t.k))], { axis: 2 });
    return cols.map((rx) => {
      const kernel = e.op('Gather', [tapRows, e.ints(rx.taps.map((t) => t.k))], { axis: 3 });
      const win = { kernel_shape: [ry.len, rx.len] as [number, number], pads: [ry.pads[0], rx.pads[0], ry.pads[1], rx.pads[1]], strides: [1, 1] as [number, number], dilations: [1, 1] as [number, number] };
      return emitConv(e, dy, kernel, undefined, win, [co!, ci!], ctx.convBlock);
    });
  });
  return interleavePhases(grid, {
    six: (t) => e.op('Reshape', [t, e.ints([n!, ci!, hp, 1, wp, 1])]),
    four: (t) => e.op('Reshape', [t, e.ints([n!, ci!, h!, w!])]),
    concat: (parts, axis) => e.op('Concat', parts, { axis }),
  });
}

/**
 * The Conv's input gradient: a Conv with the kernel flipped and its channel axes swapped where the
 * stride is 1 (onnxruntime's ConvTranspose was 1.4–1.6× slower there); at a stride, on the CPU
 * provider (where `convBlock` > 1), by phases: 1.1–1.4× faster than ConvTranspose on the zoo's
 * blocked shapes, and the tiny model's step 8–13 % faster with its 8 → 16 and 16 → 24
 * convolutions' phases as plain Convs; ConvTranspose otherwise (CUDA: cuDNN's own backward-data kernel).
 */
function convInputGrad(ctx: GradContext, dy: string): string {
  const { e, ins, inShapes, outShape } = ctx;
  const win = convWindow(ctx);
  const { kernel: [kh, kw], strides: [sh, sw], dilations: [dh, dw], pads, group } = win;
  const [, ci, h, w] = inShapes[0]!;
  const [co] = inShapes[1]!;
  const [, , ho, wo] = outShape;
  const reach = [(kh - 1) * dh, (kw - 1) * dw];
  const flipPads = [reach[0]! - pads[0], reach[1]! - pads[1], reach[0]! - pads[2], reach[1]! - pads[3]];
  if (sh === 1 && sw === 1 && flipPads.every((p) => p >= 0)) {
    // One flipped kernel per weight, whichever passes (clean, perturbed) reach it.
    const swapped = e.memo(`conv-adjoint ${ins[1]}`, () => {
      const flipped = e.op('Slice', [ins[1]!, e.ints([-1, -1]), e.ints([-kh - 1, -kw - 1]), e.ints([2, 3]), e.ints([-1, -1])]);
      const grouped = e.op('Reshape', [flipped, e.ints([group, co! / group, ci! / group, kh, kw])]);
      return e.op('Reshape', [e.op('Transpose', [grouped], { perm: [0, 2, 1, 3, 4] }), e.ints([ci!, co! / group, kh, kw])]);
    });
    if (viaEmitConv(ctx, group)) return emitConv(e, dy, swapped, undefined, { kernel_shape: [kh, kw], pads: flipPads, strides: [1, 1], dilations: [dh, dw] }, [co!, ci!], ctx.convBlock);
    return e.op('Conv', [dy, swapped], { kernel_shape: [kh, kw], pads: flipPads, dilations: [dh, dw], group });
  }
  const phased = viaEmitConv(ctx, group) ? phasedInputGrad(ctx, dy, win) : undefined;
  if (phased) return phased;
  const outputPadding = [h! - (sh * (ho! - 1) + reach[0]! + 1 - pads[0] - pads[2]), w! - (sw * (wo! - 1) + reach[1]! + 1 - pads[1] - pads[3])];
  return e.op('ConvTranspose', [dy, ins[1]!], { kernel_shape: [kh, kw], strides: [sh, sw], pads, dilations: [dh, dw], group, output_padding: outputPadding });
}

/** Conv: forward and input gradient (the adjoint convolution) through blocked kernels where they apply, weight gradient by shifted copies and a GEMM, bias gradient by summing. */
export const convGrad: GradRule = {
  params: [1, 2],
  forward(ctx) {
    const { e, node, ins, inShapes, outShape } = ctx;
    if (inShapes[0]!.length !== 4) return { out: e.irNode(node, ins) };
    const { kernel, pads, strides, dilations, group } = convWindow(ctx);
    if (!viaEmitConv(ctx, group)) return { out: e.irNode(node, ins) };
    return { out: emitConv(e, ins[0]!, ins[1]!, ins[2], { kernel_shape: kernel, pads, strides, dilations }, [inShapes[0]![1]!, outShape[1]!], ctx.convBlock) };
  },
  backward(ctx, _f, dy, needs) {
    if (ctx.inShapes[0]!.length !== 4) throw new LuxcertError(`Conv node '${ctx.node.name}': only 2-D convolutions can be trained`);
    return [
      needs[0] ? convInputGrad(ctx, dy) : undefined,
      needs[1] ? convWeightGrad(ctx, dy) : undefined,
      needs[2] ? ctx.e.op('ReduceSum', [dy, ctx.e.ints([0, 2, 3])], { keepdims: 0 }) : undefined,
    ];
  },
};

/** Gemm (Y = α·A'·B' + β·C, A' and B' optionally transposed): each operand's gradient is one Gemm. */
export const gemmGrad: GradRule = {
  params: [1, 2],
  backward({ e, node, ins, inShapes, outShape }, _f, dy, needs) {
    const [a, b] = ins as [string, string];
    const ta = intAttr(node, 'transA', 0);
    const tb = intAttr(node, 'transB', 0);
    const alpha = { f: floatAttr(node, 'alpha', 1) };
    const beta = floatAttr(node, 'beta', 1);
    const da = ta === 0 ? e.op('Gemm', [dy, b], { transB: 1 - tb, alpha }) : e.op('Gemm', [b, dy], { transA: tb, transB: 1, alpha });
    const db = tb === 0 ? e.op('Gemm', [a, dy], { transA: 1 - ta, alpha }) : e.op('Gemm', [dy, a], { transA: 1, transB: ta, alpha });
    const dc = needs[2] ? unbroadcast(e, beta === 1 ? dy : e.op('Mul', [dy, e.scalar(beta)]), outShape, inShapes[2]!) : undefined;
    return [needs[0] ? da : undefined, needs[1] ? db : undefined, dc];
  },
};

/** MatMul: dA = dY·Bᵀ and dB = Aᵀ·dY, summed over broadcast batch axes. */
export const matmulGrad: GradRule = {
  params: [0, 1],
  backward({ e, node, ins, inShapes, outShape }, _f, dy, needs) {
    if (inShapes.some((s) => s.length < 2)) throw new LuxcertError(`MatMul node '${node.name}': vector operands have no gradient rule, so it cannot be trained`);
    const t = (v: string, rank: number) => e.op('Transpose', [v], { perm: [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2] });
    const [a, b] = ins as [string, string];
    const r = outShape.length;
    const full = (s: number[]) => [...outShape.slice(0, r - 2), ...s.slice(-2)];
    return [
      needs[0] ? unbroadcast(e, e.op('MatMul', [dy, t(b, inShapes[1]!.length)]), full(inShapes[0]!), inShapes[0]!) : undefined,
      needs[1] ? unbroadcast(e, e.op('MatMul', [t(a, inShapes[0]!.length), dy]), full(inShapes[1]!), inShapes[1]!) : undefined,
    ];
  },
};

/** Below this many values per image and channel, BatchNorm's dot products are too short for a GEMM kernel. */
const MIN_DOT_LENGTH = 256;

/**
 * Σ a·b over every axis but the channel's, shaped [1, C, 1, …] as a kept-dims ReduceSum: one dot
 * product per image and channel by FusedMatMul, which reads both operands without writing their
 * product (2× faster than Mul and ReduceSum at [32, 16, 64, 64]), summed over the batch; Mul and
 * ReduceSum where an image's channel holds fewer than MIN_DOT_LENGTH values (at [32, 128, 8, 8] the
 * dot products took 1.4× as long; at 16 × 16 the two are level).
 */
function channelDot(e: GradContext['e'], a: string, b: string, shape: number[]): string {
  if (shape.slice(2).reduce((p, d) => p * d, 1) < MIN_DOT_LENGTH) return e.op('ReduceSum', [e.op('Mul', [a, b]), e.ints(nonChannelAxes(shape))], { keepdims: 1 });
  const rows = e.ints([shape[0]!, shape[1]!, 1, -1]);
  const perImage = e.contrib('FusedMatMul', [e.op('Reshape', [a, rows]), e.op('Reshape', [b, rows])], { transB: 1 });
  return e.op('Reshape', [e.op('ReduceSum', [perImage, e.ints([0])], { keepdims: 0 }), e.ints(channelShape(shape))]);
}

/**
 * a·k + b per channel (k, b: C values each): over images a depthwise 1 × 1 Conv, one pass into which
 * onnxruntime fuses a following Relu or Add (1.6–1.8× faster than Mul and Add at [32, 16, 64, 64]
 * and [32, 32, 32, 32]); Mul and Add where there is no spatial axis.
 */
function channelAffine(e: GradContext['e'], a: string, k: string, b: string, shape: number[]): string {
  const c = shape[1]!;
  if (shape.length < 3) return e.op('Add', [e.op('Mul', [a, e.op('Reshape', [k, e.ints([1, c])])]), e.op('Reshape', [b, e.ints([1, c])])]);
  const ones = shape.slice(2).map(() => 1);
  return e.op('Conv', [a, e.op('Reshape', [k, e.ints([c, 1, ...ones])]), e.op('Reshape', [b, e.ints([c])])], { group: c, kernel_shape: ones });
}

/**
 * BatchNormalization in training mode: normalised by the batch's mean and (biased) variance per
 * channel; the running statistics move BN_MOMENTUM towards them. The normalised input x̂ = (x − μ)·inv
 * is never written: the output is (x − μ)·(inv·scale) + shift and the backward pass scales the
 * centred input per channel, one pass over the activations fewer per BatchNorm.
 */
export const batchNormGrad: GradRule = {
  params: [1, 2],
  statistics: [3, 4],
  forward({ e, node, ins, inShapes }) {
    const shape = inShapes[0]!;
    const axes = e.ints(nonChannelAxes(shape));
    const count = e.scalar(shape.reduce((p, d, i) => (i === 1 ? p : p * d), 1));
    const cs = e.ints(channelShape(shape));
    const mean = e.op('Div', [e.op('ReduceSum', [ins[0]!, axes], { keepdims: 1 }), count]);
    const centred = e.op('Sub', [ins[0]!, mean]);
    const variance = e.op('Div', [channelDot(e, centred, centred, shape), count]);
    const inv = e.op('Reciprocal', [e.op('Sqrt', [e.op('Add', [variance, e.scalar(floatAttr(node, 'epsilon', 1e-5))])])]);
    const gain = e.op('Mul', [inv, e.op('Reshape', [ins[1]!, cs])]);
    const out = channelAffine(e, centred, gain, ins[2]!, shape);
    const c = e.ints([shape[1]!]);
    const moved = (running: string, batch: string) =>
      e.op('Add', [e.op('Mul', [running, e.scalar(1 - BN_MOMENTUM)]), e.op('Mul', [e.op('Reshape', [batch, c]), e.scalar(BN_MOMENTUM)])]);
    return { out, saved: { centred, inv, gain }, updates: new Map([[3, moved(ins[3]!, mean)], [4, moved(ins[4]!, variance)]]) };
  },
  backward({ e, inShapes }, f, dy, needs) {
    const shape = inShapes[0]!;
    const axes = e.ints(nonChannelAxes(shape));
    const cs = e.ints(channelShape(shape));
    const { centred, inv, gain } = f.saved as { centred: string; inv: string; gain: string };
    const dshift = e.op('ReduceSum', [dy, axes], { keepdims: 0 });
    // Σ dy·x̂ = inv·Σ dy·(x − μ), per channel.
    const dyCentred = channelDot(e, dy, centred, shape);
    const dscale = e.op('Reshape', [e.op('Mul', [dyCentred, inv]), e.ints([shape[1]!])]);
    let dx: string | undefined;
    if (needs[0]) {
      // dx = scale·inv·(dy − mean(dy) − x̂·mean(dy·x̂)), with x̂·mean(dy·x̂) = (x − μ)·inv²·Σ dy·(x − μ) / count.
      const perCount = e.scalar(1 / shape.reduce((p, d, i) => (i === 1 ? p : p * d), 1));
      const slope = e.op('Mul', [e.op('Mul', [dyCentred, e.op('Mul', [inv, inv])]), perCount]);
      const offset = e.op('Reshape', [e.op('Mul', [dshift, perCount]), cs]);
      // As dy·gain + (x − μ)·(−gain·slope) − gain·offset: two passes instead of four.
      dx = e.op('Add', [channelAffine(e, centred, e.op('Neg', [e.op('Mul', [gain, slope])]), e.op('Neg', [e.op('Mul', [gain, offset])]), shape), e.op('Mul', [dy, gain])]);
    }
    return [dx, needs[1] ? dscale : undefined, needs[2] ? dshift : undefined];
  },
};
