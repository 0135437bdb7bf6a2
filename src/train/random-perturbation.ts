import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/random.ts';
import type { Box } from '../model/perturbation.ts';

/** The batch under one random perturbation per image: clip(α·x + β, 0, 1), (α, β) uniform in the box. */
export function randomPerturbation(x: tf.Tensor4D, box: Box, rng: Rng): tf.Tensor4D {
  const n = x.shape[0];
  const alpha = tf.tensor4d(Float32Array.from({ length: n }, () => rng.uniform(box.alphaLo, box.alphaHi)), [n, 1, 1, 1]);
  const beta = tf.tensor4d(Float32Array.from({ length: n }, () => rng.uniform(box.betaLo, box.betaHi)), [n, 1, 1, 1]);
  return tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1) as tf.Tensor4D;
}
