import { LuxcertError } from '../core/errors.ts';
import { median } from '../core/quantile.ts';
import type { BoundComputer } from '../bounds/bounds.ts';
import { alphaWeight, gridBoxes, splitBox, type Box } from '../model/perturbation.ts';
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
  /** Sub-boxes unproven in this frame or recently: where the stream's next frame starts its search (`searchCertifiedBox`). */
  failures: FailedBox[];
}

/** A sub-box some keypoint was not proven on, and how many frames ago. */
export interface FailedBox {
  box: Box;
  age: number;
}

/**
 * For how many frames after it a failed sub-box is skipped. After that the box, or one holding it,
 * is tried again, so a stream whose frames grow easier goes back to coarser sub-boxes.
 */
export const FAILURE_MEMORY = 3;

/**
 * What a stream carries from frame to frame: the last frame's keypoints and the failures its search
 * ended with. A frame starts from them only when no keypoint moved more than τ since: frames that
 * far apart show another scene (a cut, or a folder of unrelated images), whose failures lie
 * elsewhere and would only make the search split where it need not.
 */
export class SearchMemory {
  private last: { keypoints: Float32Array; failures: FailedBox[] } | undefined;

  /** The failures this frame's search starts from (`searchCertifiedBox`'s `previous`). */
  start(keypoints: Float32Array, tolerance: number): FailedBox[] {
    const last = this.last;
    if (!last || last.keypoints.length !== keypoints.length) return [];
    return keypoints.every((v, i) => Math.abs(v - last.keypoints[i]!) <= tolerance) ? last.failures : [];
  }

  /** Records a frame's keypoints and the failures its search ended with. */
  record(keypoints: Float32Array, failures: FailedBox[]): void {
    this.last = { keypoints: Float32Array.from(keypoints), failures };
  }
}

/** How many recent certifier calls `CallCost` takes the median of. */
const CALL_COST_WINDOW = 8;

/** What `CallCost`'s estimate keeps per search that could afford no call. */
const CALL_COST_DECAY = 0.99;

/**
 * What one certifier call costs here, from the recent calls: a call once started runs to its end, so
 * a search starts one only when more than half of it fits in the budget left (`searchCertifiedBox`).
 * The median of the last few, so one slow call does not starve the next frames; and it loosens by
 * CALL_COST_DECAY with each search that could afford no call at all, so a cost measured in a slow
 * spell is measured again (a call that costs 6 × the budget then starts once in ~110 frames).
 */
export class CallCost {
  private readonly recent: number[] = [];
  private scale = 1;

  /** The next call's expected duration in ms; 0 before any call was measured. */
  get ms(): number {
    return this.recent.length === 0 ? 0 : this.scale * median(this.recent);
  }

  /** Records a call's duration. */
  record(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > CALL_COST_WINDOW) this.recent.shift();
    this.scale = 1;
  }

  /** A search ended without affording a call. */
  starved(): void {
    this.scale *= CALL_COST_DECAY;
  }
}

/** At most this many failures, the newest, are carried to the next frame: what a frame spends on them stays small. */
const MAX_FAILURES = 256;

/** Sub-boxes narrower than this share of the maximum box on both axes are not split further. */
export const MIN_SUB_BOX = 1 / 64;

/** The identity point as a box. */
const IDENTITY: Box = { alphaLo: 1, alphaHi: 1, betaLo: 0, betaHi: 0 };

/**
 * Whether two boxes share interior, an axis on which the maximum box has no width (a zero contrast
 * or brightness range) counting as shared: the search is then one-dimensional.
 */
function overlaps(a: Box, b: Box, max: Box): boolean {
  const flatA = max.alphaHi === max.alphaLo;
  const flatB = max.betaHi === max.betaLo;
  return (flatA || (a.alphaLo < b.alphaHi && b.alphaLo < a.alphaHi)) && (flatB || (a.betaLo < b.betaHi && b.betaLo < a.betaHi));
}

/** Fraction of the maximum box reached on each side by `b`. */
function extentOf(b: Box, max: Box): [number, number, number, number] {
  const frac = (v: number, full: number) => (full > 0 ? v / full : 1);
  return [frac(1 - b.alphaLo, 1 - max.alphaLo), frac(b.alphaHi - 1, max.alphaHi - 1), frac(0 - b.betaLo, 0 - max.betaLo), frac(b.betaHi, max.betaHi)];
}

/** `b` cut along the edges of `c`: the part inside `c` first (when there is one), then the parts outside. */
function cutAt(b: Box, c: Box, max: Box): Box[] {
  if (!overlaps(b, c, max)) return [b];
  const inner: Box = { alphaLo: Math.max(b.alphaLo, c.alphaLo), alphaHi: Math.min(b.alphaHi, c.alphaHi), betaLo: Math.max(b.betaLo, c.betaLo), betaHi: Math.min(b.betaHi, c.betaHi) };
  const out: Box[] = [inner];
  if (b.alphaLo < inner.alphaLo) out.push({ ...b, alphaHi: inner.alphaLo });
  if (inner.alphaHi < b.alphaHi) out.push({ ...b, alphaLo: inner.alphaHi });
  if (b.betaLo < inner.betaLo) out.push({ ...inner, betaLo: b.betaLo, betaHi: inner.betaLo });
  if (inner.betaHi < b.betaHi) out.push({ ...inner, betaLo: inner.betaHi, betaHi: b.betaHi });
  return out;
}

/**
 * A box is published only when no axis that has width in the maximum box was cut to zero width:
 * then every point of it lies in a proven sub-box (a collapsed segment could lie on the edge
 * between two unproven ones), else only the identity point is.
 */
function publishable(b: Box, max: Box): Box {
  const collapsed = (lo: number, hi: number, mlo: number, mhi: number) => mhi > mlo && !(hi > lo);
  return collapsed(b.alphaLo, b.alphaHi, max.alphaLo, max.alphaHi) || collapsed(b.betaLo, b.betaHi, max.betaLo, max.betaHi) ? IDENTITY : b;
}

/**
 * The box around the identity inside `max` that overlaps none of `bad` and reaches furthest (sum
 * of the four side extents): for every choice of the two sides of one axis among the edges of the
 * bad boxes, the other axis's sides are then forced (a bad box not excluded by the first axis must
 * be by the second; one straddling the identity on the second axis rules the choice out).
 */
function bestBoxAvoiding(bad: readonly Box[], max: Box): Box {
  let best = IDENTITY;
  let bestScore = 0;
  const consider = (b: Box) => {
    const p = publishable(b, max);
    const score = extentOf(p, max).reduce((a, e) => a + e, 0);
    if (score > bestScore) [best, bestScore] = [p, score];
  };
  const flat = (x: 'alpha' | 'beta') => max[`${x}Hi`] === max[`${x}Lo`];
  for (const axis of ['beta', 'alpha'] as const) {
    const other = axis === 'beta' ? 'alpha' : 'beta';
    const mid = (x: 'alpha' | 'beta') => (x === 'alpha' ? 1 : 0);
    const lo = `${axis}Lo` as const;
    const hi = `${axis}Hi` as const;
    const his = [...new Set([max[hi], ...bad.filter((b) => b[lo] >= mid(axis)).map((b) => b[lo])])];
    const los = [...new Set([max[lo], ...bad.filter((b) => b[hi] <= mid(axis)).map((b) => b[hi])])];
    for (const h of his) {
      for (const l of los) {
        let oLo = max[`${other}Lo`];
        let oHi = max[`${other}Hi`];
        let ok = true;
        for (const b of bad) {
          // A flat axis (no width in the maximum box) excludes nothing.
          if (!flat(axis) && (b[lo] >= h || b[hi] <= l)) continue;
          if (flat(other)) ok = false;
          else if (b[`${other}Lo`] >= mid(other)) oHi = Math.min(oHi, b[`${other}Lo`]);
          else if (b[`${other}Hi`] <= mid(other)) oLo = Math.max(oLo, b[`${other}Hi`]);
          else ok = false;
          if (!ok) break;
        }
        if (ok) consider({ [lo]: l, [hi]: h, [`${other}Lo`]: oLo, [`${other}Hi`]: oHi } as unknown as Box);
      }
    }
  }
  return best;
}

/**
 * Anytime search for the largest certified box around (1, 0) inside `max`, until the time budget.
 * The candidate starts as the whole maximum box (cut into grid × grid sub-boxes) and is proven by
 * branch-and-bound: each round bounds a full certifier call of the unproven sub-boxes inside the
 * candidate, nearest the identity first, and splits each one some keypoint is not proven on. A
 * sub-box still unproven at MIN_SUB_BOX of the maximum on both axes is given up, and the candidate
 * becomes the best box that avoids every given-up sub-box (`bestBoxAvoiding`); proven sub-boxes
 * stay proven, so no work is redone. When the budget runs out, the published box is the best one
 * avoiding everything still unproven: always covered by proven sub-boxes, the identity point at worst.
 * `previous` (the failures the stream's previous frame ended with) tells where to start:
 * consecutive frames of a stream fail on much the same sub-boxes, so a splittable sub-box that holds
 * one that failed in the last FAILURE_MEMORY frames is split without being bounded. That only
 * decides where the search splits, never what counts as proven. A call starts only while more than
 * half of it fits in the budget left, at `cost` (the caller's estimate, carried from frame to frame):
 * the search ends as near the budget as whole calls allow, at most about half a call past it, and a
 * model whose call costs more than twice the budget publishes the identity point in time.
 */
export async function searchCertifiedBox(bounds: BoundComputer, image: Float32Array, dims: number[], prop: KeypointProperty, max: Box, budgetMs: number, grid = 1, previous: readonly FailedBox[] = [], cost = new CallCost()): Promise<BoxSearchResult> {
  const t0 = performance.now();
  checkProperty(prop);
  if (!image.every(Number.isFinite)) throw new LuxcertError('the frame contains NaN or Inf: nothing can be certified about it');
  const k = prop.meta.keypoints.length;
  const per = bounds.options.boxes;
  const weight = alphaWeight(image);
  const minA = (max.alphaHi - max.alphaLo) * MIN_SUB_BOX;
  const minB = (max.betaHi - max.betaLo) * MIN_SUB_BOX;
  const splittable = (b: Box) => b.alphaHi - b.alphaLo > minA || b.betaHi - b.betaLo > minB;
  const remembered = previous.length <= MAX_FAILURES ? previous.filter((f) => f.age < FAILURE_MEMORY) : [];
  const holdsFailure = (b: Box) => remembered.some(({ box: f }) => f.alphaLo >= b.alphaLo && f.alphaHi <= b.alphaHi && f.betaLo >= b.betaLo && f.betaHi <= b.betaHi);
  /** `b`, or its halves (recursively) where it holds a recent failure: a box around a failed one fails too, nearly always. */
  const expand = (b: Box): Box[] => (splittable(b) && holdsFailure(b) ? splitBox(b, weight).flatMap(expand) : [b]);
  // The maximum box is always covered by proven sub-boxes (dropped), `unproven` and `hopeless`.
  let unproven: Box[] = gridBoxes(max, grid).flatMap(expand);
  const hopeless: Box[] = [];
  const failed: Box[] = [];
  let candidate: Box = max;
  let rounds = 0;
  let boxesBounded = 0;
  const area = (b: Box) => (b.alphaHi - b.alphaLo) * (b.betaHi - b.betaLo);
  const dist = (b: Box) => Math.max(0, b.alphaLo - 1, 1 - b.alphaHi) / (max.alphaHi - max.alphaLo || 1) + Math.max(0, b.betaLo, -b.betaHi) / (max.betaHi - max.betaLo || 1);
  while (performance.now() - t0 + cost.ms / 2 < budgetMs) {
    // Only what overlaps the candidate needs proof now; the rest waits in case the candidate moves.
    unproven = unproven.flatMap((b) => cutAt(b, candidate, max));
    let active = unproven.filter((b) => overlaps(b, candidate, max));
    if (active.length === 0) break;
    // A call costs about the same with one box as with `per`: split until the call is full.
    while (active.length * 2 <= per) {
      const split = new Set(active);
      active = active.flatMap((b) => splitBox(b, weight));
      unproven = [...unproven.filter((b) => !split.has(b)), ...active];
    }
    // Inside out: nearest the identity first (the largest among equals), so a proven core grows
    // outwards and what the budget leaves unproven lies at the rim, cheap to cut off.
    active.sort((a, b) => dist(a) - dist(b) || area(b) - area(a));
    const take = active.slice(0, per);
    const taken = new Set(take);
    unproven = unproven.filter((b) => !taken.has(b));
    const c0 = performance.now();
    const bs = await bounds.bounds(image, dims, take);
    cost.record(performance.now() - c0);
    rounds++;
    boxesBounded += take.length;
    let lost = false;
    take.forEach((sub, i) => {
      let proven = true;
      for (let j = 0; j < k && proven; j++) proven = isProven(proofMargin(prop, bs[i]!, j));
      if (proven) return;
      failed.push(sub);
      if (!splittable(sub)) {
        hopeless.push(sub);
        lost = true;
      } else unproven.push(...splitBox(sub, weight).flatMap(expand));
    });
    if (lost) candidate = bestBoxAvoiding(hopeless, max);
    if (candidate === IDENTITY) break;
  }
  if (rounds === 0) cost.starved();
  // Whatever is still unproven is cut off as cheaply as possible.
  const box = bestBoxAvoiding([...hopeless, ...unproven], max);
  const extent = extentOf(box, max);
  const failures = [...failed.map((b) => ({ box: b, age: 0 })), ...remembered.map((f) => ({ box: f.box, age: f.age + 1 }))].slice(0, MAX_FAILURES);
  return { box, extent, rounds, boxesBounded, ms: performance.now() - t0, complete: extent.every((e) => e >= 1), failures };
}
