import type { Shape, Tensor } from '../core/tensor.ts';

/** An attribute value after canonicalisation: ints and floats are numbers, lists are number arrays. */
export type AttrValue = number | string | number[];
export type Attrs = Record<string, AttrValue>;

/** One operator application. Inputs and outputs name values; constant parameters live in `attrs`. */
export interface Node {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
}

/** A graph input or output. */
export interface ValueInfo {
  name: string;
  shape: Shape;
}

/**
 * luxcert's graph IR: nodes in topological order over named float32 values. Weights are
 * initializers (so pruning can edit them); shape-like constants (Reshape's shape, Pad's pads,
 * Clip's bounds) are attributes of their node.
 */
export interface Graph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  nodes: Node[];
  /** ONNX `metadata_props`: head type, keypoint names, input size, … */
  metadata: Record<string, string>;
}

/** The producer node of each value. */
export function producers(graph: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

/** The consumer nodes of each value. */
export function consumers(graph: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      const list = m.get(i);
      if (list) list.push(n);
      else m.set(i, [n]);
    }
  }
  return m;
}

/** A name not yet used by any value or node of the graph, built from `base`. */
export function freshName(graph: Graph, base: string): string {
  const used = new Set<string>([...graph.initializers.keys(), ...graph.inputs.map((v) => v.name)]);
  for (const n of graph.nodes) {
    used.add(n.name);
    for (const o of n.outputs) used.add(o);
  }
  if (!used.has(base)) return base;
  for (let i = 1; ; i++) if (!used.has(`${base}_${i}`)) return `${base}_${i}`;
}
