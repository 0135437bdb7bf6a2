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
  const px = (x: number, y: number, c: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : data[(y * w + x) * 3 + c]!);
  for (let i = 0; i < oh; i++) {
    const v = y0 + ((i + 0.5) * win.side) / oh - 0.5;
    const yi = Math.floor(v);
    const fy = v - yi;
    for (let j = 0; j < ow; j++) {
      const u = x0 + ((j + 0.5) * win.side) / ow - 0.5;
      const xi = Math.floor(u);
      const fx = u - xi;
      for (let c = 0; c < 3; c++) {
        const top = px(xi, yi, c) * (1 - fx) + px(xi + 1, yi, c) * fx;
        const bottom = px(xi, yi + 1, c) * (1 - fx) + px(xi + 1, yi + 1, c) * fx;
        out[offset + c * plane + i * ow + j] = (top * (1 - fy) + bottom * fy) * scale;
      }
    }
  }
}

/** Maps an image point into the resampled window's pixel coordinates. */
export function toWindow(win: Window, size: readonly [number, number], x: number, y: number): [number, number] {
  return [((x - (win.cx - win.side / 2)) * size[1]) / win.side, ((y - (win.cy - win.side / 2)) * size[0]) / win.side];
}
