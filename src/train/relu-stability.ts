import * as tf from '@tensorflow/tfjs-core';

/**
 * The ReLU-stability regulariser for one batch: for each watched pre-activation value, the mean of
 * relu(k·|z' − z| − |z|) over its elements, divided by the value's RMS, averaged over the values;
 * z is the clean pre-activation, z' the same element under the batch's random perturbations and k
 * the margin. It is zero when every ReLU input stays more than k times its observed shift away from
 * the kink, i.e. when the perturbation is unlikely to flip that ReLU anywhere in the box; dividing by
 * the RMS makes it blind to a layer's scale, so it cannot be lowered by growing the weights.
 */
export function reluStabilityPenalty(clean: tf.Tensor[], perturbed: tf.Tensor[], margin: number): tf.Scalar {
  const terms = clean.map((z, i) => {
    const shift = tf.abs(tf.sub(perturbed[i]!, z));
    const hinge = tf.mean(tf.relu(tf.sub(tf.mul(shift, margin), tf.abs(z))));
    // The RMS is a constant of the batch: with a gradient, inflating a few large responses would lower the penalty.
    const rms = Math.sqrt(tf.tidy(() => tf.mean(tf.square(z)).dataSync()[0]!));
    return tf.div(hinge, rms + 1e-6);
  });
  return tf.mean(tf.stack(terms)) as tf.Scalar;
}
