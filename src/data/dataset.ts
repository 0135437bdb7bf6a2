import { LuxcertError } from '../core/errors.ts';
import { Rng } from '../core/random.ts';
import { ANNOTATIONS_FILE, readCoco, type CocoSet } from './coco.ts';
import { readImage, type RgbImage } from './image.ts';

/** A decoded COCO set: each object with its image in memory. */
export interface LoadedSet extends CocoSet {
  images: RgbImage[];
}

/** Images decoded at once: sharp decodes off the main thread, on libuv's pool (four threads by default). */
const DECODE_IN_FLIGHT = 8;

/** The image with its pixels in shared memory, so training's batch worker (`BatchPrefetcher`) reads them without a copy. */
function inSharedMemory(img: RgbImage): RgbImage {
  const data = new Uint8Array(new SharedArrayBuffer(img.data.length));
  data.set(img.data);
  return { ...img, data };
}

/**
 * Reads a data set folder and decodes every image once, several at a time (a missing or corrupt
 * image is a one-line error: the first such file in the set's order), its pixels in shared memory.
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
        decoded.set(files[i]!, inSharedMemory(await readImage(files[i]!)));
      } catch (e) {
        failures.set(i, e);
      }
    }
  };
  await Promise.all(Array.from({ length: DECODE_IN_FLIGHT }, decodeNext));
  if (failures.size > 0) throw failures.get([...failures.keys()].reduce((a, b) => Math.min(a, b)));
  // Annotations made for another size of the image (a resized copy) would put every keypoint in the wrong place.
  for (const o of set.objects) {
    const img = decoded.get(o.imageFile)!;
    if (img.width !== o.imageWidth || img.height !== o.imageHeight) throw new LuxcertError(`${o.imageFile}: the image is ${img.width}×${img.height} but ${ANNOTATIONS_FILE} gives ${o.imageWidth}×${o.imageHeight}`);
  }
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
