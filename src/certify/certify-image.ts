import { LuxcertError } from '../core/errors.ts';
import { Rng } from '../core/random.ts';
import type { BoundComputer } from '../bounds/bounds.ts';
import { alphaWeight, checkBox, splitBox, type Box } from '../model/perturbation.ts';
import type { ModelRunner } from './model-runner.ts';
import { checkProperty, isProven, proofMargin, violates, type KeypointProperty } from './property.ts';
import { samplePoints } from './samples.ts';

/** The three verdicts of design brief §1. */
export type Verdict = 'certified' | 'falsified' | 'unknown';

/** The outcome for one keypoint of one image. */
export interface KeypointResult {
  verdict: Verdict;
  /** For falsified: the (α, β) that breaks the property, confirmed in onnxruntime, and the prediction there. */
  counterexample?: { alpha: number; beta: number; predicted: [number, number] };
}

/** Work limits of one image's search. */
export interface Budget {
  /** Wall-clock budget per image in milliseconds. */
  ms: number;
  /** Maximum sub-boxes bounded per image. */
  boxes: number;
}

/** Statistics of one image's search. */
export interface SearchStats {
  boxesBounded: number;
  boundCalls: number;
  samplesRun: number;
  ms: number;
}

interface Pending {
  box: Box;
  /** Keypoints not yet proven on this box. */
  keypoints: number[];
  /** The parent's smallest margin among them: the closer to 0, the sooner it is tried. */
  priority: number;
}

/**
 * Certifies, falsifies or gives up on each keypoint of one image over `box`: sampled points first
 * (corners, grid, random; run in onnxruntime), then input-space branch-and-bound on the 2-D box,
 * bounding many sub-boxes per call, the sub-boxes closest to proven first, dropping keypoints as
 * they are proven and checking the corners of every unproven sub-box for counterexamples.
 */
export async function certifyImage(bounds: BoundComputer, runner: ModelRunner, image: Float32Array, prop: KeypointProperty, box: Box, keypoints: number[], budget: Budget, seed: number): Promise<{ results: Map<number, KeypointResult>; stats: SearchStats }> {
  const t0 = performance.now();
  if (!image.every(Number.isFinite)) throw new LuxcertError('the image contains NaN or Inf: nothing can be certified about it');
  checkBox(box);
  checkProperty(prop, keypoints);
  const k = prop.meta.keypoints.length;
  const results = new Map<number, KeypointResult>();
  const stats: SearchStats = { boxesBounded: 0, boundCalls: 0, samplesRun: 0, ms: 0 };
  const rng = new Rng(seed);

  // Sub-boxes share corners with their parents and siblings: run each point once.
  const tried = new Set<string>();
  const tryPoints = async (candidates: [number, number][], open: Set<number>) => {
    const points = candidates.filter(([a, b]) => {
      const key = `${a},${b}`;
      if (tried.has(key)) return false;
      tried.add(key);
      return true;
    });
    if (points.length === 0 || open.size === 0) return;
    const pred = await runner.keypointsAt(image, points);
    stats.samplesRun += points.length;
    points.forEach(([alpha, beta], i) => {
      const p = pred.subarray(i * k * 2, (i + 1) * k * 2);
      for (const j of [...open]) {
        if (!violates(prop, p, j)) continue;
        results.set(j, { verdict: 'falsified', counterexample: { alpha, beta, predicted: [p[2 * j]!, p[2 * j + 1]!] } });
        open.delete(j);
      }
    });
  };

  const open = new Set(keypoints);
  const weight = alphaWeight(image);
  await tryPoints(samplePoints(box, 3, 8, rng), open);
  let queue: Pending[] = open.size > 0 ? [{ box, keypoints: [...open], priority: 0 }] : [];
  const dims = [3, ...prop.meta.inputSize];
  while (queue.length > 0) {
    if (performance.now() - t0 > budget.ms || stats.boxesBounded >= budget.boxes) break;
    // A call costs the same with one box as with a full batch: while the queue fits in a call twice
    // over, bound the halves instead (the levels a search would climb one nearly empty call at a
    // time) — never past the sub-box budget, so a budget of one box still means one pass on the box.
    const room = Math.min(bounds.options.boxes, budget.boxes - stats.boxesBounded);
    while (2 * queue.length <= room) queue = queue.flatMap((p) => splitBox(p.box, weight).map((half) => ({ ...p, box: half })));
    queue.sort((a, b) => b.priority - a.priority);
    const take = queue.splice(0, bounds.options.boxes);
    const bs = await bounds.bounds(image, dims, take.map((p) => p.box));
    stats.boundCalls++;
    stats.boxesBounded += take.length;
    const next: Pending[] = [];
    const corners: [number, number][] = [];
    take.forEach((p, i) => {
      const live = p.keypoints.filter((j) => open.has(j));
      const margins = live.map((j) => proofMargin(prop, bs[i]!, j));
      const unproven = live.filter((_, n) => !isProven(margins[n]!));
      if (unproven.length === 0) return;
      const b = p.box;
      corners.push([b.alphaLo, b.betaLo], [b.alphaLo, b.betaHi], [b.alphaHi, b.betaLo], [b.alphaHi, b.betaHi]);
      // A NaN margin will not improve by splitting: such boxes go last.
      const priority = Math.min(...margins.filter((m) => !isProven(m)).map((m) => (Number.isNaN(m) ? -Infinity : m)));
      for (const child of splitBox(b, weight)) next.push({ box: child, keypoints: unproven, priority });
    });
    await tryPoints(corners, open);
    queue = [...queue, ...next].map((p) => ({ ...p, keypoints: p.keypoints.filter((j) => open.has(j)) })).filter((p) => p.keypoints.length > 0);
  }
  const stillOpen = new Set(queue.flatMap((p) => p.keypoints));
  for (const j of open) results.set(j, { verdict: stillOpen.has(j) ? 'unknown' : 'certified' });
  stats.ms = performance.now() - t0;
  return { results, stats };
}
