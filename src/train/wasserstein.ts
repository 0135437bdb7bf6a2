import * as tf from '@tensorflow/tfjs-core';

/**
 * Sorts each row ascending, with a gradient (tfjs has none for TopK): the gradient of a sorted
 * value flows back to the element it came from.
 */
export const sortRows = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const n = x.shape[x.shape.length - 1]!;
  const { values, indices } = tf.topk(tf.neg(x), n);
  save([indices]);
  return {
    value: tf.neg(values),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const oneHot = tf.oneHot(saved[0] as tf.Tensor, n); // [..., k, n]
      return tf.sum(tf.mul(tf.expandDims(dy, -1), oneHot), -2);
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/**
 * The 1-D Wasserstein-1 distance between two empirical distributions with the same number of
 * samples, per row: mean |sort(a) − sort(b)| (exact for equal-size samples). Differentiable.
 */
export function wasserstein1(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor1D {
  return tf.mean(tf.abs(tf.sub(sortRows(a), sortRows(b))), 1) as tf.Tensor1D;
}

/**
 * The Wasserstein regulariser for one batch: for each probed value and channel, W1 between the
 * distribution of its responses over the clean batch and over the same images under random
 * perturbations from the box; averaged over channels and probes. Small when the perturbation
 * leaves each neuron's response distribution in place (unbiased and smooth).
 */
export function wassersteinPenalty(clean: tf.Tensor[], perturbed: tf.Tensor[]): tf.Scalar {
  const terms = clean.map((c, i) => tf.mean(wasserstein1(tf.transpose(c) as tf.Tensor2D, tf.transpose(perturbed[i]!) as tf.Tensor2D)));
  return tf.mean(tf.stack(terms)) as tf.Scalar;
}
