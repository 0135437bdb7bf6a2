import { Rng, type RngState } from '../core/random.ts';
import { homography, project } from './homography.ts';
import type { RgbImage } from './image.ts';

/** The landing pad's keypoints: its corners, clockwise from the one with the red marker. */
export const PAD_KEYPOINTS = ['pad_marked', 'pad_right', 'pad_far', 'pad_left'];
const PAD_CORNERS: [number, number][] = [[0, 0], [1, 0], [1, 1], [0, 1]];
export const PAD_SKELETON = [[1, 2], [2, 3], [3, 4], [4, 1]];

type Rgb = [number, number, number];

/** The pad's colour at pad coordinates (u, v) ∈ [0,1]²: white rim, dark deck, yellow H, red marker. */
function padColour(u: number, v: number, tint: Rgb): Rgb {
  let c: Rgb;
  if (Math.min(u, v, 1 - u, 1 - v) < 0.08) c = [0.93, 0.93, 0.9];
  else if ((u - 0.2) ** 2 + (v - 0.2) ** 2 < 0.07 ** 2) c = [0.85, 0.1, 0.1];
  else if (((u > 0.3 && u < 0.38) || (u > 0.62 && u < 0.7)) && v > 0.25 && v < 0.75) c = [0.95, 0.8, 0.1];
  else if (u > 0.3 && u < 0.7 && v > 0.46 && v < 0.54) c = [0.95, 0.8, 0.1];
  else c = [0.2, 0.22, 0.24];
  return [c[0] * tint[0], c[1] * tint[1], c[2] * tint[2]];
}

const colour = (rng: Rng): Rgb => [rng.next(), rng.next(), rng.next()];

/** A smooth two-colour noise texture with random rectangles, discs and bars on it. */
function background(rng: Rng, size: number): Float32Array {
  const img = new Float32Array(size * size * 3);
  const a = colour(rng);
  const b = colour(rng);
  const g = 6;
  const grid = Float32Array.from({ length: (g + 1) * (g + 1) }, () => rng.next());
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const gx = (x / size) * g;
      const gy = (y / size) * g;
      const ix = Math.floor(gx);
      const iy = Math.floor(gy);
      const fx = gx - ix;
      const fy = gy - iy;
      const i0 = iy * (g + 1) + ix;
      const i1 = i0 + g + 1;
      const t = (grid[i0]! * (1 - fx) + grid[i0 + 1]! * fx) * (1 - fy) + (grid[i1]! * (1 - fx) + grid[i1 + 1]! * fx) * fy;
      for (let c = 0; c < 3; c++) img[(y * size + x) * 3 + c] = a[c]! * (1 - t) + b[c]! * t;
    }
  }
  const shapes = rng.int(4, 10);
  for (let s = 0; s < shapes; s++) paintShape(rng, img, size, rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0.05, 0.3) * size, colour(rng));
  return img;
}

/** Paints a random rectangle, disc or bar centred at (cx, cy); returns the inside test. */
function paintShape(rng: Rng, img: Float32Array, size: number, cx: number, cy: number, r: number, c: Rgb): (x: number, y: number) => boolean {
  const kind = rng.int(0, 2);
  const angle = rng.uniform(0, Math.PI);
  const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
  const aspect = kind === 2 ? 0.2 : rng.uniform(0.5, 1);
  const inside = (x: number, y: number) => {
    const dx = (x - cx) * ca + (y - cy) * sa;
    const dy = -(x - cx) * sa + (y - cy) * ca;
    return kind === 1 ? (dx / r) ** 2 + (dy / (r * aspect)) ** 2 < 1 : Math.abs(dx) < r && Math.abs(dy) < r * aspect;
  };
  for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(size, Math.ceil(cy + r)); y++) {
    for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(size, Math.ceil(cx + r)); x++) {
      if (!inside(x + 0.5, y + 0.5)) continue;
      const i = (y * size + x) * 3;
      [img[i], img[i + 1], img[i + 2]] = c;
    }
  }
  return inside;
}

/** Where each pixel is sampled for the pad's 2×2 supersampling. */
const SUBSAMPLES = [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]] as const;

/** A scene before its final pass: the linear image, the illumination and noise to apply, and where the noise's stream starts. */
export interface ComposedScene {
  size: number;
  /** size × size × 3 values in [0, 1] (HWC), before illumination. */
  linear: Float32Array;
  light: { gain: number; gx: number; gy: number; gamma: number; noise: number };
  /** The generator's state at the first of the noise's normals. */
  noiseStream: RngState;
  /** x, y, visibility (COCO: 0 outside, 1 occluded, 2 visible) per corner. */
  keypoints: number[];
  bbox: [number, number, number, number];
}

/**
 * The scene's content — the pad under a random perspective pose, clutter, occlusion and the
 * illumination to apply — drawn from `rng`, which is left where the whole scene's draws end.
 */
export function composeScene(rng: Rng, size: number): ComposedScene {
  const img = background(rng, size);
  const side = rng.uniform(0.35, 0.6) * size;
  const cx = size * (0.5 + rng.uniform(-0.15, 0.15));
  const cy = size * (0.5 + rng.uniform(-0.15, 0.15));
  const yaw = rng.uniform(-35, 35) * (Math.PI / 180);
  const far = rng.uniform(0.7, 1); // foreshortening of the far edge (a camera looking down at an angle)
  const quad = PAD_CORNERS.map(([u, v]) => {
    let x = (u - 0.5) * (v === 0 ? far : 1) + rng.normal() * 0.04;
    let y = (v - 0.5) * (v === 0 ? 0.7 + 0.3 * far : 1) + rng.normal() * 0.04;
    [x, y] = [x * Math.cos(yaw) - y * Math.sin(yaw), x * Math.sin(yaw) + y * Math.cos(yaw)];
    return [cx + x * side, cy + y * side] as [number, number];
  });
  const toPad = homography(quad, PAD_CORNERS);
  const tint: Rgb = [rng.uniform(0.8, 1.1), rng.uniform(0.8, 1.1), rng.uniform(0.8, 1.1)];
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const [x0, x1] = [Math.max(0, Math.floor(Math.min(...xs))), Math.min(size, Math.ceil(Math.max(...xs)))];
  const [y0, y1] = [Math.max(0, Math.floor(Math.min(...ys))), Math.min(size, Math.ceil(Math.max(...ys)))];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      // 2×2 supersampling anti-aliases the pad's edges.
      let [r, g, b] = [0, 0, 0];
      let hits = 0;
      for (const [sx, sy] of SUBSAMPLES) {
        const [u, v] = project(toPad, x + sx, y + sy);
        if (u < 0 || u > 1 || v < 0 || v > 1) continue;
        const c = padColour(u, v, tint);
        [r, g, b] = [r + c[0], g + c[1], b + c[2]];
        hits++;
      }
      if (hits === 0) continue;
      const i = (y * size + x) * 3;
      [img[i], img[i + 1], img[i + 2]] = [(r + img[i]! * (4 - hits)) / 4, (g + img[i + 1]! * (4 - hits)) / 4, (b + img[i + 2]! * (4 - hits)) / 4];
    }
  }
  const visible: number[] = quad.map(([x, y]) => (x >= 0 && y >= 0 && x < size && y < size ? 2 : 0));
  if (rng.next() < 0.35) {
    const edge = rng.int(0, 3);
    const t = rng.next();
    const [ax, ay] = quad[edge]!;
    const [bx, by] = quad[(edge + 1) % 4]!;
    const inside = paintShape(rng, img, size, ax + (bx - ax) * t, ay + (by - ay) * t, rng.uniform(0.12, 0.3) * side, colour(rng));
    quad.forEach(([x, y], j) => {
      if (visible[j] === 2 && inside(x, y)) visible[j] = 1;
    });
  }
  const light = { gain: rng.uniform(0.6, 1.3), gx: rng.uniform(-0.4, 0.4), gy: rng.uniform(-0.4, 0.4), gamma: rng.uniform(0.8, 1.25), noise: rng.uniform(0.005, 0.03) };
  const noiseStream = rng.snapshot();
  // The final pass draws one normal per value and nothing after it: the stream moves past them here,
  // so the next scene can be composed while this one is finished elsewhere.
  rng.skipNormals(size * size * 3);
  const keypoints = quad.flatMap(([x, y], j) => [x, y, visible[j]!]);
  return { size, linear: img, light, noiseStream, keypoints, bbox: [Math.min(...xs), Math.min(...ys), Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)] };
}

/** A scene's 8-bit pixels: its illumination, gamma and sensor noise applied to the composed image (the costly part: a power and a normal per value). */
export function finishScene(scene: ComposedScene): RgbImage {
  const { size, linear, light: { gain, gx, gy, gamma, noise } } = scene;
  const rng = Rng.resume(scene.noiseStream);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const light = gain + gx * (x / size - 0.5) + gy * (y / size - 0.5);
      for (let k = 0; k < 3; k++) {
        const i = (y * size + x) * 3 + k;
        const v = Math.pow(Math.max(0, linear[i]! * light), gamma) + rng.normal() * noise;
        data[i] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
    }
  }
  return { width: size, height: size, data };
}

/** One scene as `synthesize` writes it: `composeScene`, then `finishScene`. */
export function renderScene(rng: Rng, size: number): { image: RgbImage; keypoints: number[]; bbox: [number, number, number, number] } {
  const scene = composeScene(rng, size);
  return { image: finishScene(scene), keypoints: scene.keypoints, bbox: scene.bbox };
}
