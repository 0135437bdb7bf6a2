import { LuxcertError } from '../core/errors.ts';
import type { Tensor } from '../core/tensor.ts';
import { intAttr } from '../graph/attrs.ts';
import type { Graph } from '../graph/graph.ts';
import { validateGraph } from '../graph/validate.ts';
import type { ChannelGroup } from './groups.ts';

/** `t` keeping only the given indices along `axis`. */
function keepAlong(t: Tensor, axis: number, keep: number[]): Tensor {
  const dims = [...t.dims];
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis]!;
  const data = new Float32Array(outer * keep.length * inner);
  for (let o = 0; o < outer; o++) keep.forEach((k, j) => data.set(t.data.subarray((o * n + k) * inner, (o * n + k + 1) * inner), (o * keep.length + j) * inner));
  dims[axis] = keep.length;
  return { dims, data };
}

/**
 * Physically removes every channel of `group` not in `keep` (sorted indices): producer rows and
 * biases, BatchNorm parameters, per-channel constants, and the matching inputs of every consumer
 * (Conv input channels, Gemm columns, flatten-ordered Gemm column blocks). The graph is edited in place.
 */
export function removeChannels(graph: Graph, group: ChannelGroup, keep: number[]): void {
  if (group.blocked) throw new LuxcertError(`channel group ${group.id} cannot be pruned: ${group.blocked}`);
  if (keep.length === 0) throw new LuxcertError(`channel group ${group.id}: at least one channel must stay`);
  const edit = (name: string | undefined, axis: number, idx = keep) => {
    if (name === undefined) return;
    const t = graph.initializers.get(name);
    if (!t) throw new LuxcertError(`initializer '${name}' is missing`);
    graph.initializers.set(name, keepAlong(t, axis, idx));
  };
  for (const u of group.uses) {
    const n = u.node;
    switch (u.kind) {
      case 'producer':
        if (n.op === 'Conv') edit(n.inputs[1], 0);
        else edit(n.inputs[1], intAttr(n, 'transB', 0) === 1 ? 0 : 1);
        if (n.inputs[2] !== undefined && graph.initializers.get(n.inputs[2])!.data.length > 1) edit(n.inputs[2], graph.initializers.get(n.inputs[2])!.dims.length - 1);
        break;
      case 'batchnorm':
        for (const p of n.inputs.slice(1)) edit(p, 0);
        break;
      case 'constant': {
        const t = graph.initializers.get(n.inputs[u.input]!)!;
        edit(n.inputs[u.input], t.dims.findIndex((d) => d === group.channels && d > 1));
        break;
      }
      case 'conv-input':
        edit(n.inputs[1], 1);
        break;
      case 'gemm-input': {
        const cols = keep.flatMap((c) => Array.from({ length: u.block }, (_, j) => c * u.block + j));
        edit(n.inputs[1], intAttr(n, 'transB', 0) === 1 ? 1 : 0, cols);
        break;
      }
    }
  }
  validateGraph(graph);
}
