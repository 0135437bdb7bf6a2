import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/core/random.ts';
import { maxRelativeDifference } from '../../src/core/tensor.ts';
import { evaluateGraph } from '../../src/graph/evaluate.ts';
import type { Graph } from '../../src/graph/graph.ts';
import { graphStats } from '../../src/graph/stats.ts';
import { openSession, runSession } from '../../src/onnx/ort.ts';
import { decodeOnnx, rawToGraph } from '../../src/onnx/read.ts';
import { encodeOnnx } from '../../src/onnx/write.ts';
import { channelGroups } from '../../src/prune/groups.ts';
import { removeChannels } from '../../src/prune/remove-channels.ts';
import { ARCHS, buildZooModel } from '../../src/train/zoo.ts';

/** A zoo model as luxcert imports it (BatchNorm folded), with nonzero biases so every channel matters. */
function model(arch: (typeof ARCHS)[number], head: 'regression' | 'heatmap', seed: number): Graph {
  const g = rawToGraph(decodeOnnx(encodeOnnx(buildZooModel({ arch, head, keypoints: ['a', 'b', 'c'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed })), 'zoo.onnx'));
  const rng = new Rng(seed);
  for (const [k, t] of g.initializers) if (k.endsWith('bias')) t.data.set(rng.normals(t.data.length, 0.3));
  return g;
}

/** The model with the removed channels' producer rows and biases set to zero: what pruning must equal. */
function masked(g: Graph, removed: Map<number, number[]>): Graph {
  const copy: Graph = { ...g, initializers: new Map([...g.initializers].map(([k, t]) => [k, { dims: [...t.dims], data: t.data.slice() }])), nodes: g.nodes.map((n) => ({ ...n })) };
  for (const group of channelGroups(copy)) {
    const drop = removed.get(group.id) ?? [];
    for (const u of group.uses) {
      if (u.kind !== 'producer') continue;
      const w = copy.initializers.get(u.node.inputs[1]!)!;
      const transposed = u.node.op === 'Gemm' && (u.node.attrs.transB ?? 0) === 0;
      const rows = transposed ? w.dims[1]! : w.dims[0]!;
      const per = w.data.length / rows;
      for (const c of drop) {
        for (let i = 0; i < per; i++) w.data[transposed ? i * rows + c : c * per + i] = 0;
        if (u.node.inputs[2] !== undefined) copy.initializers.get(u.node.inputs[2])!.data[c] = 0;
      }
    }
  }
  return copy;
}

describe('structured channel removal', () => {
  for (const arch of ARCHS) {
    for (const head of ['regression', 'heatmap'] as const) {
      it(`${arch} ${head}: the pruned graph computes exactly what the masked model computes, and is smaller`, async () => {
        const g = model(arch, head, arch.length + head.length);
        const groups = channelGroups(g);
        const prunable = groups.filter((x) => !x.blocked);
        assert.ok(prunable.length > 0);
        if (arch === 'resnet') assert.ok(prunable.some((x) => x.uses.filter((u) => u.kind === 'producer').length > 1), 'residual partners are pruned as one group');
        assert.ok(groups.some((x) => x.blocked), 'the head that produces the keypoints is never pruned');
        const rng = new Rng(7);
        const removed = new Map<number, number[]>();
        for (const grp of prunable) {
          const drop = Array.from({ length: grp.channels }, (_, c) => c).filter(() => rng.next() < 0.4).slice(0, grp.channels - 1);
          removed.set(grp.id, drop);
        }
        const reference = masked(g, removed);
        const before = graphStats(g);
        const x0 = { dims: [1, 3, 16, 16], data: Float32Array.from({ length: 3 * 256 }, (_, i) => (i % 13) / 13) };
        assert.ok(maxRelativeDifference(evaluateGraph(reference, { image: x0 }).keypoints!.data, evaluateGraph(g, { image: x0 }).keypoints!.data) > 1e-3, 'removing channels changes the output');
        for (const grp of prunable) removeChannels(g, grp, Array.from({ length: grp.channels }, (_, c) => c).filter((c) => !removed.get(grp.id)!.includes(c)));
        const after = graphStats(g);
        assert.ok(after.params < before.params && after.flops < before.flops);
        const x = { dims: [2, 3, 16, 16], data: Float32Array.from({ length: 2 * 3 * 256 }, () => rng.next()) };
        const want = evaluateGraph(reference, { image: x }).keypoints!;
        const got = evaluateGraph(g, { image: x }).keypoints!;
        assert.deepEqual(got.dims, want.dims);
        assert.ok(maxRelativeDifference(got.data, want.data) <= 1e-5);
        const ort = Object.values(await runSession(await openSession(encodeOnnx(g)), { image: x }))[0]!;
        assert.ok(maxRelativeDifference(ort.data, want.data) <= 1e-5, 'the pruned ONNX loads and runs in onnxruntime');
      });
    }
  }
});
