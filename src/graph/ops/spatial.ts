import { LuxcertError } from '../../core/errors.ts';
import type { Dim } from '../../core/tensor.ts';
import { intAttr, intsAttr, stringAttr } from '../attrs.ts';
import type { Node } from '../graph.ts';

/** Resolved window geometry of a 2-D Conv or pooling node. */
export interface Window2d {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right], as ONNX orders them. */
  pads: [number, number, number, number];
  outH: number;
  outW: number;
}

function pair(node: Node, name: string, values: number[]): [number, number] {
  if (values.length !== 2) throw new LuxcertError(`${node.op} node '${node.name}': ${name} must have 2 values (only 2-D is supported), got [${values}]`);
  return [values[0]!, values[1]!];
}

/** Window geometry for input spatial size (h, w), honouring auto_pad and ceil_mode. */
export function window2d(node: Node, h: Dim, w: Dim, kernel: number[]): Window2d {
  if (typeof h !== 'number' || typeof w !== 'number') {
    throw new LuxcertError(`${node.op} node '${node.name}': spatial size must be static, got ${h}×${w}`);
  }
  const k = pair(node, 'kernel_shape', kernel);
  const s = pair(node, 'strides', intsAttr(node, 'strides', [1, 1]));
  const d = pair(node, 'dilations', intsAttr(node, 'dilations', [1, 1]));
  const ceil = intAttr(node, 'ceil_mode', 0) === 1;
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
  const inSize = [h, w];
  const pads = [0, 0, 0, 0] as [number, number, number, number];
  if (autoPad === 'NOTSET') {
    const p = intsAttr(node, 'pads', [0, 0, 0, 0]);
    if (p.length !== 4) throw new LuxcertError(`${node.op} node '${node.name}': pads must have 4 values, got [${p}]`);
    pads.splice(0, 4, ...p);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    for (let i = 0; i < 2; i++) {
      const out = Math.ceil(inSize[i]! / s[i]!);
      const total = Math.max(0, (out - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - inSize[i]!);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + 2] = total - pads[i]!;
    }
  } else if (autoPad !== 'VALID') {
    throw new LuxcertError(`${node.op} node '${node.name}': unknown auto_pad '${autoPad}'`);
  }
  const out = [0, 0];
  for (let i = 0; i < 2; i++) {
    const span = inSize[i]! + pads[i]! + pads[i + 2]! - ((k[i]! - 1) * d[i]! + 1);
    if (span < 0) throw new LuxcertError(`${node.op} node '${node.name}': window ${k} larger than padded input ${h}×${w}`);
    let o = (ceil ? Math.ceil(span / s[i]!) : Math.floor(span / s[i]!)) + 1;
    // A last window that would start in the end padding is dropped (PyTorch and onnxruntime agree).
    if (ceil && (o - 1) * s[i]! >= inSize[i]! + pads[i]!) o--;
    out[i] = o;
  }
  return { kernel: k, strides: s, dilations: d, pads, outH: out[0]!, outW: out[1]! };
}

/** The 4-D input shape of a spatial node, checked. */
export function nchw(node: Node, shape: Dim[]): [Dim, Dim, Dim, Dim] {
  if (shape.length !== 4) throw new LuxcertError(`${node.op} node '${node.name}': expects a 4-D NCHW input, got rank ${shape.length}`);
  return [shape[0]!, shape[1]!, shape[2]!, shape[3]!];
}

/** Product of dims: a number when all are known, the single symbolic name when the rest are 1. */
export function productDim(node: Node, dims: Dim[]): Dim {
  let n = 1;
  const names: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else names.push(d);
  }
  if (names.length === 0) return n;
  if (names.length === 1 && n === 1) return names[0]!;
  throw new LuxcertError(`${node.op} node '${node.name}': cannot combine dynamic dimension ${names.join('×')} with others`);
}

/**
 * One phase r of a strided Conv's adjoint along one axis: input row s·P + r receives, through
 * kernel tap k, the output-gradient row P + offset. Applied as a stride-1 correlation whose kernel
 * holds tap k at index offset − lo, of length `len`, with pads [begin, end].
 */
export interface AdjointPhase {
  /** The taps, by increasing offset. */
  taps: { k: number; offset: number }[];
  lo: number;
  len: number;
  pads: [number, number];
}

/**
 * A Conv's adjoint by phases along one axis (stride s, kernel k, dilation d, begin pad, input and
 * output sizes): input row p = s·P + r receives from output row i the taps with s·i + k·d − pad = p,
 * i.e. i = P + (r + pad − k·d) / s, so each of the s phases is a small stride-1 correlation over the
 * output gradient, and the phases interleave into the input's rows (the certifier's backward tail
 * crosses strided convolutions this way). Undefined where it does not apply: a phase with no taps,
 * an input size that is not a multiple of s, or a phase whose correlation would need a negative pad.
 */
export function adjointPhases(s: number, k: number, d: number, pad: number, inSize: number, outSize: number): AdjointPhase[] | undefined {
  if (inSize % s !== 0) return undefined;
  const phases: AdjointPhase[] = [];
  for (let r = 0; r < s; r++) {
    const taps = Array.from({ length: k }, (_, t) => t)
      .filter((t) => (((r + pad - t * d) % s) + s) % s === 0)
      .map((t) => ({ k: t, offset: (r + pad - t * d) / s }))
      .sort((a, b) => a.offset - b.offset);
    if (taps.length === 0) return undefined;
    const lo = Math.min(0, taps[0]!.offset);
    const hi = taps.at(-1)!.offset;
    const end = inSize / s + hi - outSize;
    if (end < 0) return undefined;
    phases.push({ taps, lo, len: hi - lo + 1, pads: [-lo, end] });
  }
  return phases;
}

/** How `interleavePhases` reaches its emitter: the rank-6 view [N, C, h, 1, w, 1] of a phase, the view [N, C, H, W] of the grid, and Concat. */
export interface InterleaveOps<T> {
  six: (phase: T) => T;
  four: (grid: T) => T;
  concat: (parts: T[], axis: number) => T;
}

/**
 * Interleaves an sh × sw grid of phases, each [N, C, H/sh, W/sw], into [N, C, H, W]: phase (r, c)
 * lands on rows sh·P + r and columns sw·Q + c, as rank-6 views concatenated on axis 5 (columns)
 * then axis 3 (rows). The one layout the certifier's backward tail and the training step's strided
 * gradients share.
 */
export function interleavePhases<T>(grid: T[][], ops: InterleaveOps<T>): T {
  const cat = (parts: T[], axis: number) => (parts.length === 1 ? parts[0]! : ops.concat(parts, axis));
  return ops.four(cat(grid.map((row) => cat(row.map(ops.six), 5)), 3));
}
