import type { ModelMeta } from './metadata.ts';

/**
 * Keypoints in input-pixel coordinates ((0,0) is the top-left corner of the top-left pixel) from a
 * batch of model outputs: regression outputs are the coordinates; a heatmap's keypoint is the
 * centre of its arg-max cell, or NaN when the map holds a non-finite logit.
 */
export function decodeKeypoints(meta: ModelMeta, output: Float32Array, batch: number): Float32Array {
  const k = meta.keypoints.length;
  const out = new Float32Array(batch * k * 2);
  if (meta.head === 'regression') {
    out.set(output.subarray(0, batch * k * 2));
    return out;
  }
  const g = meta.grid!;
  const [h, w] = meta.inputSize;
  for (let i = 0; i < batch * k; i++) {
    let best = 0;
    let finite = true;
    for (let c = 0; c < g * g; c++) {
      const v = output[i * g * g + c]!;
      if (!Number.isFinite(v)) finite = false;
      if (v > output[i * g * g + best]!) best = c;
    }
    // A map with a NaN or Inf logit has no meaningful arg-max: its keypoint is NaN, never cell 0.
    out[2 * i] = finite ? ((best % g) + 0.5) * (w / g) : NaN;
    out[2 * i + 1] = finite ? (Math.floor(best / g) + 0.5) * (h / g) : NaN;
  }
  return out;
}
