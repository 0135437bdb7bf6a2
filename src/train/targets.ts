import type { ModelMeta } from '../model/metadata.ts';

/** The grid cell (row-major index) holding each keypoint, and whether it lies inside the input. */
export function targetCells(meta: ModelMeta, keypoints: Float32Array, mask: Float32Array): { cells: Int32Array; inside: Float32Array } {
  const g = meta.grid!;
  const [h, w] = meta.inputSize;
  const cells = new Int32Array(mask.length);
  const inside = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const cx = Math.floor((keypoints[2 * i]! * g) / w);
    const cy = Math.floor((keypoints[2 * i + 1]! * g) / h);
    const ok = cx >= 0 && cy >= 0 && cx < g && cy < g;
    cells[i] = ok ? cy * g + cx : 0;
    inside[i] = ok ? mask[i]! : 0;
  }
  return { cells, inside };
}
