import type { Graph } from '../../src/graph/graph.ts';
import { setModelMeta, type ModelMeta } from '../../src/model/metadata.ts';
import { buildZooModel } from '../../src/train/zoo.ts';

/** A zoo model with random weights and its metadata: enough for everything but accuracy. */
export function zooModel(head: 'regression' | 'heatmap' = 'regression', seed = 3): { graph: Graph; meta: ModelMeta } {
  const graph = buildZooModel({ arch: 'tiny', head, keypoints: ['a', 'b', 'c'], skeleton: [[0, 1]], inputSize: 32, ...(head === 'heatmap' ? { grid: 8 } : {}), cropPadding: 1.25, seed });
  const meta: ModelMeta = { head, keypoints: ['a', 'b', 'c'], skeleton: [[0, 1]], inputSize: [32, 32], channels: 3, pixelScale: 1 / 255, cropPadding: 1.25, ...(head === 'heatmap' ? { grid: 8 } : {}) };
  setModelMeta(graph, meta);
  return { graph, meta };
}

/** A copy of a graph with weights of its own (so tests can poison one without touching the other). */
export function cloneGraph(g: Graph): Graph {
  return {
    ...g,
    inputs: g.inputs.map((v) => ({ ...v, shape: [...v.shape] })),
    outputs: g.outputs.map((v) => ({ ...v, shape: [...v.shape] })),
    initializers: new Map([...g.initializers].map(([k, t]) => [k, { dims: [...t.dims], data: Float32Array.from(t.data) }])),
    nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } })),
    metadata: { ...g.metadata },
  };
}

/** Multiplies the model's output by 3e38 twice: finite weights, outputs that overflow float32 to ±Infinity. */
export function overflowing(g: Graph): Graph {
  const c = cloneGraph(g);
  const out = c.outputs[0]!.name;
  c.initializers.set('huge', { dims: [], data: Float32Array.of(3e38) });
  c.nodes.push({ op: 'Mul', name: 'boom1', inputs: [out, 'huge'], outputs: ['boom1_out'], attrs: {} });
  c.nodes.push({ op: 'Mul', name: 'boom2', inputs: ['boom1_out', 'huge'], outputs: ['boom2_out'], attrs: {} });
  c.outputs[0] = { ...c.outputs[0]!, name: 'boom2_out' };
  return c;
}

/** A deterministic image in [0, 1]. */
export const testImage = (n = 3 * 32 * 32) => Float32Array.from({ length: n }, (_, i) => ((i * 37) % 101) / 100);
