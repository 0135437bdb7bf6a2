import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/random.ts';
import { initBackend } from '../../src/train/backend.ts';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

const CASES: { name: string; stride: number; pad: Pad; dilation?: number; shape: [number, number, number, number]; filter: [number, number, number, number] }[] = [
  { name: 'stride 1, same', stride: 1, pad: 'same', shape: [2, 6, 7, 3], filter: [3, 3, 3, 4] },
  { name: 'stride 2, same', stride: 2, pad: 'same', shape: [2, 7, 6, 3], filter: [3, 3, 3, 4] },
  { name: 'stride 1, valid', stride: 1, pad: 'valid', shape: [1, 6, 6, 2], filter: [3, 2, 2, 5] },
  { name: 'stride 2, valid', stride: 2, pad: 'valid', shape: [2, 9, 8, 2], filter: [3, 3, 2, 3] },
  { name: 'stride 2, explicit asymmetric pads', stride: 2, pad: [[0, 0], [1, 0], [0, 1], [0, 0]], shape: [1, 6, 6, 2], filter: [3, 3, 2, 2] },
];

/** L(w) = Σ conv(x, w) · r, whose gradient with respect to w is exactly the filter backprop of r. */
function loss(x: tf.Tensor4D, w: tf.Tensor4D, r: tf.Tensor, c: (typeof CASES)[number]): tf.Scalar {
  return tf.sum(tf.mul(tf.conv2d(x, w, c.stride, c.pad, 'NHWC', c.dilation ?? 1), r));
}

describe('wasm Conv2DBackpropFilter kernel', () => {
  before(async () => {
    assert.equal(await initBackend('wasm'), 'wasm');
  });
  for (const c of CASES) {
    it(`${c.name}: matches central finite differences`, () => {
      const rng = new Rng(42);
      const x = tf.tensor4d(rng.normals(c.shape.reduce((a, b) => a * b)), c.shape);
      const w = tf.tensor4d(rng.normals(c.filter.reduce((a, b) => a * b)), c.filter);
      const outShape = tf.conv2d(x, w, c.stride, c.pad, 'NHWC', c.dilation ?? 1).shape;
      const r = tf.tensor(rng.normals(outShape.reduce((a, b) => a * b)), outShape);
      const grad = tf.grad((wv: tf.Tensor) => loss(x, wv as tf.Tensor4D, r, c))(w).dataSync();
      const wData = w.dataSync();
      const eps = 1e-2;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < wData.length; i++) {
        const plus = Float32Array.from(wData);
        const minus = Float32Array.from(wData);
        plus[i]! += eps;
        minus[i]! -= eps;
        const lp = loss(x, tf.tensor4d(plus, c.filter), r, c).dataSync()[0]!;
        const lm = loss(x, tf.tensor4d(minus, c.filter), r, c).dataSync()[0]!;
        worst = Math.max(worst, Math.abs((lp - lm) / (2 * eps) - grad[i]!));
        scale = Math.max(scale, Math.abs(grad[i]!));
      }
      // L is linear in w, so the only error is float32 rounding of the loss.
      assert.ok(worst / scale < 2e-3, `relative error ${worst / scale}`);
    });
  }
  it('also gives the input gradient and trains a convolution end to end', () => {
    const rng = new Rng(5);
    const x = tf.tensor4d(rng.normals(2 * 8 * 8 * 2), [2, 8, 8, 2]);
    const target = tf.conv2d(x, tf.tensor4d(rng.normals(3 * 3 * 2 * 2), [3, 3, 2, 2]), 2, 'same');
    const w = tf.variable(tf.zeros([3, 3, 2, 2]));
    const opt = tf.train.adam(0.05);
    const mse = () => tf.mean(tf.square(tf.sub(tf.conv2d(x, w as unknown as tf.Tensor4D, 2, 'same'), target))) as tf.Scalar;
    const first = mse().dataSync()[0]!;
    for (let i = 0; i < 150; i++) opt.minimize(mse);
    assert.ok(mse().dataSync()[0]! < first * 0.01);
  });
});
