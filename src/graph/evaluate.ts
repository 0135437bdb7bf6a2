import { LuxcertError } from '../core/errors.ts';
import { formatShape, type Tensor } from '../core/tensor.ts';
import type { Graph } from './graph.ts';
import { opOf } from './validate.ts';

/** Runs the graph with the reference evaluator: for tests and as ground truth, not for speed. */
export function evaluateGraph(graph: Graph, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const values = new Map<string, Tensor>(graph.initializers);
  for (const input of graph.inputs) {
    const t = feeds[input.name];
    if (!t) throw new LuxcertError(`missing value for graph input '${input.name}'`);
    const ok = t.dims.length === input.shape.length && input.shape.every((d, i) => typeof d === 'string' || d === t.dims[i]);
    if (!ok) throw new LuxcertError(`graph input '${input.name}' expects ${formatShape(input.shape)}, got ${formatShape(t.dims)}`);
    values.set(input.name, t);
  }
  for (const node of graph.nodes) {
    const outs = opOf(node).evaluate(node, node.inputs.map((i) => values.get(i)!));
    node.outputs.forEach((o, i) => values.set(o, outs[i]!));
  }
  return Object.fromEntries(graph.outputs.map((o) => [o.name, values.get(o.name)!]));
}
