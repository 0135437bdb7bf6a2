import { LuxcertError } from '../core/errors.ts';
import { GraphBuilder } from '../graph/builder.ts';
import type { Graph } from '../graph/graph.ts';
import { dropUnusedInitializers } from '../graph/passes/drop-unused.ts';
import { isOpName } from '../graph/ops/registry.ts';
import { validateGraph } from '../graph/validate.ts';
import { backwardTail } from './backward.ts';
import { cameraBound } from './camera.ts';
import { RULES } from './rules/index.ts';
import { isBound, type BoundInput } from './rules/rule.ts';
import { BoundEmitter, type Bound, type BoundMode, type LowerSlope } from './emitter.ts';

/** Options of the bound graph. */
export interface BoundGraphOptions {
  /** Boxes per call (a static batch, so every execution provider can plan for it). */
  boxes: number;
  mode: BoundMode;
  /**
   * Refine the output with backward (CROWN-style) bounds in linear mode, crossing the dense layers
   * and at most this many convolutions (Infinity: all of them), or not at all (false). Default:
   * CERTIFIER.backward.
   */
  backward?: number | false;
  /** ReLU lower-line slope (default CERTIFIER.lowerSlope). */
  lowerSlope?: LowerSlope;
  /** Model values whose concrete bounds are also output, as `lower:NAME` and `upper:NAME` [B, …dims]. */
  probes?: string[];
}

/**
 * The certifier's default settings, the fastest to a proof in `bench:certify` on the demo models
 * (docs/certification.md): the backward tail crosses the last convolution (half the sub-boxes of
 * the dense tail; deeper tails save fewer sub-boxes than their dearer passes cost), with
 * CROWN-Ada's lower slope.
 */
export const CERTIFIER = { backward: 1, lowerSlope: 'adaptive' } as const satisfies { backward: number; lowerSlope: LowerSlope };

/** Names of the bound graph's outputs: concrete bounds, and the linear bounds they come from. */
export const BOUND_OUTPUTS = ['lower', 'upper', 'lower_a', 'lower_b', 'lower_c', 'upper_a', 'upper_b', 'upper_c'] as const;

/**
 * The certifier of a model as a graph: inputs `image` [1, C, H, W] in [0, 1] and the boxes
 * `alpha_lo, alpha_hi, beta_lo, beta_hi` [B]; outputs, for the model's first output y and each box,
 * `lower ≤ y(clip(α·image + β, 0, 1)) ≤ upper` for every (α, β) in the box, plus the linear bounds
 * `lower_a·α + lower_b·β + lower_c ≤ y ≤ upper_a·α + upper_b·β + upper_c` they were concretised from.
 * This one definition runs in onnxruntime (the device) and in the TypeScript reference evaluator.
 */
export function buildBoundGraph(model: Graph, opts: BoundGraphOptions): Graph {
  if (!Number.isInteger(opts.boxes) || opts.boxes < 1) throw new LuxcertError(`boxes per bound pass must be a positive integer, got ${opts.boxes}`);
  const shapes = validateGraph(model);
  const input = model.inputs[0]!;
  const dims = input.shape.slice(1);
  if (model.inputs.length !== 1 || dims.length !== 3 || !dims.every((d) => typeof d === 'number')) {
    throw new LuxcertError(`model '${model.name}': certification needs one image input [N, C, H, W] with static C, H, W (got ${input.name} [${input.shape}])`);
  }
  const b = new GraphBuilder(`${model.name}_bounds`);
  for (const [k, t] of model.initializers) b.weight(k, t);
  const image = b.input('image', [1, ...(dims as number[])]);
  const boxInputs = { alphaLo: b.input('alpha_lo', [opts.boxes]), alphaHi: b.input('alpha_hi', [opts.boxes]), betaLo: b.input('beta_lo', [opts.boxes]), betaHi: b.input('beta_hi', [opts.boxes]) };
  const em = new BoundEmitter(b, opts.mode, opts.boxes, boxInputs, opts.lowerSlope ?? CERTIFIER.lowerSlope);
  const imageDims = dims as number[];
  // The camera model: z = α·x + β is exactly linear in (α, β); the clip to [0, 1] is relaxed.
  const values = new Map<string, BoundInput>([[input.name, em.settle(cameraBound(em, image, boxInputs, imageDims))]]);
  for (const node of model.nodes) {
    if (!isOpName(node.op)) throw new LuxcertError(`unsupported operator ${node.op} (node '${node.name}') for certification`);
    const rule = RULES[node.op];
    const ins = node.inputs.map((i) => values.get(i) ?? i);
    if (!ins.some(isBound)) {
      throw new LuxcertError(`node '${node.name}' (${node.op}) does not depend on the image; luxcert certifies graphs whose every node does`);
    }
    const outDims = shapes.get(node.outputs[0]!)!.slice(1);
    if (!outDims.every((d) => typeof d === 'number')) throw new LuxcertError(`node '${node.name}' (${node.op}): output [${shapes.get(node.outputs[0]!)}] must be static apart from the batch`);
    values.set(node.outputs[0]!, em.settle(rule({ em, model, node, outDims: outDims as number[] }, ins)));
  }
  const forward = values.get(model.outputs[0]!.name) as Bound;
  const convs = opts.backward ?? CERTIFIER.backward;
  const backward = opts.mode === 'linear' && convs !== false ? backwardTail(em, model, values, shapes, forward.dims, convs) : undefined;
  const y = backward ?? forward;
  let { l, u } = em.concretize(y);
  if (backward) {
    // Both bounds are sound: keep the tighter of each (max of lowers, min of uppers).
    const f = em.concretize(forward);
    l = em.add(f.l, em.relu(em.sub(l, f.l)));
    u = em.sub(f.u, em.relu(em.sub(f.u, u)));
  }
  const named = (name: string, t: string) => b.op('Identity', [t], {}, name);
  const parts = (t: string) => ([0, 1, 2] as const).map((k) => em.part(t, y.dims, k));
  const [la, lb, lc] = parts(y.lo);
  const [ua, ub, uc] = parts(y.hi);
  const probes = (opts.probes ?? []).flatMap((name) => {
    const v = values.get(name);
    if (v === undefined || !isBound(v)) throw new LuxcertError(`model '${model.name}' has no value '${name}' that depends on the image, so it has no bounds to probe`);
    const c = em.concretize(v);
    return [named(`lower:${name}`, c.l), named(`upper:${name}`, c.u)];
  });
  const outs = [named('lower', l), named('upper', u), named('lower_a', la!), named('lower_b', lb!), named('lower_c', lc!), named('upper_a', ua!), named('upper_b', ub!), named('upper_c', uc!), ...probes];
  const graph = b.build(outs, { 'luxcert.bound_graph.mode': opts.mode, 'luxcert.bound_graph.boxes': String(opts.boxes) });
  // Rules replace some model constants (scales, |W|) with their own; the originals may go unused.
  dropUnusedInitializers(graph);
  return graph;
}
