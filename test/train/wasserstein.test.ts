import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/random.ts';
import { initBackend } from '../../src/train/backend.ts';
import { TfGraph } from '../../src/train/tf-graph.ts';
import { randomPerturbation } from '../../src/train/random-perturbation.ts';
import { sortRows, wasserstein1, wassersteinPenalty } from '../../src/train/wasserstein.ts';
import { buildZooModel } from '../../src/train/zoo.ts';

before(async () => {
  await initBackend('wasm');
});

it('sortRows sorts with a gradient that flows back to each value\'s origin; W1 of equal-size samples', () => {
  const x = tf.tensor2d([[3, 1, 2], [0, 5, -1]]);
  assert.deepEqual(Array.from(sortRows(x).dataSync()), [1, 2, 3, -1, 0, 5]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(sortRows(v), tf.tensor2d([[1, 2, 3], [1, 2, 3]]))))(x);
  assert.deepEqual(Array.from(g.dataSync()), [3, 1, 2, 2, 3, 1]);
  assert.ok(Math.abs(wasserstein1(tf.tensor2d([[0, 1, 2]]), tf.tensor2d([[2, 0, 1.5]])).dataSync()[0]! - 1 / 6) < 1e-6);
});

it('minimising the Wasserstein regulariser makes channel responses insensitive to brightness/contrast', () => {
  const g = buildZooModel({ arch: 'tiny', head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 4 });
  const tg = new TfGraph(g);
  const probes = ['conv1.relu', 'conv2.relu', 'conv3.relu'];
  const rng = new Rng(2);
  const x = tf.tensor4d(Float32Array.from({ length: 16 * 3 * 16 * 16 }, () => rng.uniform(0.2, 0.8)), [16, 3, 16, 16]);
  const box = { alphaLo: 0.8, alphaHi: 1.2, betaLo: -0.2, betaHi: 0.2 };
  const penalty = () => wassersteinPenalty(tg.forward(x, false, probes).probes, tg.forward(randomPerturbation(x, box, new Rng(9)), false, probes).probes);
  const first = penalty().dataSync()[0]!;
  const opt = tf.train.adam(3e-3);
  for (let i = 0; i < 40; i++) tf.tidy(() => { opt.minimize(penalty, false, [...tg.params.values()]); });
  const last = penalty().dataSync()[0]!;
  assert.ok(first > 0 && last < first * 0.5, `W1 ${first} → ${last}`);
});
