import { LuxcertError } from '../core/errors.ts';
import { Rng } from '../core/random.ts';
import { readCoco, type CocoSet } from './coco.ts';
import { sampleWindow, toWindow, windowFromBbox } from './crop.ts';
import { readImage, type RgbImage } from './image.ts';

/** A decoded COCO set: each object with its image in memory. */
export interface LoadedSet extends CocoSet {
  images: RgbImage[];
}

/** Images decoded at once: sharp decodes off the main thread, on libuv's pool (four threads by default). */
const DECODE_IN_FLIGHT = 8;

/**
 * Reads a data set folder and decodes every image once, several at a time (a missing or corrupt
 * image is a one-line error: the first such file in the set's order).
 */
export async function loadDataset(dir: string): Promise<LoadedSet> {
  const set = readCoco(dir);
  const files = [...new Set(set.objects.map((o) => o.imageFile))];
  const decoded = new Map<string, RgbImage>();
  const failures = new Map<number, unknown>();
  let next = 0;
  const decodeNext = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) {
      try {
        decoded.set(files[i]!, await readImage(files[i]!));
      } catch (e) {
        failures.set(i, e);
      }
    }
  };
  await Promise.all(Array.from({ length: DECODE_IN_FLIGHT }, decodeNext));
  if (failures.size > 0) throw failures.get([...failures.keys()].reduce((a, b) => Math.min(a, b)));
  return { ...set, images: set.objects.map((o) => decoded.get(o.imageFile)!) };
}

/** Splits object indices into train and validation sets, reproducibly for a seed. */
export function splitIndices(n: number, valFraction: number, seed: number): { train: number[]; val: number[] } {
  if (!(valFraction > 0 && valFraction < 1)) throw new LuxcertError(`validation fraction must be between 0 and 1, got ${valFraction}`);
  const idx = Array.from({ length: n }, (_, i) => i);
  shuffle(idx, new Rng(seed));
  const nVal = Math.max(1, Math.round(n * valFraction));
  if (n - nVal < 1) throw new LuxcertError(`a data set of ${n} object(s) is too small to split into train and validation`);
  return { val: idx.slice(0, nVal).sort((a, b) => a - b), train: idx.slice(nVal) };
}

/** Fisher–Yates shuffle in place. */
export function shuffle<T>(a: T[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

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
