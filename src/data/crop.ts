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
 * (bilinear; outside the image counts as black).
 */
export function sampleWindow(img: { width: number; height: number; data: Uint8Array }, win: Window, size: readonly [number, number], scale: number, out: Float32Array, offset = 0): void {
  const [oh, ow] = size;
  const { width: w, height: h, data } = img;
  const x0 = win.cx - win.side / 2;
  const y0 = win.cy - win.side / 2;
  const plane = oh * ow;
  // The sample grid is separable: each column's two source columns (−1 where outside) and weight once.
  const cols = new Int32Array(2 * ow);
  const fxs = new Float64Array(ow);
  for (let j = 0; j < ow; j++) {
    const u = x0 + ((j + 0.5) * win.side) / ow - 0.5;
    const xi = Math.floor(u);
    fxs[j] = u - xi;
    cols[2 * j] = xi >= 0 && xi < w ? xi * 3 : -1;
    cols[2 * j + 1] = xi + 1 >= 0 && xi + 1 < w ? (xi + 1) * 3 : -1;
  }
  for (let i = 0; i < oh; i++) {
    const v = y0 + ((i + 0.5) * win.side) / oh - 0.5;
    const yi = Math.floor(v);
    const fy = v - yi;
    const row0 = yi >= 0 && yi < h ? yi * w * 3 : -1;
    const row1 = yi + 1 >= 0 && yi + 1 < h ? (yi + 1) * w * 3 : -1;
    for (let j = 0; j < ow; j++) {
      const fx = fxs[j]!;
      const c0 = cols[2 * j]!;
      const c1 = cols[2 * j + 1]!;
      for (let c = 0; c < 3; c++) {
        const p00 = row0 < 0 || c0 < 0 ? 0 : data[row0 + c0 + c]!;
        const p01 = row0 < 0 || c1 < 0 ? 0 : data[row0 + c1 + c]!;
        const p10 = row1 < 0 || c0 < 0 ? 0 : data[row1 + c0 + c]!;
        const p11 = row1 < 0 || c1 < 0 ? 0 : data[row1 + c1 + c]!;
        const top = p00 * (1 - fx) + p01 * fx;
        const bottom = p10 * (1 - fx) + p11 * fx;
        out[offset + c * plane + i * ow + j] = (top * (1 - fy) + bottom * fy) * scale;
      }
    }
  }
}

/** Maps an image point into the resampled window's pixel coordinates. */
export function toWindow(win: Window, size: readonly [number, number], x: number, y: number): [number, number] {
  return [((x - (win.cx - win.side / 2)) * size[1]) / win.side, ((y - (win.cy - win.side / 2)) * size[0]) / win.side];
}
