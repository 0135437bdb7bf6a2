import { LuxcertError } from '../core/errors.ts';
import { formatShape, MAX_TENSOR_ELEMENTS, sizeOf, type Shape } from '../core/tensor.ts';
import type { Graph, Node } from './graph.ts';
import type { OpDef } from './op.ts';
import { OPS } from './ops/registry.ts';

/** The operator definition for a node, or a LuxcertError naming the node. */
export function opOf(node: Node): OpDef {
  const def = OPS.get(node.op);
  if (!def) throw new LuxcertError(`unsupported operator ${node.op} (node '${node.name}')`);
  return def;
}

/** Nodes reordered so every input is produced before it is used; throws on cycles or undefined inputs. */
function topologicalOrder(graph: Graph): Node[] {
  const available = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
  const pending = [...graph.nodes];
  const order: Node[] = [];
  while (pending.length > 0) {
    const i = pending.findIndex((n) => n.inputs.every((x) => available.has(x)));
    if (i < 0) {
      const n = pending[0]!;
      const missing = n.inputs.find((x) => !available.has(x) && !pending.some((p) => p.outputs.includes(x)));
      if (missing !== undefined) {
        throw new LuxcertError(`node '${n.name}' (${n.op}): input '${missing}' is not a graph input, an initializer or a node output (missing initializer?)`);
      }
      throw new LuxcertError(`graph '${graph.name}' has a cycle through node '${n.name}'`);
    }
    const [n] = pending.splice(i, 1);
    order.push(n!);
    for (const o of n!.outputs) available.add(o);
  }
  return order;
}

/**
 * Checks a graph (unique names, supported operators, every input defined, shapes consistent),
 * puts its nodes in topological order, and returns the shape of every value.
 */
export function validateGraph(graph: Graph): Map<string, Shape> {
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (name === '') throw new LuxcertError(`graph '${graph.name}': ${what} has an empty name`);
    if (defined.has(name)) throw new LuxcertError(`graph '${graph.name}': value '${name}' is defined twice (${what})`);
    defined.add(name);
  };
  for (const v of graph.inputs) define(v.name, 'graph input');
  for (const k of graph.initializers.keys()) define(k, 'initializer');
  const nodeNames = new Set<string>();
  for (const n of graph.nodes) {
    opOf(n);
    if (nodeNames.has(n.name)) throw new LuxcertError(`graph '${graph.name}': node name '${n.name}' is used twice`);
    nodeNames.add(n.name);
    for (const o of n.outputs) define(o, `output of node '${n.name}'`);
  }
  graph.nodes = topologicalOrder(graph);

  const shapes = new Map<string, Shape>();
  for (const v of graph.inputs) shapes.set(v.name, v.shape);
  for (const [k, t] of graph.initializers) shapes.set(k, t.dims);
  for (const n of graph.nodes) {
    const outs = opOf(n).inferShapes(n, n.inputs.map((i) => shapes.get(i)!));
    if (outs.length !== n.outputs.length) throw new LuxcertError(`node '${n.name}' (${n.op}): has ${n.outputs.length} outputs, the operator makes ${outs.length}`);
    n.outputs.forEach((o, i) => shapes.set(o, outs[i]!));
  }
  for (const out of graph.outputs) {
    const s = shapes.get(out.name);
    if (!s) throw new LuxcertError(`graph output '${out.name}' is not produced by any node`);
    const declaredOk = out.shape.length === 0 || (out.shape.length === s.length && out.shape.every((d, i) => typeof d !== 'number' || typeof s[i] !== 'number' || d === s[i]));
    if (!declaredOk) throw new LuxcertError(`graph output '${out.name}' is declared ${formatShape(out.shape)} but computes ${formatShape(s)} (shape mismatch)`);
    out.shape = s;
  }
  return shapes;
}

/** Refuses a graph with a value larger than MAX_TENSOR_ELEMENTS per batch item, before anything allocates it. */
export function checkValueSizes(shapes: Map<string, (number | string)[]>): void {
  for (const [name, shape] of shapes) {
    const n = sizeOf(shape.slice(1).map((d) => (typeof d === 'number' ? d : 1)));
    if (!(n <= MAX_TENSOR_ELEMENTS)) throw new LuxcertError(`value '${name}' has shape [${shape}]: over ${MAX_TENSOR_ELEMENTS} elements per image, refused`);
  }
}
