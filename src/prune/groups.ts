import type { Shape } from '../core/tensor.ts';
import { consumers, producers, type Graph, type Node } from '../graph/graph.ts';
import { isOpName, type OpName } from '../graph/ops/registry.ts';
import { intAttr, intsAttr } from '../graph/attrs.ts';
import { validateGraph } from '../graph/validate.ts';

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

/** What a channel rule may do while the groups are traced. */
interface Walk {
  graph: Graph;
  shapes: Map<string, Shape>;
  consumers: Map<string, Node[]>;
  outputs: Set<string>;
  /** Puts two values in the same group. */
  union(a: string, b: string): void;
  /** Follows a value that carries the group's channels. */
  walk(v: string): void;
  note(v: string, u: ChannelUse): void;
  block(v: string, why: string): void;
}

/**
 * How an operator treats the channels of a group it reads (Torch-Pruning's pair of pruning
 * functions, as the tracing sees them): `read` handles value v arriving as input i; `carries` says
 * whether its output may carry a group's channels it did not start; `starts` whether it starts a
 * group (a Conv or Gemm whose output channels can be removed).
 */
interface ChannelRule {
  read(w: Walk, n: Node, i: number, v: string): void;
  carries: boolean;
  starts?(n: Node): boolean;
}

const reads = (w: Walk, n: Node, v: string) => w.block(v, `${n.op} node '${n.name}' reads the channels`);

/** The output has the input's channels (activations, BatchNorm, pooling). */
const preserve: ChannelRule = {
  carries: true,
  read(w, n, i, v) {
    if (i !== 0) return reads(w, n, v);
    if (n.op === 'BatchNormalization') w.note(v, { kind: 'batchnorm', node: n });
    w.union(n.outputs[0]!, v);
    w.walk(n.outputs[0]!);
  },
};

/** Both operands and the output share the channels; a constant operand must be per-channel. */
const elementwise: ChannelRule = {
  carries: true,
  read(w, n, i, v) {
    const other = n.inputs[1 - i]!;
    const k = w.graph.initializers.get(other);
    if (k) {
      if (k.data.length > 1) {
        const channels = w.shapes.get(v)![1];
        const cAxis = k.dims.length - (w.shapes.get(v)!.length - 1);
        if (cAxis < 0 || k.dims[cAxis] !== channels || k.data.length !== channels) w.block(v, `${n.op} node '${n.name}' has a constant that is not per-channel`);
        else w.note(v, { kind: 'constant', node: n, input: 1 - i });
      }
    } else {
      w.union(other, v);
      w.walk(other);
    }
    w.union(n.outputs[0]!, v);
    w.walk(n.outputs[0]!);
  },
};

/** Reads the channels in a way no pruning edit follows (concatenation, reshapes, …). */
const blocks: ChannelRule = { carries: false, read: (w, n, _i, v) => reads(w, n, v) };

const ungroupedConv = (n: Node) => intAttr(n, 'group', 1) === 1;
const plainGemm = (n: Node) => intAttr(n, 'transA', 0) === 0;

/** The channel rule of every IR operator (exhaustive: a new operator does not compile without one). */
const CHANNEL_RULES: Record<OpName, ChannelRule> = {
  Relu: preserve,
  Clip: preserve,
  Abs: preserve,
  BatchNormalization: preserve,
  MaxPool: preserve,
  AveragePool: preserve,
  GlobalAveragePool: preserve,
  Identity: preserve,
  Add: elementwise,
  Sub: elementwise,
  Mul: elementwise,
  Div: elementwise,
  Pad: {
    carries: true,
    read(w, n, i, v) {
      if (i !== 0) return reads(w, n, v);
      const pads = intsAttr(n, 'pads', []);
      const r = pads.length / 2;
      if (pads[1] !== 0 || pads[1 + r] !== 0) w.block(v, `Pad node '${n.name}' pads the channels`);
      w.union(n.outputs[0]!, v);
      w.walk(n.outputs[0]!);
    },
  },
  Conv: {
    carries: false,
    starts: ungroupedConv,
    read: (w, n, i, v) => (i === 0 && ungroupedConv(n) ? w.note(v, { kind: 'conv-input', node: n }) : reads(w, n, v)),
  },
  Gemm: {
    carries: false,
    starts: plainGemm,
    read: (w, n, i, v) => (i === 0 && plainGemm(n) ? w.note(v, { kind: 'gemm-input', node: n, block: 1 }) : reads(w, n, v)),
  },
  Flatten: {
    carries: false,
    read(w, n, _i, v) {
      if (intAttr(n, 'axis', 1) !== 1) return reads(w, n, v);
      const out = n.outputs[0]!;
      const blockSize = (w.shapes.get(v)!.slice(2) as number[]).reduce((a, b) => a * b, 1);
      const gemms = w.consumers.get(out) ?? [];
      if (w.outputs.has(out) || gemms.length === 0 || !gemms.every((g) => g.op === 'Gemm' && g.inputs[0] === out && plainGemm(g))) w.block(v, `Flatten node '${n.name}' feeds something other than Gemm`);
      else for (const g of gemms) w.note(v, { kind: 'gemm-input', node: g, block: blockSize });
    },
  },
  ConvTranspose: blocks,
  MatMul: blocks,
  Reshape: blocks,
  Concat: blocks,
};

const ruleOf = (op: string): ChannelRule => (isOpName(op) ? CHANNEL_RULES[op] : blocks);

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

  const seeds = graph.nodes.filter((n) => ruleOf(n.op).starts?.(n) ?? false);
  const visited = new Set<string>();
  const w: Walk = {
    graph, shapes, consumers: cons, outputs, union, note, block,
    walk(v) {
      if (visited.has(v)) return;
      visited.add(v);
      if (outputs.has(v)) block(v, 'it reaches the model output');
      for (const n of cons.get(v) ?? []) ruleOf(n.op).read(w, n, n.inputs.indexOf(v), v);
    },
  };
  for (const s of seeds) w.walk(s.outputs[0]!);
  // Every value in a group must come from a seed or from an operator the walk passed through.
  const seedSet = new Set(seeds);
  for (const v of visited) {
    const p = prod.get(v);
    if (!p) block(v, 'a graph input carries the channels');
    else if (!seedSet.has(p) && !ruleOf(p.op).carries) block(v, `${p.op} node '${p.name}' produces the channels`);
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
