// The training-step cases whose gradients PyTorch records (scripts/record-pytorch-gradients.ts) and
// the tests compare luxcert's step with: zoo models with both heads, two with both regularisers (a
// zoo model, and a small model whose side branch only the regularisers read), and the models
// PyTorch exported (test/fixtures/pytorch), each with a seeded batch.
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/random.ts';
import { tensor } from '../../src/core/tensor.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/graph.ts';
import { setModelMeta, modelMeta, type ModelMeta } from '../../src/model/metadata.ts';
import { readOnnxFile } from '../../src/onnx/read.ts';
import type { PerturbationRegularisers } from '../../src/train/regularisers.ts';
import { buildZooModel, type Arch } from '../../src/train/zoo.ts';
import { randomBatch } from './step-check.ts';

/** One case: a model, its head, a batch and optionally regularisers. */
export interface GradientCase {
  name: string;
  model: Graph;
  meta: ModelMeta;
  batch: ReturnType<typeof randomBatch>;
  regularisers?: PerturbationRegularisers;
}

export const GRADIENT_FIXTURES = fileURLToPath(new URL('../fixtures/pytorch-gradients/', import.meta.url));

const zoo = (arch: Arch, head: 'regression' | 'heatmap', size: number): GradientCase => {
  const model = buildZooModel({ arch, head, keypoints: ['a', 'b', 'c'], skeleton: [], inputSize: size, cropPadding: 1.25, seed: 7 });
  const meta = modelMeta(model, arch);
  return { name: `${arch}-${head}-${size}`, model, meta, batch: randomBatch(meta, 4, 11) };
};

/** A model PyTorch exported, trained through a regression loss on its output read as K × 2 coordinates. */
const exported = (file: string): GradientCase => {
  const model = readOnnxFile(fileURLToPath(new URL(`../fixtures/pytorch/${file}.onnx`, import.meta.url)), { simplify: false });
  const [n, ...rest] = model.outputs[0]!.shape as number[];
  const k = rest.reduce((p, d) => p * d, 1) / 2;
  const [, , h, w] = model.inputs[0]!.shape as number[];
  const meta: ModelMeta = { head: 'regression', keypoints: Array.from({ length: k }, (_, i) => `k${i}`), skeleton: [], inputSize: [h!, w!], channels: 3, pixelScale: 1 / 255, cropPadding: 1.25 };
  setModelMeta(model, meta);
  void n;
  return { name: `pytorch-${file}`, model, meta, batch: randomBatch(meta, 2, 13) };
};

/** Both regularisers under the box the other regularised case uses, on the given values (probes: ReLU outputs; watched: their inputs). */
const regularisers = (probes: string[], values: string[]): PerturbationRegularisers => ({
  box: { alphaLo: 0.7, alphaHi: 1.3, betaLo: -0.2, betaHi: 0.2 },
  wasserstein: { lambda: 0.5, probes },
  reluStability: { mu: 0.3, values, margin: 2 },
});

/**
 * A model with a branch its output never reads, regularised on it: the branch's weights train through
 * the regularisers alone, so its ReLU's gradient is the Wasserstein term's per-image channel-mean
 * seed alone, broadcast over the map.
 */
const sideBranch = (): GradientCase => {
  const b = new GraphBuilder('side_branch');
  const rng = new Rng(17);
  const w = (name: string, dims: number[], lo = -0.5, hi = 0.5) => b.weight(name, tensor(dims, Float32Array.from({ length: dims.reduce((p, d) => p * d, 1) }, () => rng.uniform(lo, hi))));
  const conv = (x: string, name: string, cin: number, cout: number, strides = [1, 1]) =>
    b.op('Conv', [x, w(`${name}.w`, [cout, cin, 3, 3]), w(`${name}.b`, [cout])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides }, name);
  const r1 = b.op('Relu', [conv(b.input('image', ['N', 3, 8, 8]), 'c1', 3, 4)], {}, 'r1');
  b.op('Relu', [conv(r1, 's', 4, 3)], {}, 'side');
  const y = b.op('Flatten', [conv(r1, 'c2', 4, 2, [2, 2])], { axis: 1 });
  const out = b.op('Gemm', [y, w('fc.w', [4, 32], -0.3, 0.3), w('fc.b', [4], 2, 6)], { transB: 1, alpha: 2 });
  const model = b.build([b.op('Reshape', [out], { shape: [0, 2, 2] }, 'keypoints')]);
  const meta: ModelMeta = { head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: [8, 8], channels: 3, pixelScale: 1 / 255, cropPadding: 1.25 };
  setModelMeta(model, meta);
  return { name: 'side-branch-regularised', model, meta, batch: randomBatch(meta, 4, 19), regularisers: regularisers(['r1', 'side'], ['c1', 's']) };
};

/** Every case, built afresh (the models are edited by nothing, but each caller gets its own). */
export function gradientCases(): GradientCase[] {
  const reg = zoo('resnet', 'regression', 16);
  const relus = reg.model.nodes.filter((n) => n.op === 'Relu');
  return [
    zoo('tiny', 'regression', 16), zoo('tiny', 'heatmap', 16), zoo('cnn7', 'regression', 8), zoo('cnn7', 'heatmap', 16), zoo('resnet', 'regression', 16), zoo('resnet', 'heatmap', 16),
    { ...reg, name: 'resnet-regression-16-regularised', regularisers: regularisers(relus.map((n) => n.outputs[0]!), relus.map((n) => n.inputs[0]!)) },
    sideBranch(),
    exported('cnn_bn_nodes_op13'), exported('cnn_bn_folded_op13'), exported('resnet_op11'), exported('heatmap_op15'), exported('misc_op17'),
  ];
}
