// The training-step cases whose gradients PyTorch records (scripts/record-pytorch-gradients.ts) and
// the tests compare luxcert's step with: zoo models with both heads, one with both regularisers,
// and the models PyTorch exported (test/fixtures/pytorch), each with a seeded batch.
import { fileURLToPath } from 'node:url';
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

/** Every case, built afresh (the models are edited by nothing, but each caller gets its own). */
export function gradientCases(): GradientCase[] {
  const reg = zoo('resnet', 'regression', 16);
  const relus = reg.model.nodes.filter((n) => n.op === 'Relu');
  return [
    zoo('tiny', 'regression', 16), zoo('tiny', 'heatmap', 16), zoo('cnn7', 'regression', 8), zoo('cnn7', 'heatmap', 16), zoo('resnet', 'regression', 16), zoo('resnet', 'heatmap', 16),
    {
      ...reg,
      name: 'resnet-regression-16-regularised',
      regularisers: {
        box: { alphaLo: 0.7, alphaHi: 1.3, betaLo: -0.2, betaHi: 0.2 },
        wasserstein: { lambda: 0.5, probes: relus.map((n) => n.outputs[0]!) },
        reluStability: { mu: 0.3, values: relus.map((n) => n.inputs[0]!), margin: 2 },
      },
    },
    exported('cnn_bn_nodes_op13'), exported('cnn_bn_folded_op13'), exported('resnet_op11'), exported('heatmap_op15'), exported('misc_op17'),
  ];
}
