import * as tf from '@tensorflow/tfjs-core';
import type { ModelMeta } from '../model/metadata.ts';

/** Smooth-L1 (Huber, δ = 1 px) on pixel coordinates, averaged over labelled keypoints. */
function regressionLoss(output: tf.Tensor, target: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const pred = tf.reshape(output, target.shape);
  const weights = tf.expandDims(mask, 2);
  return tf.losses.huberLoss(target, pred, weights, 1) as tf.Scalar;
}

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

/** Cross-entropy over the G×G cells for each labelled keypoint that lies inside the input. */
function heatmapLoss(meta: ModelMeta, output: tf.Tensor, keypoints: Float32Array, mask: Float32Array): tf.Scalar {
  const g = meta.grid!;
  const { cells, inside } = targetCells(meta, keypoints, mask);
  const logits = tf.reshape(output, [cells.length, g * g]);
  const labels = tf.oneHot(tf.tensor1d(cells, 'int32'), g * g);
  return tf.losses.softmaxCrossEntropy(labels, logits, tf.tensor1d(inside)) as tf.Scalar;
}

/** The training loss of a head: smooth-L1 for regression, cell cross-entropy for heatmaps. */
export function keypointLoss(meta: ModelMeta, output: tf.Tensor, keypoints: Float32Array, mask: Float32Array, n: number): tf.Scalar {
  const k = meta.keypoints.length;
  if (meta.head === 'heatmap') return heatmapLoss(meta, output, keypoints, mask);
  return regressionLoss(output, tf.tensor3d(keypoints, [n, k, 2]), tf.tensor2d(mask, [n, k]));
}
