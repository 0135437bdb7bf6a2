/** Pixel tolerances at which PCK is reported. */
export const PCK_THRESHOLDS = [1, 2, 4, 8] as const;

/** Keypoint accuracy: PCK@τ (share of labelled keypoints within τ px, Euclidean) and mean error. */
export interface KeypointMetrics {
  count: number;
  pck: Record<string, number>;
  meanError: number;
  perKeypoint: { name: string; count: number; pck: Record<string, number>; meanError: number }[];
}

function summarise(errors: number[]): { count: number; pck: Record<string, number>; meanError: number } {
  const pck: Record<string, number> = {};
  for (const t of PCK_THRESHOLDS) pck[t] = errors.length === 0 ? 0 : errors.filter((e) => e <= t).length / errors.length;
  return { count: errors.length, pck, meanError: errors.length === 0 ? 0 : errors.reduce((a, b) => a + b, 0) / errors.length };
}

/** Metrics of predicted vs true keypoints (both N×K×2 pixels); mask (N×K) leaves out unlabelled ones. */
export function keypointMetrics(pred: Float32Array, truth: Float32Array, mask: Float32Array, names: readonly string[]): KeypointMetrics {
  const k = names.length;
  const perKp: number[][] = names.map(() => []);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    perKp[i % k]!.push(Math.hypot(pred[2 * i]! - truth[2 * i]!, pred[2 * i + 1]! - truth[2 * i + 1]!));
  }
  return { ...summarise(perKp.flat()), perKeypoint: names.map((name, j) => ({ name, ...summarise(perKp[j]!) })) };
}
