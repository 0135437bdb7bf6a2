import * as ort from 'onnxruntime-node';
import { Rng } from '../core/random.ts';
import { OnnxEmitter } from './emit.ts';

/** A 2-D convolution's window, as ONNX's Conv attributes. */
export interface ConvWindow {
  kernel_shape: [number, number];
  pads: number[];
  strides: [number, number];
  dilations: [number, number];
}

/**
 * The channel counts, [input, output], `emitConv` pads a Conv's to whole blocks, or undefined where it
 * keeps the plain Conv. ReorderInput pads the input with zero channels itself (it takes multiples of
 * 4); the weight and bias are padded with zeros and ReorderOutput drops the extra outputs. An input of
 * 4 or more channels but fewer than a block stays as it is: onnxruntime's blocked kernel reads such an
 * NCHW input directly (as it does an RGB image), 1.2–2× faster than the plain Conv at batch 32 (8 → 16
 * at stride 2 and 64 px: 0.49 against 0.96 ms; 12 → 16 at 32 px: 0.61 against 1.03, and 0.71 padded to
 * a block); three channels stay plain (3 → 64 measured 1.3× slower that way), and so does a 1 × 1 kernel
 * over such an input, whose few multiplications per output do not pay for the output's reorder (4 → 32
 * at 32 px: 0.19 against 0.40 ms; 8 → 32: 0.22 against 0.52). Measured at batch 32
 * (AVX-512, B = 16): padding the outputs pays up to twice their count (16 → 8: 1.35×, 16 → 24: 1.47× the
 * plain Conv), 4 → 16 does not (32 → 4, 1 × 1: 0.5×); padding the inputs pays when it adds a third
 * (24 → 32: 1.26×).
 */
export function blockedChannels([ci, co]: [number, number], block: number, [kh, kw]: [number, number]): [number, number] | undefined {
  if (block <= 1 || ci < 4) return undefined;
  const up = (c: number) => Math.ceil(c / block) * block;
  const cop = up(co);
  if (cop > 2 * co) return undefined;
  if (ci < block) return kh * kw > 1 ? [ci, cop] : undefined;
  return ci % 4 === 0 && 3 * up(ci) <= 4 * ci ? [up(ci), cop] : undefined;
}

/**
 * A group-1 2-D Conv, through onnxruntime's blocked-layout (NCHWc) kernels where `blockedChannels`
 * allows (`block` > 1), else a plain Conv. onnxruntime's optimiser makes that layout only for constant
 * weights, so a training step, whose weights are inputs, never got it: the input is reordered to
 * blocks (an input under a block of channels is read as it is), the weight [co, ci, kh, kw]
 * rearranged in the graph to the kernel's [co/B, ci/B, kh·kw, B_in, B_out] order ([co/B, ci, kh·kw,
 * B_out] for an NCHW input), and the output reordered back. On this machine's AVX-512 (B = 16), 1.2–1.5×
 * faster than the plain Conv on the zoo's 3 × 3 convolutions, reorders included.
 */
export function emitConv(e: OnnxEmitter, x: string, w: string, bias: string | undefined, win: ConvWindow, channels: [number, number], block: number): string {
  const [ci, co] = channels;
  const padded = blockedChannels(channels, block, win.kernel_shape);
  if (!padded) return e.op('Conv', bias === undefined ? [x, w] : [x, w, bias], { ...win });
  const [cip, cop] = padded;
  const nchwInput = cip < block;
  const [kh, kw] = win.kernel_shape;
  // Made once per value: a weight read by two passes (the regularisers' perturbed one), an input read
  // by several Convs (a strided gradient's phases, a block's input and its shortcut).
  const filter = e.memo(`nchwc-filter ${block} ${w}`, () => {
    const whole = cip === ci && cop === co ? w : e.op('Pad', [w, e.ints([0, 0, 0, 0, cop - co, cip - ci, 0, 0])]);
    // [co/B, B, ci/B, B, taps] → [co/B, ci/B, taps, B (in), B (out)] as two moves onnxruntime makes as block copies
    // (the output block innermost, then taps before the input block): 1.5–3× faster than one 5-D Transpose from 32 channels.
    // An NCHW input's kernel is [co/B, ci, taps, B (out)]: the first move only.
    const outInnermost = e.op('Transpose', [e.op('Reshape', [whole, e.ints([cop / block, block, cip * kh * kw])])], { perm: [0, 2, 1] });
    if (nchwInput) return e.op('Reshape', [outInnermost, e.ints([cop, cip, kh, kw])]);
    const tiled = e.op('Transpose', [e.op('Reshape', [outInnermost, e.ints([(cop / block) * (cip / block), block, kh * kw, block])])], { perm: [0, 2, 1, 3] });
    return e.op('Reshape', [tiled, e.ints([cop, cip, kh, kw])]);
  });
  const b = bias === undefined ? [] : [cop === co ? bias : e.memo(`nchwc-bias ${block} ${bias}`, () => e.op('Pad', [bias, e.ints([0, cop - co])]))];
  const xb = nchwInput ? x : e.memo(`nchwc-input ${x}`, () => e.contrib('ReorderInput', [x], {}, 'com.microsoft.nchwc'));
  const yb = e.contrib('Conv', [xb, filter, ...b], { ...win }, 'com.microsoft.nchwc');
  return e.contrib('ReorderOutput', [yb], { channels: co }, 'com.microsoft.nchwc');
}

/** Block sizes onnxruntime's NCHWc kernels use (MLAS: 16 with AVX-512, 8 with AVX2, 4 on NEON). */
const CANDIDATES = [16, 8, 4];

/** The block size onnxruntime's ReorderInput pads four channels to (it takes multiples of 4), or 1 where the operator is missing. */
async function reportedBlock(): Promise<number> {
  const e = new OnnxEmitter('nchwc_probe');
  e.input('x', [1, 4, 1, 1]);
  e.output(e.contrib('ReorderInput', ['x'], {}, 'com.microsoft.nchwc'), 'y');
  try {
    const s = await ort.InferenceSession.create(e.encode(), { logSeverityLevel: 4 });
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
    await s.release();
    return out.y!.dims[1]!;
  } catch {
    return 1;
  }
}

/** Whether `emitConv` at `block` computes what the plain Conv does on random data (stride 1 and 2, bias; blocked and NCHW inputs). */
async function agrees(block: number): Promise<boolean> {
  const c = 2 * block;
  const few = Math.max(4, block / 2);
  const rng = new Rng(7);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() - 0.5);
  const feeds = {
    x: new ort.Tensor('float32', rand(2 * c * 7 * 7), [2, c, 7, 7]), w: new ort.Tensor('float32', rand(c * c * 9), [c, c, 3, 3]), b: new ort.Tensor('float32', rand(c), [c]),
    xf: new ort.Tensor('float32', rand(2 * few * 7 * 7), [2, few, 7, 7]), wf: new ort.Tensor('float32', rand(c * few * 9), [c, few, 3, 3]),
  };
  const e = new OnnxEmitter('nchwc_check');
  for (const [k, t] of Object.entries(feeds)) e.input(k, [...t.dims]);
  const cases = [1, 2].flatMap((s) => [{ s, x: 'x', w: 'w', ci: c }, { s, x: 'xf', w: 'wf', ci: few }]);
  cases.forEach(({ s, x, w, ci }, i) => {
    const win: ConvWindow = { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [s, s], dilations: [1, 1] };
    e.output(emitConv(e, x, w, 'b', win, [ci, c], 1), `plain${i}`);
    e.output(emitConv(e, x, w, 'b', win, [ci, c], block), `blocked${i}`);
  });
  try {
    const s = await ort.InferenceSession.create(e.encode(), { logSeverityLevel: 4 });
    const out = await s.run(feeds);
    await s.release();
    return cases.every((_, k) => {
      const p = out[`plain${k}`]!.data as Float32Array;
      const q = out[`blocked${k}`]!.data as Float32Array;
      return p.length === q.length && p.every((v, i) => Math.abs(v - q[i]!) <= 1e-4);
    });
  } catch {
    return false;
  }
}

let probed: Promise<number> | undefined;

/**
 * onnxruntime's NCHWc block size on this CPU, for `emitConv`; 1 (plain convolutions) where the
 * blocked kernels are absent, report a size luxcert does not know, or disagree with the plain Conv.
 */
export function nchwcBlock(): Promise<number> {
  probed ??= (async () => {
    const b = await reportedBlock();
    return CANDIDATES.includes(b) && (await agrees(b)) ? b : 1;
  })();
  return probed;
}
