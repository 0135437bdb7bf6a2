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
 * Proof margin of keypoint j on one box: ≥ 0 means proven for every (α, β) in it; the more
 * negative, the further from proven. Regression: τ minus the worst coordinate deviation the bounds
 * allow. Heatmap: the smallest certified logit gap between the best allowed cell and any other cell.
 */
export function proofMargin(p: KeypointProperty, b: BoxBounds, j: number): number {
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

/** Whether a concrete prediction (K×2 pixels) breaks keypoint j's property. */
export function violates(p: KeypointProperty, predicted: Float32Array, j: number): boolean {
  return Math.abs(predicted[2 * j]! - p.reference[2 * j]!) > p.tolerance || Math.abs(predicted[2 * j + 1]! - p.reference[2 * j + 1]!) > p.tolerance;
}
