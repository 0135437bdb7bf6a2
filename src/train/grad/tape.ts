import { LuxcertError } from '../../core/errors.ts';
import type { Graph } from '../../graph/graph.ts';
import { isOpName } from '../../graph/ops/registry.ts';
import type { OnnxEmitter } from '../../onnx/emit.ts';
import { GRAD_RULES } from './index.ts';
import type { ForwardResult, GradContext, GradRule } from './rule.ts';

/** One forward node as emitted, kept for the reverse pass. */
interface TapeEntry {
  rule: GradRule;
  ctx: GradContext;
  fwd: ForwardResult;
}

/** An emitted training-mode forward pass of a model. */
export interface ForwardPass {
  /** The emitted name of every model value (inputs, initializers and node outputs). */
  values: Map<string, string>;
  /** New running statistics by initializer name. */
  updates: Map<string, string>;
  tape: TapeEntry[];
  /** Emitted values that depend on a trained weight (those the reverse pass visits). */
  requires: Set<string>;
}

/** Which initializers of the model are trained weights and which are running statistics (per the gradient rules). */
export function weightRoles(model: Graph): { params: string[]; statistics: string[] } {
  const params = new Set<string>();
  const statistics = new Set<string>();
  for (const node of model.nodes) {
    const rule = ruleOf(node.op, node.name);
    node.inputs.forEach((name, i) => {
      if (!model.initializers.has(name)) return;
      if (rule.params?.includes(i)) params.add(name);
      else if (rule.statistics?.includes(i)) statistics.add(name);
    });
  }
  const both = [...params].find((p) => statistics.has(p));
  if (both) throw new LuxcertError(`initializer '${both}' is both a trained weight and a running statistic, so the model cannot be trained`);
  return { params: [...params], statistics: [...statistics] };
}

function ruleOf(op: string, name: string): GradRule {
  const rule = isOpName(op) ? GRAD_RULES[op] : null;
  if (!rule) throw new LuxcertError(`${op} node '${name}' has no gradient rule, so the model cannot be trained`);
  return rule;
}

/**
 * Emits the model's forward pass in training mode on `input`; `weights` maps every initializer's
 * name to its emitted name, and `trained` lists the emitted names of the trained weights; convolutions
 * use onnxruntime's NCHWc kernels with block `convBlock` where they can (1: plain).
 */
export function emitForward(e: OnnxEmitter, model: Graph, shapes: Map<string, number[]>, input: string, weights: Map<string, string>, trained: Set<string>, convBlock = 1): ForwardPass {
  const values = new Map<string, string>([[model.inputs[0]!.name, input], ...weights]);
  const requires = new Set(trained);
  const updates = new Map<string, string>();
  const tape: TapeEntry[] = [];
  for (const node of model.nodes) {
    const rule = ruleOf(node.op, node.name);
    const ins = node.inputs.map((i) => values.get(i)!);
    const ctx: GradContext = { e, node, ins, inShapes: node.inputs.map((i) => shapes.get(i)!), outShape: shapes.get(node.outputs[0]!)!, convBlock };
    const fwd = rule.forward ? rule.forward(ctx) : { out: e.irNode(node, ins) };
    for (const [i, v] of fwd.updates ?? []) updates.set(node.inputs[i]!, v);
    values.set(node.outputs[0]!, fwd.out);
    if (ins.some((i) => requires.has(i))) {
      requires.add(fwd.out);
      tape.push({ rule, ctx, fwd });
    }
  }
  return { values, updates, tape, requires };
}

/** A loss term's gradient with respect to an emitted value; `broadcast` where it is shaped to broadcast to the value (e.g. [n, c, 1, 1] for a per-image channel statistic) rather than shaped like it. */
export interface Seed {
  value: string;
  grad: string;
  broadcast?: boolean;
}

/**
 * Reverse-mode differentiation over forward passes from the loss terms' `seeds`; returns the gradient
 * of every emitted value reached, weights included. A broadcast seed is added to the value's other
 * gradients as it is (Add broadcasts: one pass fewer than expanding it first) and expanded only where
 * it is all a node's output receives.
 */
export function emitBackward(e: OnnxEmitter, passes: ForwardPass[], seeds: Seed[]): Map<string, string> {
  const grads = new Map<string, string>();
  const broadcast = new Set<string>();
  const accumulate = (v: string, g: string, partial = false) => {
    const prev = grads.get(v);
    const sum = prev === undefined ? g : e.op('Add', [prev, g]);
    if (partial && (prev === undefined || broadcast.has(prev))) broadcast.add(sum);
    grads.set(v, sum);
  };
  for (const s of seeds) accumulate(s.value, s.grad, s.broadcast);
  for (const pass of [...passes].reverse()) {
    for (const entry of [...pass.tape].reverse()) {
      const g = grads.get(entry.fwd.out);
      if (g === undefined) continue;
      const dy = broadcast.has(g) ? e.op('Expand', [g, e.ints(entry.ctx.outShape)]) : g;
      const needs = entry.ctx.ins.map((i) => pass.requires.has(i));
      const gs = entry.rule.backward(entry.ctx, entry.fwd, dy, needs);
      gs.forEach((gi, i) => {
        if (gi !== undefined && needs[i]) accumulate(entry.ctx.ins[i]!, gi);
      });
    }
  }
  return grads;
}
