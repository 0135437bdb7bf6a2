import type { Graph } from '../graph.ts';

/** Deletes initializers no node reads. */
export function dropUnusedInitializers(graph: Graph): void {
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  for (const k of [...graph.initializers.keys()]) if (!used.has(k)) graph.initializers.delete(k);
}
