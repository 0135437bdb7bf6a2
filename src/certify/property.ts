import { LuxcertError } from '../core/errors.ts';
import type { ModelMeta } from '../model/metadata.ts';
import type { BoxBounds } from '../bounds/bounds.ts';

/**
 * Float32 arithmetic in the bound graph can round either way; bounds are widened by this much
 * (relative to their magnitude, plus an absolute floor) before any claim is made.
 */
export const FLOAT_SAFETY = { relative: 1e-5, absolute: 1e-5 } as const;

const widen = (v: number) => FLOAT_SAFETY.relative * Math.abs(v) + FLOAT_SAFETY.absolute;

/** The keypoint property of design brief §1 for one image: stay within τ px (L∞) of the reference. */
export interface KeypointProperty {
  meta: ModelMeta;
  /** K×2 reference points in input pixels. */
  reference: Float32Array;
  tolerance: number;
}

/**
 * The one test of a proof: a margin proves its claim only when it is a finite number ≥ 0. NaN
 * (from a NaN weight, image, bound or an index past the end of an output), ±Infinity and every
 * negative number leave the claim unproven. Every certifying path decides through this.
 */
export function isProven(margin: number): boolean {
  return Number.isFinite(margin) && margin >= 0;
}

/** Model outputs a head produces per image: 2K coordinates, or K·G² logits. */
export function headOutputs(meta: ModelMeta): number {
  return meta.head === 'regression' ? 2 * meta.keypoints.length : meta.keypoints.length * meta.grid! ** 2;
}

/**
 * Refuses a property that no claim may rest on: a tolerance that is not a finite number ≥ 0, a
 * reference that is not 2K finite numbers, a keypoint index outside 0..K−1.
 */
export function checkProperty(p: KeypointProperty, keypoints: readonly number[] = []): void {
  const k = p.meta.keypoints.length;
  if (!(Number.isFinite(p.tolerance) && p.tolerance >= 0)) throw new LuxcertError(`tolerance must be a finite number ≥ 0, got ${p.tolerance}`);
  if (k === 0) throw new LuxcertError('the model has no keypoints to certify');
  if (p.meta.head === 'heatmap' && !(Number.isInteger(p.meta.grid) && p.meta.grid! > 0)) throw new LuxcertError(`heatmap grid must be a positive integer, got ${p.meta.grid}`);
  if (p.reference.length !== 2 * k) throw new LuxcertError(`reference has ${p.reference.length / 2} points for ${k} keypoints`);
  const bad = p.reference.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new LuxcertError(`reference of keypoint '${p.meta.keypoints[bad >> 1]}' is ${p.reference[bad]}: nothing can be certified against a non-finite reference`);
  for (const j of keypoints) if (!(Number.isInteger(j) && j >= 0 && j < k)) throw new LuxcertError(`keypoint index ${j} is not in 0..${k - 1}`);
}

/** Whether every value that keypoint j's margin reads is finite, and the bounds have the head's size. */
function finiteInputs(p: KeypointProperty, b: BoxBounds, j: number): boolean {
  const n = headOutputs(p.meta);
  const arrays = [b.lower, b.upper, b.la, b.lb, b.lc, b.ua, b.ub, b.uc];
  if (arrays.some((t) => t.length !== n)) return false;
  const [from, to] = p.meta.head === 'regression' ? [2 * j, 2 * j + 2] : [j * p.meta.grid! ** 2, (j + 1) * p.meta.grid! ** 2];
  for (const t of arrays) for (let i = from; i < to; i++) if (!Number.isFinite(t[i]!)) return false;
  const box = [b.box.alphaLo, b.box.alphaHi, b.box.betaLo, b.box.betaHi, p.tolerance, p.reference[2 * j]!, p.reference[2 * j + 1]!];
  return box.every(Number.isFinite) && j >= 0 && j < p.meta.keypoints.length;
}

/** Cells (row-major indices) whose centres lie within τ (L∞) of the reference of keypoint j. */
export function allowedCells(p: KeypointProperty, j: number): number[] {
  const g = p.meta.grid!;
  const [h, w] = p.meta.inputSize;
  const cells: number[] = [];
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) {
      if (Math.abs((c + 0.5) * (w / g) - p.reference[2 * j]!) <= p.tolerance && Math.abs((r + 0.5) * (h / g) - p.reference[2 * j + 1]!) <= p.tolerance) cells.push(r * g + c);
    }
  }
  return cells;
}

/** min over the box of la·α + lb·β + lc − (ua·α + ub·β + uc) for two output elements. */
function differenceMin(b: BoxBounds, lowIdx: number, highIdx: number): number {
  const da = b.la[lowIdx]! - b.ua[highIdx]!;
  const db = b.lb[lowIdx]! - b.ub[highIdx]!;
  const dc = b.lc[lowIdx]! - b.uc[highIdx]!;
  const am = (b.box.alphaLo + b.box.alphaHi) / 2;
  const ar = (b.box.alphaHi - b.box.alphaLo) / 2;
  const bm = (b.box.betaLo + b.box.betaHi) / 2;
  const br = (b.box.betaHi - b.box.betaLo) / 2;
  const linear = dc + da * am + db * bm - Math.abs(da) * ar - Math.abs(db) * br;
  // Never weaker than the difference of the concrete bounds.
  return Math.max(linear, b.lower[lowIdx]! - b.upper[highIdx]!);
}

/**
 * Proof margin of keypoint j on one box: proven for every (α, β) in it when `isProven` says so;
 * the more negative, the further from proven; NaN when anything it reads is not finite or the
 * bounds do not have the head's size. Regression: τ minus the worst coordinate deviation the
 * bounds allow. Heatmap: the smallest certified logit gap between the best allowed cell and any
 * other cell.
 */
export function proofMargin(p: KeypointProperty, b: BoxBounds, j: number): number {
  if (!finiteInputs(p, b, j)) return NaN;
  if (p.meta.head === 'regression') {
    let m = Infinity;
    for (const axis of [0, 1]) {
      const i = 2 * j + axis;
      const lo = b.lower[i]! - widen(b.lower[i]!);
      const hi = b.upper[i]! + widen(b.upper[i]!);
      const r = p.reference[i]!;
      m = Math.min(m, p.tolerance - Math.max(hi - r, r - lo));
    }
    return m;
  }
  const g2 = p.meta.grid! ** 2;
  const allowed = allowedCells(p, j);
  if (allowed.length === 0) return -Infinity;
  const inA = new Set(allowed);
  let best = -Infinity;
  for (const a of allowed) {
    let m = Infinity;
    for (let c = 0; c < g2 && m > best; c++) {
      if (inA.has(c)) continue;
      const gap = differenceMin(b, j * g2 + a, j * g2 + c);
      m = Math.min(m, gap - widen(b.lower[j * g2 + a]!) - widen(b.upper[j * g2 + c]!));
    }
    best = Math.max(best, m);
  }
  return best;
}

/** Whether a concrete prediction (K×2 pixels) breaks keypoint j's property; a non-finite (or missing) value always does. */
export function violates(p: KeypointProperty, predicted: Float32Array, j: number): boolean {
  const within = (i: number) => Math.abs(predicted[i]! - p.reference[i]!) <= p.tolerance;
  return !(within(2 * j) && within(2 * j + 1));
}
