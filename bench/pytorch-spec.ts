import type { Graph } from '../src/graph/graph.ts';
import type { ModelMeta } from '../src/model/metadata.ts';
import { weightRoles } from '../src/train/grad/tape.ts';

/** A graph as the JSON `bench/pytorch_ir.py` interprets: its nodes and initializers, which weights train, and the head that scores it. */
export function pytorchGraphSpec(g: Graph, meta: ModelMeta) {
  return {
    input: g.inputs[0]!.name, output: g.outputs[0]!.name, head: meta.head, size: meta.inputSize[0], ...(meta.grid ? { grid: meta.grid } : {}),
    trainable: weightRoles(g).params,
    nodes: g.nodes.map((n) => ({ op: n.op, inputs: n.inputs, outputs: n.outputs, attrs: n.attrs })),
    initializers: Object.fromEntries([...g.initializers].map(([k, t]) => [k, { dims: t.dims, data: Array.from(t.data) }])),
  };
}
