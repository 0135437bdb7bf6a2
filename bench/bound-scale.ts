// How the cost of one bound pass shrinks with channel pruning, per architecture of the zoo: each model
// (random weights: the cost of a pass does not depend on their values) against itself with the given
// share of every prunable group's channels removed, plus the demo's trained dense/pruned pair when present.
// Usage: npm run bench:bound-scale [-- --sparsity 0.5 --boxes 16 --archs tiny,resnet,cnn7]
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BoundComputer } from '../src/bounds/bounds.ts';
import type { Graph } from '../src/graph/graph.ts';
import { quantile } from '../src/core/quantile.ts';
import { graphStats } from '../src/graph/stats.ts';
import { boxFromFlags } from '../src/model/perturbation.ts';
import { readOnnxFile } from '../src/onnx/read.ts';
import { channelGroups } from '../src/prune/groups.ts';
import { removeChannels } from '../src/prune/remove-channels.ts';
import { buildZooModel, type Arch } from '../src/train/zoo.ts';

const { values } = parseArgs({ options: { sparsity: { type: 'string', default: '0.5' }, boxes: { type: 'string', default: '16' }, archs: { type: 'string', default: 'tiny,resnet,cnn7' }, size: { type: 'string', default: '32' } } });
const sparsity = Number(values.sparsity);
const boxes = Number(values.boxes);
const size = Number(values.size);
const box = boxFromFlags(0.1, 0.1);

/** The model with `sparsity` of every prunable group's channels removed (the first ones kept). */
function pruned(model: Graph): Graph {
  // Pruning only replaces initializers, so a copy of the map keeps the dense model intact.
  const g: Graph = { ...model, initializers: new Map(model.initializers) };
  for (const group of channelGroups(g).filter((x) => !x.blocked)) {
    const keep = Math.max(1, Math.round(group.channels * (1 - sparsity)));
    removeChannels(g, group, Array.from({ length: keep }, (_, i) => i));
  }
  return g;
}

/** Median wall-clock ms of one bound pass with `boxes` boxes on a fixed pseudo-random image. */
async function passMs(model: Graph): Promise<number> {
  const bc = await BoundComputer.create(model, { boxes, mode: 'linear', engine: 'onnxruntime' });
  const dims = model.inputs[0]!.shape.slice(1) as number[];
  const image = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 2654435761) % 1000) / 1000);
  const list = new Array(boxes).fill(box);
  const once = async () => {
    const t0 = performance.now();
    await bc.bounds(image, dims, list);
    return performance.now() - t0;
  };
  const first = await once();
  // About 2 s of runs per model, at least 10.
  const runs = Math.max(10, Math.min(300, Math.round(2000 / first)));
  for (let i = 0; i < 3; i++) await once();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) t.push(await once());
  await bc.release();
  return quantile(t, 0.5);
}

console.log(`bench:bound-scale — one linear bound pass, ${boxes} boxes per call, onnxruntime CPU, Node ${process.version}; pruned = ${sparsity * 100} % of the channels of every prunable group removed`);
console.log('model                      channels     FLOPs (M)        ms per pass        pruned / dense');
console.log('                          dense pruned  dense  pruned    dense   pruned    FLOPs  time');
const row = async (label: string, dense: Graph, small: Graph) => {
  const [sd, sp] = [graphStats(dense), graphStats(small)];
  const ch = (g: Graph) => channelGroups(g).filter((x) => !x.blocked).reduce((a, x) => a + x.channels, 0);
  const [td, tp] = [await passMs(dense), await passMs(small)];
  console.log(`${label.padEnd(25)} ${String(ch(dense)).padStart(6)} ${String(ch(small)).padStart(6)} ${(sd.flops / 1e6).toFixed(2).padStart(6)} ${(sp.flops / 1e6).toFixed(2).padStart(7)} ${td.toFixed(2).padStart(8)} ${tp.toFixed(2).padStart(8)}   ${(sp.flops / sd.flops).toFixed(2).padStart(6)} ${(tp / td).toFixed(2).padStart(5)}`);
};
for (const arch of values.archs.split(',') as Arch[]) {
  const dense = buildZooModel({ arch, head: 'regression', keypoints: ['a', 'b', 'c', 'd'], skeleton: [], inputSize: size, cropPadding: 1.25, seed: 1 });
  await row(`${arch} (random weights)`, dense, pruned(dense));
}
if (existsSync('luxcert-demo/model.onnx') && existsSync('luxcert-demo/pruned.onnx')) {
  await row('luxcert-demo (trained)', readOnnxFile('luxcert-demo/model.onnx'), readOnnxFile('luxcert-demo/pruned.onnx'));
}
