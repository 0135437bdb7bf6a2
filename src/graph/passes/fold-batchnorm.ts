import { consumers, freshName, producers, type Graph, type Node } from '../graph.ts';
import { intAttr, floatAttr } from '../attrs.ts';
import { batchNormAffine } from '../ops/batchnorm.ts';
import type { Tensor } from '../../core/tensor.ts';

/** Stores `t` under the producer's current name when only it reads that name, else under a new name. */
function setWeight(graph: Graph, owner: Node, index: number, t: Tensor, base: string): void {
  const current = owner.inputs[index];
  const shared = current !== undefined && (consumers(graph).get(current) ?? []).length > 1;
  const name = current !== undefined && !shared ? current : freshName(graph, base);
  graph.initializers.set(name, t);
  owner.inputs[index] = name;
}

/** Folds y = a·(W·x + c) + b into the producer's weights for Conv and Gemm. */
function fold(graph: Graph, p: Node, a: Float64Array, b: Float64Array): boolean {
  const w = graph.initializers.get(p.inputs[1]!);
  const biasName = p.inputs[2];
  const bias = biasName === undefined ? undefined : graph.initializers.get(biasName);
  if (!w || (biasName !== undefined && !bias)) return false;
  const c = a.length;
  const newW = new Float32Array(w.data.length);
  let newB: Float32Array;
  if (p.op === 'Conv') {
    if (w.dims[0] !== c) return false;
    const per = w.data.length / c;
    for (let i = 0; i < w.data.length; i++) newW[i] = w.data[i]! * a[Math.floor(i / per)]!;
    newB = Float32Array.from(a, (ai, m) => (bias ? bias.data[m]! : 0) * ai + b[m]!);
  } else {
    const tb = intAttr(p, 'transB', 0) === 1;
    const [r, cols] = w.dims as [number, number];
    if ((tb ? r : cols) !== c) return false;
    for (let i = 0; i < w.data.length; i++) newW[i] = w.data[i]! * a[tb ? Math.floor(i / cols) : i % cols]!;
    // Only a per-column C folds; a per-row one depends on the batch.
    if (bias && !(bias.data.length === 1 || (bias.data.length === c && bias.dims.every((d, i) => d === 1 || i === bias.dims.length - 1)))) return false;
    const beta = floatAttr(p, 'beta', 1);
    newB = Float32Array.from(a, (ai, m) => (bias ? beta * bias.data[bias.data.length === 1 ? 0 : m]! : 0) * ai + b[m]!);
    if (bias) p.attrs = { ...p.attrs, beta: 1 };
  }
  setWeight(graph, p, 1, { dims: [...w.dims], data: newW }, `${p.name}.weight`);
  setWeight(graph, p, 2, { dims: [c], data: newB }, `${p.name}.bias`);
  return true;
}

/**
 * Folds every inference-mode BatchNormalization that directly follows a Conv or Gemm (whose output
 * nothing else reads) into that node's weights and bias. Other BatchNormalizations stay as nodes.
 */
export function foldBatchNorms(graph: Graph): void {
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  for (const bn of [...graph.nodes]) {
    if (bn.op !== 'BatchNormalization') continue;
    const x = bn.inputs[0]!;
    const p = producers(graph).get(x);
    if (!p || (p.op !== 'Conv' && p.op !== 'Gemm') || graphOutputs.has(x) || consumers(graph).get(x)!.length !== 1) continue;
    const params = bn.inputs.slice(1).map((i) => graph.initializers.get(i));
    if (params.some((t) => !t)) continue;
    const [scale, shift, mean, variance] = params as [Tensor, Tensor, Tensor, Tensor];
    const { a, b } = batchNormAffine(bn, scale, shift, mean, variance);
    if (!fold(graph, p, a, b)) continue;
    p.outputs = [bn.outputs[0]!];
    graph.nodes.splice(graph.nodes.indexOf(bn), 1);
  }
}
