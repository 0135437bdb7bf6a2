import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/random.ts';
import { boundTerms } from '../../src/prune/bound-terms.ts';
import { channelGroups } from '../../src/prune/groups.ts';
import { channelValues } from '../../src/prune/probes.ts';
import { initBackend } from '../../src/train/backend.ts';
import { randomPerturbation } from '../../src/train/random-perturbation.ts';
import { reluStabilityPenalty } from '../../src/train/relu-stability.ts';
import { TfGraph } from '../../src/train/tf-graph.ts';
import { buildZooModel } from '../../src/train/zoo.ts';

before(async () => {
  await initBackend('wasm');
});

it('the ReLU-stability penalty: the hinge relu(k·|z′ − z| − |z|) over the RMS, zero when every value stays clear of the kink, blind to scale', () => {
  const z = tf.tensor1d([1, -2, 0.5, 3]);
  const zp = tf.tensor1d([1.2, -2.1, 0.1, 3]);
  // k = 2: hinges 0.4 − 1 → 0, 0.2 − 2 → 0, 0.8 − 0.5 = 0.3, 0; mean 0.075; RMS √(14.25 / 4)
  const expected = 0.075 / Math.sqrt(14.25 / 4);
  assert.ok(Math.abs(reluStabilityPenalty([z], [zp], 2).dataSync()[0]! - expected) < 1e-6);
  assert.ok(Math.abs(reluStabilityPenalty([tf.mul(z, 7)], [tf.mul(zp, 7)], 2).dataSync()[0]! - expected) < 1e-6, 'scaling a layer does not change it');
  assert.equal(reluStabilityPenalty([z], [zp], 0.5).dataSync()[0], 0, 'with k = 0.5 every value stays clear of the kink');
  // Two values are averaged: the second one is stable.
  assert.ok(Math.abs(reluStabilityPenalty([z, tf.tensor1d([5])], [zp, tf.tensor1d([5.1])], 2).dataSync()[0]! - expected / 2) < 1e-6);
});

it('minimising the ReLU-stability penalty leaves fewer ReLUs that certified bounds over the box find unstable', async () => {
  const g = buildZooModel({ arch: 'tiny', head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 4 });
  const relus = channelValues(g, channelGroups(g).filter((x) => !x.blocked)).filter((v) => v.relu).map((v) => v.pre);
  assert.ok(relus.length >= 3);
  const rng = new Rng(2);
  const n = 16;
  const data = Float32Array.from({ length: n * 3 * 16 * 16 }, () => rng.uniform(0.2, 0.8));
  const x = tf.tensor4d(data, [n, 3, 16, 16]);
  const box = { alphaLo: 0.95, alphaHi: 1.05, betaLo: -0.05, betaHi: 0.05 };
  const images = Array.from({ length: 4 }, (_, i) => data.subarray(i * 768, (i + 1) * 768));
  const unstable = async () => {
    const groups = channelGroups(g).filter((x) => !x.blocked);
    const terms = await boundTerms(g, groups, { box, images, imageDims: [3, 16, 16], grid: 1 });
    const all = [...terms.values()].filter((t) => t.relu).flatMap((t) => [...t.unstable]);
    return all.reduce((a, v) => a + v, 0) / all.length;
  };
  const before = await unstable();
  const tg = new TfGraph(g);
  const perturbRng = new Rng(9);
  const penalty = () => {
    const clean = tg.forward(x, false, [], relus).maps;
    return reluStabilityPenalty(clean, tg.forward(randomPerturbation(x, box, perturbRng), false, [], relus).maps, 2);
  };
  const first = tf.tidy(() => penalty().dataSync()[0]!);
  const opt = tf.train.adam(3e-3);
  for (let i = 0; i < 60; i++) tf.tidy(() => { opt.minimize(penalty, false, [...tg.params.values()]); });
  const last = tf.tidy(() => penalty().dataSync()[0]!);
  tg.writeBack();
  tg.dispose();
  const after = await unstable();
  assert.ok(first > 0 && last < first * 0.5, `penalty ${first} → ${last}`);
  assert.ok(after < before * 0.7, `unstable ReLU share under certified bounds ${before} → ${after}`);
});
