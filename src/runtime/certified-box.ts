import { LuxcertError } from '../core/errors.ts';
import type { BoundComputer } from '../bounds/bounds.ts';
import { gridBoxes, type Box } from '../model/perturbation.ts';
import { checkProperty, isProven, proofMargin, type KeypointProperty } from '../certify/property.ts';

/** The outcome of one frame's search. */
export interface BoxSearchResult {
  /** The largest box found on which every keypoint is certified (the identity point at worst). */
  box: Box;
  /** Fraction of the maximum box's extent reached on each side: [α low, α high, β low, β high]. */
  extent: [number, number, number, number];
  rounds: number;
  boxesBounded: number;
  ms: number;
  /** Whether the whole maximum box is certified. */
  complete: boolean;
}

type Extent = [number, number, number, number];

/** The box reaching fraction t of the maximum box's extent on each side of the identity (1, 0). */
function boxAt(max: Box, t: Extent): Box {
  return {
    alphaLo: 1 - t[0] * (1 - max.alphaLo),
    alphaHi: 1 + t[1] * (max.alphaHi - 1),
    betaLo: t[2] * max.betaLo,
    betaHi: t[3] * max.betaHi,
  };
}

/**
 * Anytime search for the largest certified box around (1, 0) inside `max`, one bound pass per
 * candidate (no splitting), candidates batched into as few calls as possible:
 * 1. symmetric scales t = 1/B … 1 of the maximum box; the largest certified one is kept;
 * 2. refinement between that scale and the next (failed) one;
 * 3. each side grown on its own from the symmetric result (a bright frame tolerates darkening
 *    better than brightening), then the combination is verified before it is kept.
 * Stops at the time budget between calls; whatever was verified last is returned.
 */
export async function searchCertifiedBox(bounds: BoundComputer, image: Float32Array, dims: number[], prop: KeypointProperty, max: Box, budgetMs: number, grid = 1): Promise<BoxSearchResult> {
  const t0 = performance.now();
  checkProperty(prop);
  if (!image.every(Number.isFinite)) throw new LuxcertError('the frame contains NaN or Inf: nothing can be certified about it');
  const k = prop.meta.keypoints.length;
  const n = Math.max(1, Math.floor(bounds.options.boxes / (grid * grid)));
  let best: Extent = [0, 0, 0, 0];
  let rounds = 0;
  let boxesBounded = 0;
  // A candidate is certified when each of its grid × grid sub-boxes is (one level of splitting, batched).
  const certified = async (cands: Extent[]): Promise<boolean[]> => {
    const subs = cands.flatMap((c) => gridBoxes(boxAt(max, c), grid));
    const bs = await bounds.bounds(image, dims, subs);
    rounds++;
    boxesBounded += subs.length;
    const ok = bs.map((b) => {
      for (let j = 0; j < k; j++) if (!isProven(proofMargin(prop, b, j))) return false;
      return true;
    });
    return cands.map((_, i) => ok.slice(i * grid * grid, (i + 1) * grid * grid).every(Boolean));
  };
  const timeLeft = () => performance.now() - t0 < budgetMs;
  const sym = (t: number): Extent => [t, t, t, t];

  // 1. Symmetric scales.
  let lo = 0;
  let hi = 1;
  {
    const ts = Array.from({ length: n }, (_, i) => (i + 1) / n);
    const ok = await certified(ts.map(sym));
    const i = ok.lastIndexOf(true);
    if (i >= 0) lo = best[0] = best[1] = best[2] = best[3] = ts[i]!;
    hi = i + 1 < n ? ts[i + 1]! : 1;
  }
  // 2. Refine between the best certified and the first failed scale.
  if (lo < 1 && timeLeft()) {
    const ts = Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (i + 1)) / (n + 1));
    const ok = await certified(ts.map(sym));
    const i = ok.lastIndexOf(true);
    if (i >= 0) best = sym(ts[i]!);
  }
  // 3. Grow each side alone, then verify the combination.
  if (best[0] < 1 && timeLeft()) {
    const per = Math.max(1, Math.floor(n / 4));
    const cands: Extent[] = [];
    for (let side = 0; side < 4; side++) {
      for (let j = 1; j <= per; j++) {
        const c = [...best] as Extent;
        c[side] = best[side]! + ((1 - best[side]!) * j) / per;
        cands.push(c);
      }
    }
    const ok = await certified(cands);
    const grown = [...best] as Extent;
    cands.forEach((c, i) => {
      const side = Math.floor(i / per);
      if (ok[i] && c[side]! > grown[side]!) grown[side] = c[side]!;
    });
    if (grown.some((g, i) => g > best[i]!) && timeLeft()) {
      const [combined] = await certified([grown]);
      if (combined) best = grown;
    }
  }
  return { box: boxAt(max, best), extent: best, rounds, boxesBounded, ms: performance.now() - t0, complete: best.every((t) => t >= 1) };
}
