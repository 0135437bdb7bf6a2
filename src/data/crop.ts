import { perturbPixel } from '../model/perturbation.ts';

/** A square window in image coordinates; (0,0) is the top-left corner of the top-left pixel. */
export interface Window {
  cx: number;
  cy: number;
  side: number;
}

/** The square window centred on a bbox [x, y, w, h], `padding` times its longer side. */
export function windowFromBbox(bbox: readonly number[], padding: number): Window {
  const [x, y, w, h] = bbox as [number, number, number, number];
  return { cx: x + w / 2, cy: y + h / 2, side: Math.max(w, h) * padding };
}

/**
 * Resamples a window of an 8-bit RGB image (HWC) into `out` as CHW floats scaled by `scale`
 * (bilinear; outside the image counts as black), then through the perturbation clip(α·x + β, 0, 1)
 * where `perturb` is given (`perturbPixel`: what `perturbImage` would make of `out`, without its pass).
 */
export function sampleWindow(img: { width: number; height: number; data: Uint8Array }, win: Window, size: readonly [number, number], scale: number, out: Float32Array, offset = 0, perturb?: { alpha: number; beta: number }): void {
  const [oh, ow] = size;
  // Weight-0 reads still touch index 0: an empty image is read as all outside, from one black pixel.
  const empty = !(img.width > 0 && img.height > 0);
  const [w, h] = empty ? [0, 0] : [img.width, img.height];
  const data = empty ? new Uint8Array(3) : img.data;
  const x0 = win.cx - win.side / 2;
  const y0 = win.cy - win.side / 2;
  const plane = oh * ow;
  const [alpha, beta] = perturb ? [Math.fround(perturb.alpha), Math.fround(perturb.beta)] : [1, 0];
  // The sample grid is separable: each column's and row's two source indices and weights once. A source
  // outside the image keeps an index inside it with weight 0 (it reads black), so the loop has no branches.
  const cols = new Int32Array(2 * ow);
  const colW = new Float64Array(2 * ow);
  for (let j = 0; j < ow; j++) {
    const u = x0 + ((j + 0.5) * win.side) / ow - 0.5;
    const xi = Math.floor(u);
    const fx = u - xi;
    const [in0, in1] = [xi >= 0 && xi < w, xi + 1 >= 0 && xi + 1 < w];
    cols[2 * j] = in0 ? xi * 3 : 0;
    cols[2 * j + 1] = in1 ? (xi + 1) * 3 : 0;
    colW[2 * j] = in0 ? 1 - fx : 0;
    colW[2 * j + 1] = in1 ? fx : 0;
  }
  for (let i = 0; i < oh; i++) {
    const v = y0 + ((i + 0.5) * win.side) / oh - 0.5;
    const yi = Math.floor(v);
    const fy = v - yi;
    const in0 = yi >= 0 && yi < h;
    const in1 = yi + 1 >= 0 && yi + 1 < h;
    const row0 = in0 ? yi * w * 3 : 0;
    const row1 = in1 ? (yi + 1) * w * 3 : 0;
    const wy0 = in0 ? 1 - fy : 0;
    const wy1 = in1 ? fy : 0;
    // A pixel's three channels written out, with no inner loop, per-value branch or array destructuring:
    // 32 crops of 32 px 1.08 against 1.47 ms perturbed, 0.70 against 0.89 plain (medians of 15 alternating runs).
    for (let j = 0, at = offset + i * ow; j < ow; j++, at++) {
      const t0 = row0 + cols[2 * j]!;
      const t1 = row0 + cols[2 * j + 1]!;
      const b0 = row1 + cols[2 * j]!;
      const b1 = row1 + cols[2 * j + 1]!;
      const wx0 = colW[2 * j]!;
      const wx1 = colW[2 * j + 1]!;
      const r = ((data[t0]! * wx0 + data[t1]! * wx1) * wy0 + (data[b0]! * wx0 + data[b1]! * wx1) * wy1) * scale;
      const g = ((data[t0 + 1]! * wx0 + data[t1 + 1]! * wx1) * wy0 + (data[b0 + 1]! * wx0 + data[b1 + 1]! * wx1) * wy1) * scale;
      const b = ((data[t0 + 2]! * wx0 + data[t1 + 2]! * wx1) * wy0 + (data[b0 + 2]! * wx0 + data[b1 + 2]! * wx1) * wy1) * scale;
      if (perturb) {
        out[at] = perturbPixel(alpha, beta, Math.fround(r));
        out[at + plane] = perturbPixel(alpha, beta, Math.fround(g));
        out[at + 2 * plane] = perturbPixel(alpha, beta, Math.fround(b));
      } else {
        out[at] = r;
        out[at + plane] = g;
        out[at + 2 * plane] = b;
      }
    }
  }
}

/** Maps an image point into the resampled window's pixel coordinates. */
export function toWindow(win: Window, size: readonly [number, number], x: number, y: number): [number, number] {
  return [((x - (win.cx - win.side / 2)) * size[1]) / win.side, ((y - (win.cy - win.side / 2)) * size[0]) / win.side];
}
