import type { Shape, Tensor } from '../core/tensor.ts';
import type { Attrs, Graph } from './graph.ts';
import { validateGraph } from './validate.ts';

/** Builds an IR graph node by node; names are generated from the op type. */
export class GraphBuilder {
  private readonly graph: Graph;
  private counter = 0;

  constructor(name: string) {
    this.graph = { name, inputs: [], outputs: [], initializers: new Map(), nodes: [], metadata: {} };
  }

  /** Declares a graph input and returns its name. */
  input(name: string, shape: Shape): string {
    this.graph.inputs.push({ name, shape });
    return name;
  }

  /** Adds an initializer and returns its name. */
  weight(name: string, t: Tensor): string {
    this.graph.initializers.set(name, t);
    return name;
  }

  /** Adds a node and returns its output names. */
  node(op: string, inputs: string[], attrs: Attrs = {}, outputs = 1, name?: string): string[] {
    const id = name ?? `${op.toLowerCase()}_${this.counter++}`;
    const outs = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? id : `${id}_${i}`));
    this.graph.nodes.push({ op, name: id, inputs, outputs: outs, attrs });
    return outs;
  }

  /** Adds a single-output node and returns its output name. */
  op(op: string, inputs: string[], attrs: Attrs = {}, name?: string): string {
    return this.node(op, inputs, attrs, 1, name)[0]!;
  }

  /** Marks values as graph outputs, validates, and returns the graph. */
  build(outputs: string[], metadata: Record<string, string> = {}): Graph {
    this.graph.outputs = outputs.map((name) => ({ name, shape: [] }));
    this.graph.metadata = metadata;
    validateGraph(this.graph);
    return this.graph;
  }
}
