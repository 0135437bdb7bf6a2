import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.ts';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { Progress } from '../core/progress.ts';
import { Rng } from '../core/random.ts';
import { ANNOTATIONS_FILE } from './coco.ts';
import { MAX_IMAGE_PIXELS, writePng } from './image.ts';
import { composeScene, finishScene, PAD_KEYPOINTS, PAD_SKELETON } from './scene.ts';
import { ScenePool } from './scene-pool.ts';

/** Options of the synthetic scene generator. */
export interface SynthOptions {
  out: string;
  count: number;
  /** Scene width and height in pixels. */
  size: number;
  seed: number;
  /** Worker threads that finish scenes (0: this thread); default all cores but one from MIN_POOLED_SCENES scenes on. */
  workers?: number;
}

/** Below this many scenes, starting the workers (~0.3 s) costs about what they save (~3 ms a scene on two cores: 2,400 scenes 16–19 → 11–12 s). */
export const MIN_POOLED_SCENES = 200;

/** At most this much memory in scenes composed but not yet written (large `--size` on many cores). */
const MAX_IN_FLIGHT_BYTES = 256 << 20;

/** Defaults: enough scenes for a CPU-trained detector to converge in minutes. */
export const SYNTH_DEFAULTS = { count: 2000, size: 96, seed: 1 } as const;

/** Writes `count` scenes as PNG files plus annotations.json (COCO keypoints layout) into `out`. */
export async function synthesize(opts: SynthOptions): Promise<void> {
  if (!Number.isInteger(opts.count) || opts.count <= 0) throw new LuxcertError(`--count must be a positive integer, got ${opts.count}`);
  if (!Number.isInteger(opts.size) || opts.size < 16) throw new LuxcertError(`--size must be an integer ≥ 16, got ${opts.size}`);
  // Scenes luxcert could not read back are not written: the reader refuses images over MAX_IMAGE_PIXELS.
  if (opts.size * opts.size > MAX_IMAGE_PIXELS) throw new LuxcertError(`--size must be at most ${Math.floor(Math.sqrt(MAX_IMAGE_PIXELS))} (images of at most ${MAX_IMAGE_PIXELS} pixels), got ${opts.size}`);
  if (!Number.isInteger(opts.seed)) throw new LuxcertError(`--seed must be an integer, got ${opts.seed}`);
  mkdirSync(join(opts.out, 'images'), { recursive: true });
  const rng = new Rng(opts.seed);
  const images = [];
  const annotations = [];
  const progress = new Progress('synth', opts.count);
  // The main thread composes, writes and hands PNG encoding to sharp's threads: on 2 cores one worker and two finished 2,400 scenes alike.
  const workers = opts.workers ?? (opts.count >= MIN_POOLED_SCENES ? Math.max(1, availableParallelism() - 1) : 0);
  const pool = workers > 0 ? new ScenePool(workers) : undefined;
  // Scenes are composed here, in the stream's order, and finished (on the pool where there is one), encoded
  // by sharp (off the main thread) and written while later ones are composed; a few at a time (MAX_IN_FLIGHT_BYTES).
  const inFlight: Promise<void>[] = [];
  // A scene in flight holds its linear image (4 bytes a value) and then its pixels (1 byte a value).
  const sceneBytes = opts.size * opts.size * 3 * 5;
  const window = Math.max(1, Math.min(2 * Math.max(1, workers) + 2, Math.floor(MAX_IN_FLIGHT_BYTES / sceneBytes)));
  try {
    for (let i = 0; i < opts.count; i++) {
      const scene = composeScene(rng, opts.size);
      const file = `images/${String(i).padStart(6, '0')}.png`;
      images.push({ id: i, file_name: file, width: opts.size, height: opts.size });
      annotations.push({
        id: i,
        image_id: i,
        category_id: 1,
        bbox: scene.bbox,
        area: scene.bbox[2] * scene.bbox[3],
        iscrowd: 0,
        keypoints: scene.keypoints,
        num_keypoints: scene.keypoints.filter((_, j) => j % 3 === 2).filter((v) => v > 0).length,
      });
      const done = (pool ? pool.finish(scene) : Promise.resolve().then(() => finishScene(scene)))
        .then((image) => writePng(join(opts.out, file), image))
        .then(() => progress.tick());
      // Observed at once, so a failure while earlier scenes are awaited is not an unhandled rejection; awaited below.
      done.catch(() => undefined);
      inFlight.push(done);
      if (inFlight.length >= window) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } catch (err) {
    // Nothing is left writing once this returns.
    await Promise.allSettled(inFlight);
    throw err;
  } finally {
    await pool?.close();
  }
  const coco = {
    info: { description: 'luxcert synthetic landing-pad scenes', generator: 'luxcert data synth', seed: opts.seed, size: opts.size, count: opts.count },
    images,
    annotations,
    categories: [{ id: 1, name: 'landing_pad', supercategory: 'marker', keypoints: PAD_KEYPOINTS, skeleton: PAD_SKELETON }],
  };
  // Written last and atomically: a folder without it is visibly incomplete.
  writeFileAtomic(join(opts.out, ANNOTATIONS_FILE), JSON.stringify(coco));
  log.info({ out: opts.out, count: opts.count, seconds: +progress.elapsed().toFixed(1) }, 'synthetic scenes written');
}
