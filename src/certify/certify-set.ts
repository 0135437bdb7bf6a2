import { join } from 'node:path';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { writeNpy } from '../core/npy.ts';
import { Progress } from '../core/progress.ts';
import { Rng } from '../core/random.ts';
import type { LoadedSet } from '../data/dataset.ts';
import { makeBatch } from '../data/batch.ts';
import type { ModelMeta } from '../model/metadata.ts';
import type { BoundComputer } from '../bounds/bounds.ts';
import type { Box } from '../model/perturbation.ts';
import { certifyImage, type Budget, type Verdict } from './certify-image.ts';
import type { ModelRunner } from './model-runner.ts';
import { violates, type KeypointProperty } from './property.ts';
import { samplePoints } from './samples.ts';
import { quantile } from '../core/quantile.ts';

/** What a certification run checks. */
export interface CertifyConfig {
  /** Perturbation boxes; each is run with each tolerance. */
  boxes: Box[];
  tolerances: number[];
  /** Reference point: the ground truth ("certified accuracy") or the clean prediction ("certified stability"). */
  reference: 'truth' | 'prediction';
  budget: Budget;
  seed: number;
  /** Objects to certify (default all). */
  limit?: number;
  /** Write each preprocessed model input as <dir>/object-<i>.npy. */
  saveInputs?: string;
  /** Sampled perturbations per certified claim for the soundness check (0: none). */
  check: number;
}

/** One (image, keypoint) claim, auditable without luxcert. */
export interface Claim {
  object: number;
  image: string;
  input?: string;
  keypoint: string;
  verdict: Verdict;
  reference: [number, number];
  tolerance: number;
  box: Box;
  counterexample?: { alpha: number; beta: number; predicted: [number, number] };
}

/** Figures of one (box, tolerance) setting. */
export interface SettingSummary {
  box: Box;
  tolerance: number;
  pairs: number;
  certified: number;
  falsified: number;
  unknown: number;
  /** certified / pairs */
  coverage: number;
  /** share of objects whose keypoints are all certified */
  frameCoverage: number;
  falsifiedShare: number;
  unknownShare: number;
  msPerImage: { median: number; p95: number; mean: number };
  boxesBoundedPerImage: number;
  soundness?: { claimsChecked: number; samples: number; violations: number };
}

/** The most sampled perturbations per image checked against its certified claims: every sample's keypoints are held at once (10⁹ ended the process). */
export const MAX_CHECK_SAMPLES = 100_000;

/** Certifies every object of a data set under every (box, tolerance) setting. */
export async function certifySet(bounds: BoundComputer, runner: ModelRunner, meta: ModelMeta, set: LoadedSet, cfg: CertifyConfig): Promise<{ settings: SettingSummary[]; claims: Claim[] }> {
  if (set.keypointNames.length !== meta.keypoints.length) {
    throw new LuxcertError(`${set.dir} has ${set.keypointNames.length} keypoints per object but the model head predicts ${meta.keypoints.length} (keypoint count does not match the model head)`);
  }
  for (const t of cfg.tolerances) if (!(t >= 0) || !Number.isFinite(t)) throw new LuxcertError(`--tolerance must be a number ≥ 0, got ${t}`);
  if (!(Number.isInteger(cfg.check) && cfg.check >= 0 && cfg.check <= MAX_CHECK_SAMPLES)) throw new LuxcertError(`--check must be an integer in 0..${MAX_CHECK_SAMPLES}, got ${cfg.check}`);
  const k = meta.keypoints.length;
  const indices = set.objects.map((_, i) => i).slice(0, cfg.limit ?? set.objects.length);
  const batch = makeBatch(set, indices, meta.inputSize, meta.cropPadding);
  const plane = 3 * meta.inputSize[0] * meta.inputSize[1];
  const images = indices.map((_, n) => batch.x.subarray(n * plane, (n + 1) * plane));
  const clean: Float32Array[] = [];
  for (const im of images) clean.push(await runner.keypointsAt(im, [[1, 0]]));
  const inputFiles = indices.map((i) => `object-${i}.npy`);
  if (cfg.saveInputs) images.forEach((im, n) => writeNpy(join(cfg.saveInputs!, inputFiles[n]!), [1, 3, ...meta.inputSize], im));

  const settings: SettingSummary[] = [];
  const claims: Claim[] = [];
  for (const box of cfg.boxes) {
    for (const tolerance of cfg.tolerances) {
      const progress = new Progress(`certify α[${box.alphaLo},${box.alphaHi}] β[${box.betaLo},${box.betaHi}] τ=${tolerance}`, images.length);
      const times: number[] = [];
      let frames = 0;
      let boxesBounded = 0;
      const soundness = { claimsChecked: 0, samples: 0, violations: 0 };
      const counts = { certified: 0, falsified: 0, unknown: 0 };
      for (let n = 0; n < images.length; n++) {
        const ref = cfg.reference === 'truth' ? batch.keypoints.subarray(n * k * 2, (n + 1) * k * 2) : clean[n]!;
        const labelled = Array.from({ length: k }, (_, j) => j).filter((j) => cfg.reference === 'prediction' || batch.mask[n * k + j]! > 0);
        const prop: KeypointProperty = { meta, reference: ref, tolerance };
        const { results, stats } = await certifyImage(bounds, runner, images[n]!, prop, box, labelled, cfg.budget, cfg.seed + n);
        times.push(stats.ms);
        boxesBounded += stats.boxesBounded;
        let all = labelled.length > 0;
        for (const j of labelled) {
          const r = results.get(j)!;
          counts[r.verdict]++;
          if (r.verdict !== 'certified') all = false;
          claims.push({
            object: indices[n]!, image: set.objects[indices[n]!]!.imageFile, ...(cfg.saveInputs ? { input: inputFiles[n]! } : {}), keypoint: meta.keypoints[j]!,
            verdict: r.verdict, reference: [ref[2 * j]!, ref[2 * j + 1]!], tolerance, box, ...(r.counterexample ? { counterexample: r.counterexample } : {}),
          });
        }
        if (all) frames++;
        const proven = labelled.filter((j) => results.get(j)!.verdict === 'certified');
        if (cfg.check > 0 && proven.length > 0) {
          // About half the samples on a grid (corners included), the rest uniform.
          const grid = Math.max(2, Math.floor(Math.sqrt(cfg.check / 2)));
          const pts = samplePoints(box, grid, Math.max(0, cfg.check - 5 - grid * grid), new Rng(cfg.seed * 31 + n));
          const pred = await runner.keypointsAt(images[n]!, pts);
          soundness.claimsChecked += proven.length;
          soundness.samples += pts.length * proven.length;
          pts.forEach((_, s) => {
            for (const j of proven) if (violates(prop, pred.subarray(s * k * 2, (s + 1) * k * 2), j)) soundness.violations++;
          });
        }
        progress.tick(1, `${counts.certified}/${counts.certified + counts.falsified + counts.unknown} certified`);
      }
      const pairs = counts.certified + counts.falsified + counts.unknown;
      const s: SettingSummary = {
        box, tolerance, pairs, ...counts,
        coverage: pairs ? counts.certified / pairs : 0,
        frameCoverage: images.length ? frames / images.length : 0,
        falsifiedShare: pairs ? counts.falsified / pairs : 0,
        unknownShare: pairs ? counts.unknown / pairs : 0,
        msPerImage: { median: quantile(times, 0.5), p95: quantile(times, 0.95), mean: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length) },
        boxesBoundedPerImage: boxesBounded / Math.max(1, images.length),
        ...(cfg.check > 0 ? { soundness } : {}),
      };
      if (s.soundness && s.soundness.violations > 0) log.error({ violations: s.soundness.violations }, 'SOUNDNESS VIOLATION: a certified claim was broken by a sampled perturbation');
      settings.push(s);
    }
  }
  return { settings, claims };
}
