import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/random.ts';
import { maxRelativeDifference } from '../../src/core/tensor.ts';
import { evaluateGraph } from '../../src/graph/evaluate.ts';
import type { Graph } from '../../src/graph/graph.ts';
import { openSession, runSession } from '../../src/onnx/ort.ts';
import { encodeOnnx } from '../../src/onnx/write.ts';
import { initBackend } from '../../src/train/backend.ts';
import { TfGraph } from '../../src/train/tf-graph.ts';
import { ARCHS, buildZooModel } from '../../src/train/zoo.ts';

/** Random biases and BatchNorm statistics, so that every parameter matters to the comparison. */
function perturb(g: Graph, rng: Rng): void {
  for (const [k, t] of g.initializers) {
    if (k.endsWith('.bias') || k.endsWith('.running_mean')) t.data.set(rng.normals(t.data.length, 0.1));
    if (k.endsWith('.running_var') || (k.includes('.bn.') && k.endsWith('.weight'))) t.data.set(Float32Array.from(t.data, () => rng.uniform(0.5, 1.5)));
  }
}

describe('zoo models: tfjs and onnxruntime agree', () => {
  before(async () => {
    await initBackend('wasm');
  });
  for (const arch of ARCHS) {
    for (const head of ['regression', 'heatmap'] as const) {
      it(`${arch} with a ${head} head agrees to 1e-4 relative, and its weights go back to the IR exactly`, async () => {
        const rng = new Rng(arch.length * 7 + head.length);
        const g = buildZooModel({ arch, head, keypoints: ['a', 'b', 'c'], skeleton: [[0, 1]], inputSize: 32, cropPadding: 1.25, seed: 3 });
        perturb(g, rng);
        const before = new Map([...g.initializers].map(([k, t]) => [k, t.data.slice()]));
        const x = Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => rng.next());
        const tg = new TfGraph(g);
        const ours = tf.tidy(() => tg.forward(tf.tensor4d(x, [2, 3, 32, 32])).output.dataSync() as Float32Array);
        tg.writeBack();
        tg.dispose();
        for (const [k, t] of g.initializers) assert.deepEqual(t.data, before.get(k), `weight ${k} round-trips exactly`);
        const ort = Object.values(await runSession(await openSession(encodeOnnx(g)), { image: { dims: [2, 3, 32, 32], data: x } }))[0]!;
        assert.deepEqual(ort.dims, head === 'regression' ? [2, 3, 2] : [2, 3, 16, 16]);
        const d = maxRelativeDifference(ours, ort.data);
        assert.ok(d <= 1e-4, `tfjs vs onnxruntime: ${d}`);
        if (arch === 'tiny') assert.ok(maxRelativeDifference(evaluateGraph(g, { image: { dims: [2, 3, 32, 32], data: x } }).keypoints!.data, ort.data) <= 1e-5);
      });
    }
  }
});
