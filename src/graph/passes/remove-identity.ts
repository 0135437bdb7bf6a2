import { consumers, producers, type Graph } from '../graph.ts';

/** Removes Identity nodes by wiring consumers to the Identity's input. */
export function removeIdentities(graph: Graph): void {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  for (const node of [...graph.nodes]) {
    if (node.op !== 'Identity') continue;
    const [x] = node.inputs as [string];
    const [y] = node.outputs as [string];
    if (outputs.has(y)) {
      // The graph output keeps its name: rename the producer's output instead, when nothing else reads it.
      const prod = producers(graph).get(x);
      if (!prod || outputs.has(x) || (consumers(graph).get(x) ?? []).length !== 1) continue;
      prod.outputs = prod.outputs.map((o) => (o === x ? y : o));
    } else {
      for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === y ? x : i));
    }
    graph.nodes.splice(graph.nodes.indexOf(node), 1);
  }
}
