import type { Shape } from '../core/tensor.ts';
import { graphStats } from '../graph/stats.ts';
import { decodeOnnx, rawToGraph, readModelBytes, unsupportedNodes } from './read.ts';

/** What `luxcert inspect` reports about a model file. */
export interface ModelReport {
  file: string;
  producer: string;
  irVersion: number;
  opset: number;
  graph: string;
  inputs: { name: string; shape: Shape }[];
  outputs: { name: string; shape: Shape }[];
  /** Operator counts as written in the file (exporter constant arithmetic already folded). */
  operators: Record<string, number>;
  supported: boolean;
  unsupported: { op: string; node: string }[];
  /** Float weights luxcert keeps after import (BatchNorm folded); from the file when unsupported. */
  params: number;
  /** FLOPs for a batch of one, a multiply-add counting 2; null when the model cannot be imported. */
  flops: number | null;
  /** Per node of luxcert's IR (after BatchNorm folding and Identity removal); empty when unsupported. */
  nodes: { name: string; op: string; outputShape: Shape; params: number; flops: number }[];
  metadata: Record<string, string>;
}

/** Reads a model and reports its interface, operators, parameters, FLOPs and luxcert support. */
export function inspectModel(path: string): ModelReport {
  const raw = decodeOnnx(readModelBytes(path), path);
  const unsupported = unsupportedNodes(raw);
  const operators: Record<string, number> = {};
  for (const n of raw.nodes) operators[n.op] = (operators[n.op] ?? 0) + 1;
  const base = {
    file: path,
    producer: raw.producer,
    irVersion: raw.irVersion,
    opset: raw.opset,
    graph: raw.graphName,
    operators,
    metadata: raw.metadata,
    unsupported,
    supported: unsupported.length === 0,
  };
  if (unsupported.length > 0) {
    let params = 0;
    for (const t of raw.initializers.values()) if (t.values instanceof Float32Array) params += t.values.length;
    return { ...base, inputs: raw.inputs, outputs: raw.outputs, params, flops: null, nodes: [] };
  }
  const graph = rawToGraph(raw);
  const stats = graphStats(graph);
  return {
    ...base,
    inputs: graph.inputs,
    outputs: graph.outputs,
    params: stats.params,
    flops: stats.flops,
    nodes: stats.nodes.map((n) => ({ name: n.name, op: n.op, outputShape: n.outputShapes[0]!, params: n.params, flops: n.flops })),
  };
}
