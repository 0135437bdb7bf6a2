import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { LuxcertError } from '../core/errors.ts';

/** One keypoint-annotated object, as in COCO: keypoints are [x, y, v] triplets, v = 0 unlabelled. */
export interface CocoObject {
  imageFile: string;
  imageWidth: number;
  imageHeight: number;
  bbox: [number, number, number, number];
  keypoints: number[];
}

/** A COCO-keypoints data set: the objects of one category, with its keypoint names and skeleton. */
export interface CocoSet {
  dir: string;
  category: string;
  keypointNames: string[];
  /** 0-based pairs (COCO files store them 1-based). */
  skeleton: [number, number][];
  objects: CocoObject[];
  info: Record<string, unknown>;
}

interface RawCoco {
  info?: Record<string, unknown>;
  images?: { id: number; file_name: string; width: number; height: number }[];
  annotations?: { image_id: number; category_id: number; bbox: number[]; keypoints: number[]; num_keypoints?: number }[];
  categories?: { id: number; name: string; keypoints?: string[]; skeleton?: number[][] }[];
}

/** The annotation file of a data set folder. */
export const ANNOTATIONS_FILE = 'annotations.json';

/**
 * Reads `DIR/annotations.json` (COCO keypoints layout, image paths relative to DIR). Objects with no
 * labelled keypoint are skipped. Every malformed field is a one-line error naming the file and entry.
 */
export function readCoco(dir: string): CocoSet {
  const path = join(dir, ANNOTATIONS_FILE);
  if (!existsSync(path)) throw new LuxcertError(`${dir}: no ${ANNOTATIONS_FILE} (not a COCO-keypoints data set folder)`);
  let raw: RawCoco;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as RawCoco;
  } catch (e) {
    throw new LuxcertError(`${path}: malformed JSON (${(e as Error).message})`);
  }
  const bad = (what: string) => new LuxcertError(`${path}: ${what}`);
  if (!Array.isArray(raw.images) || !Array.isArray(raw.annotations) || !Array.isArray(raw.categories)) throw bad('needs "images", "annotations" and "categories" arrays');
  const cat = raw.categories.find((c) => Array.isArray(c.keypoints) && c.keypoints.length > 0);
  if (!cat) throw bad('no category with "keypoints" names');
  const k = cat.keypoints!.length;
  const skeleton = (cat.skeleton ?? []).map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((j) => Number.isInteger(j) && j >= 1 && j <= k)) throw bad(`category '${cat.name}' skeleton entry ${i} is not a pair of keypoint numbers 1..${k}`);
    return [p[0]! - 1, p[1]! - 1] as [number, number];
  });
  const images = new Map<number, NonNullable<RawCoco['images']>[number]>();
  for (const im of raw.images) {
    if (images.has(im.id)) throw bad(`image id ${im.id} appears twice in "images"`);
    images.set(im.id, im);
  }
  const objects: CocoObject[] = [];
  raw.annotations.forEach((a, i) => {
    if (a.category_id !== cat.id) return;
    const im = images.get(a.image_id);
    if (!im) throw bad(`annotation ${i} refers to image_id ${a.image_id}, which is not in "images"`);
    if (typeof im.file_name !== 'string' || !(im.width > 0) || !(im.height > 0)) throw bad(`image ${im.id} needs file_name, width and height`);
    if (isAbsolute(im.file_name) || !resolve(dir, im.file_name).startsWith(resolve(dir) + sep)) throw bad(`image ${im.id} file_name '${im.file_name}' leads outside the data set folder`);
    if (!Array.isArray(a.keypoints) || a.keypoints.length !== 3 * k) {
      throw bad(`annotation ${i} has ${Array.isArray(a.keypoints) ? a.keypoints.length / 3 : 'no'} keypoint triplets, category '${cat.name}' has ${k}`);
    }
    a.keypoints.forEach((v, j) => {
      const name = cat.keypoints![Math.floor(j / 3)];
      if (!Number.isFinite(v)) throw bad(`annotation ${i} keypoint '${name}' has ${'xyv'[j % 3]} = ${JSON.stringify(v)}, not a finite number`);
      if (j % 3 === 2 && v !== 0 && v !== 1 && v !== 2) throw bad(`annotation ${i} keypoint '${name}' has visibility ${v} (COCO: 0 unlabelled, 1 occluded, 2 visible)`);
    });
    if (!Array.isArray(a.bbox) || a.bbox.length !== 4 || !a.bbox.every(Number.isFinite) || !(a.bbox[2]! > 0 && a.bbox[3]! > 0)) throw bad(`annotation ${i} has no valid bbox [x, y, w, h]`);
    // A box may reach past its image (an object partly out of view) but must meet it and stay within one image size of it:
    // anything else is a box in another frame or scale, which would train on crops of the wrong place.
    const [x, y, w, h] = a.bbox as [number, number, number, number];
    if (!(x < im.width && y < im.height && x + w > 0 && y + h > 0 && x >= -im.width && y >= -im.height && x + w <= 2 * im.width && y + h <= 2 * im.height)) {
      throw bad(`annotation ${i} bbox [${a.bbox.join(', ')}] does not meet image ${im.id} (${im.width}×${im.height}) or reaches more than the image's size beyond it`);
    }
    if (!a.keypoints.some((v, j) => j % 3 === 2 && v > 0)) return;
    objects.push({ imageFile: join(dir, im.file_name), imageWidth: im.width, imageHeight: im.height, bbox: a.bbox as [number, number, number, number], keypoints: a.keypoints });
  });
  if (objects.length === 0) throw bad('empty data set: no annotation with a labelled keypoint');
  return { dir, category: cat.name, keypointNames: cat.keypoints!, skeleton, objects, info: raw.info ?? {} };
}
