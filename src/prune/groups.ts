import { consumers, producers, type Graph, type Node } from '../graph/graph.ts';
import { intAttr, intsAttr } from '../graph/attrs.ts';
import { validateGraph } from '../graph/validate.ts';

/** Operators whose output has the same channels as their (first) input. */
const CHANNEL_PRESERVING = new Set(['Relu', 'Clip', 'Abs', 'BatchNormalization', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Identity']);

/** How a node reads a group's channels, so removing channel c edits it in the right place. */
export type ChannelUse =
  | { kind: 'producer'; node: Node }
  | { kind: 'batchnorm'; node: Node }
  | { kind: 'constant'; node: Node; input: number }
  | { kind: 'conv-input'; node: Node }
  | { kind: 'gemm-input'; node: Node; block: number };

/**
 * A set of channels that must be pruned together (Torch-Pruning's dependency group): the outputs of
 * the Conv/Gemm producers and every value that carries the same channels, residual partners included.
 */
export interface ChannelGroup {
  id: number;
  channels: number;
  uses: ChannelUse[];
  /** Why the group cannot be pruned (reaches the graph output, a Concat, a reshape, …), if so. */
  blocked?: string;
}

/** Finds the channel groups of a graph (Conv with group 1 and Gemm outputs). */
export function channelGroups(graph: Graph): ChannelGroup[] {
  const shapes = validateGraph(graph);
  const prod = producers(graph);
  const cons = consumers(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const parent = new Map<string, string>();
  const find = (v: string): string => {
    const p = parent.get(v) ?? v;
    if (p === v) return v;
    const r = find(p);
    parent.set(v, r);
    return r;
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  const uses = new Map<string, ChannelUse[]>();
  const blocked = new Map<string, string>();
  const note = (v: string, u: ChannelUse) => uses.set(v, [...(uses.get(v) ?? []), u]);
  const block = (v: string, why: string) => blocked.set(v, why);

  const seeds = graph.nodes.filter((n) => (n.op === 'Conv' && intAttr(n, 'group', 1) === 1) || (n.op === 'Gemm' && intAttr(n, 'transA', 0) === 0));
  const visited = new Set<string>();
  const walk = (v: string) => {
    if (visited.has(v)) return;
    visited.add(v);
    if (outputs.has(v)) block(v, 'it reaches the model output');
    const channels = shapes.get(v)![1];
    for (const n of cons.get(v) ?? []) {
      const i = n.inputs.indexOf(v);
      const out = n.outputs[0]!;
      if (CHANNEL_PRESERVING.has(n.op) && i === 0) {
        if (n.op === 'BatchNormalization') note(v, { kind: 'batchnorm', node: n });
        union(out, v);
        walk(out);
      } else if (n.op === 'Pad' && i === 0) {
        const pads = intsAttr(n, 'pads', []);
        const r = pads.length / 2;
        if (pads[1] !== 0 || pads[1 + r] !== 0) block(v, `Pad node '${n.name}' pads the channels`);
        union(out, v);
        walk(out);
      } else if (['Add', 'Sub', 'Mul', 'Div'].includes(n.op)) {
        const other = n.inputs[1 - i]!;
        const k = graph.initializers.get(other);
        if (k) {
          if (k.data.length > 1) {
            const cAxis = k.dims.length - (shapes.get(v)!.length - 1);
            if (cAxis < 0 || k.dims[cAxis] !== channels || k.data.length !== channels) block(v, `${n.op} node '${n.name}' has a constant that is not per-channel`);
            else note(v, { kind: 'constant', node: n, input: 1 - i });
          }
        } else {
          union(other, v);
          walk(other);
        }
        union(out, v);
        walk(out);
      } else if (n.op === 'Conv' && i === 0 && intAttr(n, 'group', 1) === 1) {
        note(v, { kind: 'conv-input', node: n });
      } else if (n.op === 'Gemm' && i === 0 && intAttr(n, 'transA', 0) === 0) {
        note(v, { kind: 'gemm-input', node: n, block: 1 });
      } else if (n.op === 'Flatten' && intAttr(n, 'axis', 1) === 1) {
        const blockSize = (shapes.get(v)!.slice(2) as number[]).reduce((a, b) => a * b, 1);
        const gemms = cons.get(out) ?? [];
        if (outputs.has(out) || gemms.length === 0 || !gemms.every((g) => g.op === 'Gemm' && g.inputs[0] === out && intAttr(g, 'transA', 0) === 0)) block(v, `Flatten node '${n.name}' feeds something other than Gemm`);
        else for (const g of gemms) note(v, { kind: 'gemm-input', node: g, block: blockSize });
      } else {
        block(v, `${n.op} node '${n.name}' reads the channels`);
      }
    }
  };
  for (const s of seeds) walk(s.outputs[0]!);
  // Every value in a group must come from a seed or from an operator the walk passed through.
  const seedSet = new Set(seeds);
  for (const v of visited) {
    const p = prod.get(v);
    if (!p) block(v, 'a graph input carries the channels');
    else if (!seedSet.has(p) && !CHANNEL_PRESERVING.has(p.op) && !['Pad', 'Add', 'Sub', 'Mul', 'Div'].includes(p.op)) block(v, `${p.op} node '${p.name}' produces the channels`);
  }
  const groups = new Map<string, ChannelGroup>();
  let id = 0;
  for (const s of seeds) {
    const root = find(s.outputs[0]!);
    let g = groups.get(root);
    if (!g) {
      g = { id: id++, channels: shapes.get(s.outputs[0]!)![1] as number, uses: [] };
      groups.set(root, g);
    }
    g.uses.push({ kind: 'producer', node: s });
  }
  for (const v of visited) {
    const g = groups.get(find(v));
    if (!g) continue;
    g.uses.push(...(uses.get(v) ?? []));
    const why = blocked.get(v);
    if (why && !g.blocked) g.blocked = why;
  }
  return [...groups.values()];
}
