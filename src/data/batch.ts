import { Rng } from '../core/random.ts';
import { sampleWindow, toWindow, windowFromBbox } from './crop.ts';
import type { LoadedSet } from './dataset.ts';

/** Random augmentation: window jitter and the brightness/contrast perturbation clip(α·x + β, 0, 1). */
export interface Augment {
  /** Window centre shift, as a fraction of its side. */
  shift: number;
  /** Window side scaled by a factor in [1 − scale, 1 + scale]. */
  scale: number;
  /** β ∈ [−brightness, brightness]. */
  brightness: number;
  /** α ∈ [1 − contrast, 1 + contrast]. */
  contrast: number;
}

/** The augmentation used for training unless told otherwise. */
export const DEFAULT_AUGMENT: Augment = { shift: 0.06, scale: 0.08, brightness: 0.2, contrast: 0.2 };

/** Model inputs and targets for a list of objects. */
export interface Batch {
  n: number;
  /** N×3×H×W in [0, 1]. */
  x: Float32Array;
  /** N×K×2 keypoints in input pixels. */
  keypoints: Float32Array;
  /** N×K: 1 where the keypoint is labelled (COCO v > 0), else 0; unlabelled ones are masked out. */
  mask: Float32Array;
}

/** Crops, resizes and (optionally) augments objects into a batch. */
export function makeBatch(set: LoadedSet, indices: readonly number[], size: readonly [number, number], padding: number, augment?: { rng: Rng; params: Augment }): Batch {
  const k = set.keypointNames.length;
  const n = indices.length;
  const plane = 3 * size[0] * size[1];
  const x = new Float32Array(n * plane);
  const keypoints = new Float32Array(n * k * 2);
  const mask = new Float32Array(n * k);
  indices.forEach((idx, b) => {
    const o = set.objects[idx]!;
    const win = windowFromBbox(o.bbox, padding);
    let alpha = 1;
    let beta = 0;
    if (augment) {
      const { rng, params } = augment;
      win.cx += rng.uniform(-params.shift, params.shift) * win.side;
      win.cy += rng.uniform(-params.shift, params.shift) * win.side;
      win.side *= 1 + rng.uniform(-params.scale, params.scale);
      alpha = 1 + rng.uniform(-params.contrast, params.contrast);
      beta = rng.uniform(-params.brightness, params.brightness);
    }
    sampleWindow(set.images[idx]!, win, size, 1 / 255, x, b * plane, alpha !== 1 || beta !== 0 ? { alpha, beta } : undefined);
    for (let j = 0; j < k; j++) {
      const [px, py] = toWindow(win, size, o.keypoints[3 * j]!, o.keypoints[3 * j + 1]!);
      keypoints[(b * k + j) * 2] = px;
      keypoints[(b * k + j) * 2 + 1] = py;
      mask[b * k + j] = o.keypoints[3 * j + 2]! > 0 ? 1 : 0;
    }
  });
  return { n, x, keypoints, mask };
}

/**
 * One epoch's batches, made as they are asked for: `order` cut into batches of `batchSize`, all augmented
 * from one `Rng(seed)` in turn (not at all without `augment` and a seed). The trainer's batches on the
 * main thread and on `BatchPrefetcher`'s worker both come from here.
 */
export function* epochBatches(set: LoadedSet, order: readonly number[], batchSize: number, size: readonly [number, number], padding: number, augment?: Augment, seed?: number): Generator<Batch> {
  const augmented = augment && seed !== undefined ? { rng: new Rng(seed), params: augment } : undefined;
  for (let s = 0; s < order.length; s += batchSize) yield makeBatch(set, order.slice(s, s + batchSize), size, padding, augmented);
}
