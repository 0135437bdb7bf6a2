import type { Bound, BoundEmitter } from './emitter.ts';

/**
 * Bounds of the camera model clip(α·x + β, 0, 1) per pixel and box, in closed form: z = α·x + β
 * ranges over [l, u]; both lines have the chord's slope k = (clip(u) − clip(l)) / (u − l) and are
 * shifted down/up by the largest deviation of clip from the chord, reached at a kink (0 or 1)
 * inside [l, u] — so the relaxation is exact where no kink is reachable and equals the parallel
 * ReLU relaxation where one is (in IBP mode: the interval [clip(l), clip(u)]). One pass over
 * [B, C, H, W] instead of two generic ReLU relaxations over the packed [3B, C, H, W] rows: on
 * the 32 × 32 demo model this stage was ≈ 1.7 ms of a 6 ms bound pass, and it is the part that
 * pruning cannot shrink. Float32 rounding is left to the widening every claim gets
 * (certify/property.ts), as for every other operator: a constant slack here (2⁻²⁰) never vanishes
 * on small sub-boxes and turned provable keypoints into unknowns.
 */
export function cameraBound(em: BoundEmitter, image: string, box: { alphaLo: string; alphaHi: string; betaLo: string; betaHi: string }, dims: number[]): Bound {
  const col = (t: string) => em.op('Reshape', [t], { shape: [em.boxes, 1, 1, 1] });
  const half = em.scalar(0.5);
  const midA = col(em.mul(em.add(box.alphaLo, box.alphaHi), half));
  const radA = col(em.mul(em.sub(box.alphaHi, box.alphaLo), half));
  // α·x over the box for any sign of x: mid·x ∓ rad·|x|.
  const centre = em.mul(image, midA);
  const spread = em.mul(em.op('Abs', [image]), radA);
  const l = em.add(em.sub(centre, spread), col(box.betaLo));
  const u = em.add(em.add(centre, spread), col(box.betaHi));
  const clip01 = (t: string) => em.op('Clip', [t], { min: 0, max: 1 });
  const cl = clip01(l);
  const cu = clip01(u);
  // clip is monotone: in IBP its exact range is the interval.
  if (em.mode === 'ibp') return em.interval(cl, cu, dims);
  const k = em.op('Div', [em.sub(cu, cl), em.op('Clip', [em.sub(u, l)], { min: 1e-30 })]);
  // The kink v clamped into [l, u]: min(max(v, l), u); at an end of [l, u] the deviation is 0.
  const clampInto = (v: number) => {
    const atLeast = v === 0 ? em.relu(l) : em.add(em.relu(em.sub(l, em.scalar(v))), em.scalar(v));
    return em.sub(u, em.relu(em.sub(u, atLeast)));
  };
  const deviation = (z: string) => em.sub(clip01(z), em.add(cl, em.mul(k, em.sub(z, l))));
  const d0 = deviation(clampInto(0));
  const d1 = deviation(clampInto(1));
  // d0 ≤ 0 ≤ d1 in exact arithmetic, so each sum is the largest deviation to that side (or more).
  const above = em.add(em.relu(d0), em.relu(d1));
  const below = em.add(em.relu(em.neg(d0)), em.relu(em.neg(d1)));
  const base = em.sub(cl, em.mul(k, l));
  const a = em.mul(k, image);
  return {
    lo: em.stack(a, k, em.sub(base, below)),
    hi: em.stack(a, k, em.add(base, above)),
    exact: false,
    dims,
  };
}
