import { sizeOf, type Dim, type Shape } from '../core/tensor.ts';
import type { Graph } from './graph.ts';
import { opOf, validateGraph } from './validate.ts';

/** Cost of one node for a batch of one. */
export interface NodeStats {
  name: string;
  op: string;
  outputShapes: Shape[];
  params: number;
  flops: number;
}

/** Parameters and FLOPs of a graph, per node and in total (dynamic dims counted as 1). */
export interface GraphStats {
  nodes: NodeStats[];
  params: number;
  flops: number;
  opCounts: Record<string, number>;
}

const concrete = (s: Shape): number[] => s.map((d: Dim) => (typeof d === 'number' ? d : 1));

/** Parameter count (each initializer once, at its first consumer) and FLOPs per node. */
export function graphStats(graph: Graph): GraphStats {
  const shapes = validateGraph(graph);
  const counted = new Set<string>();
  const nodes: NodeStats[] = graph.nodes.map((n) => {
    let params = 0;
    for (const i of n.inputs) {
      const t = graph.initializers.get(i);
      if (t && !counted.has(i)) {
        counted.add(i);
        params += sizeOf(t.dims);
      }
    }
    const ins = n.inputs.map((i) => concrete(shapes.get(i)!));
    const outs = n.outputs.map((o) => shapes.get(o)!);
    return { name: n.name, op: n.op, outputShapes: outs, params, flops: opOf(n).flops(n, ins, outs.map(concrete)) };
  });
  const opCounts: Record<string, number> = {};
  for (const n of graph.nodes) opCounts[n.op] = (opCounts[n.op] ?? 0) + 1;
  return {
    nodes,
    params: nodes.reduce((a, n) => a + n.params, 0),
    flops: nodes.reduce((a, n) => a + n.flops, 0),
    opCounts,
  };
}
