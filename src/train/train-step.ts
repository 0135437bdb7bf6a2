import { LuxcertError } from '../core/errors.ts';
import { sizeOf } from '../core/tensor.ts';
import type { Graph } from '../graph/graph.ts';
import { validateGraph } from '../graph/validate.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { OnnxEmitter } from '../onnx/emit.ts';
import { positive, signOf } from './grad/activation.ts';
import { emitBackward, emitForward, weightRoles, type ForwardPass, type Seed } from './grad/tape.ts';
import type { PerturbationRegularisers } from './regularisers.ts';

/** Adam's constants (tfjs's and Keras's defaults; PyTorch's ε is 1e-8). */
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

/** What a training step is built for. */
export interface StepSpec {
  model: Graph;
  meta: ModelMeta;
  /** Images per step (static, so onnxruntime plans every kernel once). */
  batch: number;
  regularisers?: PerturbationRegularisers;
  /** Also output each weight's gradient as `grad:NAME` (for checks). */
  gradients?: boolean;
  /** onnxruntime's NCHWc block on the CPU that runs the step (`nchwcBlock`); 1 or absent: plain convolutions. */
  convBlock?: number;
  /** The values in one piece of a large state tensor (default STATE_PIECE_VALUES; see `pieceLengths`). */
  pieceValues?: number;
}

/**
 * The values in one piece of a large state tensor (a weight or one of its moments) as it crosses
 * between steps: a tensor of more than four pieces' values (32 MB, glibc's largest `mmap`
 * threshold) crosses as flat pieces of at most this many. onnxruntime-node returns every output in
 * a new buffer, and glibc serves each block over 32 MB by a fresh `mmap` that every step faults in
 * again; 8 MB pieces come from its heap (a 16.8 M-value weight and its moments through an Adam
 * update: 208–263 ms whole, 97 ms in 8 pieces, 112 in 4). Below 32 MB, pieces measured no faster
 * in a whole step (cnn7's regression step at 32 px, 4.7 M values: 1.02× the time).
 */
export const STATE_PIECE_VALUES = 1 << 21;

/** The lengths of the flat pieces a state tensor of `values` values crosses in (`STATE_PIECE_VALUES`): one when it holds at most four pieces' values, else as equal as can be. */
export function pieceLengths(values: number, piece: number): number[] {
  const k = values > 4 * piece ? Math.ceil(values / piece) : 1;
  return Array.from({ length: k }, (_, i) => Math.floor((values * (i + 1)) / k) - Math.floor((values * i) / k));
}

/** One state input of the step: its name, shape, and which of the weight's values (flat) it holds. */
export interface StateSlot {
  key: string;
  dims: number[];
  start: number;
  length: number;
}

/**
 * The step's inputs holding state `kind` ('p' the weight, 'm' and 'v' Adam's moments) of weight
 * `name` of shape `dims`, crossing in pieces of `lengths` (`pieceLengths`): `p:NAME` whole, else
 * flat pieces `p#0:NAME`, `p#1:NAME`, … in the order of the weight's values.
 */
export function stateSlots(kind: 'p' | 'm' | 'v', name: string, dims: number[], lengths: number[]): StateSlot[] {
  if (lengths.length === 1) return [{ key: `${kind}:${name}`, dims, start: 0, length: lengths[0]! }];
  let start = 0;
  return lengths.map((length, i) => {
    const slot = { key: `${kind}#${i}:${name}`, dims: [length], start, length };
    start += length;
    return slot;
  });
}

/** A training step as an ONNX model, and the names of what it carries from step to step. */
export interface TrainStepModel {
  onnx: Uint8Array;
  /** Trained initializers: each has inputs `p:`, `m:`, `v:` (weight, Adam's moments; or their pieces, `stateSlots`) and outputs `next:p:`, … */
  params: string[];
  /** Per trained initializer, the lengths of its state's flat pieces (`pieceLengths`); one length: it crosses whole. */
  pieces: Record<string, number[]>;
  /** Running statistics: input `s:NAME`, output `next:s:NAME`. */
  statistics: string[];
  /** Per-step inputs beyond the state, with one step's shapes. */
  inputs: Record<string, number[]>;
  /** Whether a run takes several steps, its per-step inputs and outputs stacked along a first axis of steps (`scanSteps`); false for `buildTrainStep`'s. */
  scanned: boolean;
}

/**
 * The per-step scalars of Adam at step t (1-based) and learning rate lr, with the bias corrections
 * c1 = 1/(1 − β₁ᵗ) and c2 = 1/(1 − β₂ᵗ): the update lr·c1·m/(√(c2·v) + ε) equals lr_t·m/(√v + eps_t).
 */
export function adamScalars(lr: number, t: number): { lr_t: number; eps_t: number } {
  const c1 = 1 / (1 - ADAM.beta1 ** t);
  const rootC2 = Math.sqrt(1 / (1 - ADAM.beta2 ** t));
  return { lr_t: (lr * c1) / rootC2, eps_t: ADAM.epsilon / rootC2 };
}

/** The step's output holding the next value of a state input. */
export const nextName = (state: string): string => `next:${state}`;

/**
 * One training step of a model, compiled from its IR into ONNX: the forward pass in training mode,
 * the head's loss, the perturbation regularisers, reverse-mode gradients from each operator's rule,
 * and Adam's update of every trained weight. Inputs: `image` [B, C, H, W]; regression heads
 * `keypoints` [B, K, 2] and `mask` [B, K], heatmap heads `labels` [B·K, G·G] (one-hot cell) and
 * `weights` [B·K]; Adam's step `lr_t` = lr·c1/√c2 and `eps_t` = ε/√c2 (see `adamScalars`); with
 * regularisers, `alpha` and `beta` [B, 1, 1, 1] (one perturbation per image). Outputs: `loss` (the
 * head's), `wasserstein` and `relu_stability` (each term before its weight) and the next state.
 */
export function buildTrainStep(spec: StepSpec): TrainStepModel {
  const { model, meta, batch: n } = spec;
  const input = model.inputs[0]!;
  if (model.inputs.length !== 1 || input.shape.length !== 4) throw new LuxcertError(`model '${model.name}': training needs one image input [N, C, H, W]`);
  const shapes = staticShapes(model, n);
  const e = new OnnxEmitter(`${model.name}_train_step`);
  const { params, statistics } = weightRoles(model);
  const outName = model.outputs[0]!.name;
  const reg = spec.regularisers;
  // Every input is declared before any node, so no value the model names can take an input's name.
  const inputs: Record<string, number[]> = { image: shapes.get(input.name)!, ...targetInputs(meta, n), lr_t: [], eps_t: [] };
  if (reg) Object.assign(inputs, { alpha: [n, 1, 1, 1], beta: [n, 1, 1, 1] });
  for (const [k, dims] of Object.entries(inputs)) e.input(k, dims);
  const weights = new Map<string, string>();
  const pieces: Record<string, number[]> = {};
  const slots = (kind: 'p' | 'm' | 'v', name: string) => stateSlots(kind, name, model.initializers.get(name)!.dims, pieces[name]!).map((s) => s.key);
  for (const name of params) {
    const dims = model.initializers.get(name)!.dims;
    pieces[name] = pieceLengths(sizeOf(dims), spec.pieceValues ?? STATE_PIECE_VALUES);
    for (const kind of ['p', 'm', 'v'] as const) for (const slot of stateSlots(kind, name, dims, pieces[name]!)) e.input(slot.key, slot.dims);
  }
  for (const name of statistics) weights.set(name, e.input(`s:${name}`, model.initializers.get(name)!.dims));
  for (const name of params) {
    const ps = slots('p', name);
    weights.set(name, ps.length === 1 ? ps[0]! : e.op('Reshape', [e.op('Concat', ps, { axis: 0 }), e.ints(model.initializers.get(name)!.dims)]));
  }
  for (const [name, t] of model.initializers) if (!weights.has(name)) weights.set(name, e.tensor(name, t));
  const trained = new Set(params.map((p) => weights.get(p)!));
  const convBlock = spec.convBlock ?? 1;
  const clean = emitForward(e, model, shapes, 'image', weights, trained, convBlock);
  const head = emitHeadLoss(e, meta, clean.values.get(outName)!, shapes.get(outName)!);
  e.output(head.loss, 'loss');
  const seeds: Seed[] = [{ value: clean.values.get(outName)!, grad: head.grad }];
  const passes: ForwardPass[] = [clean];
  if (reg) {
    const perturbedImage = e.op('Clip', [e.op('Add', [e.op('Mul', ['image', 'alpha']), 'beta']), e.scalar(0), e.scalar(1)]);
    // Its BatchNorm statistic updates are dropped: the perturbed pass only shapes the loss.
    const perturbed = emitForward(e, model, shapes, perturbedImage, weights, trained, convBlock);
    passes.push(perturbed);
    const pair = (name: string) => {
      const a = clean.values.get(name);
      if (a === undefined) throw new LuxcertError(`model '${model.name}' has no value '${name}' to regularise`);
      return { clean: a, perturbed: perturbed.values.get(name)!, shape: shapes.get(name)! };
    };
    const seed = (value: string, grad: string, broadcast?: boolean) => seeds.push({ value, grad, ...(broadcast ? { broadcast } : {}) });
    if (reg.wasserstein) e.output(emitWasserstein(e, reg.wasserstein.probes.map(pair), reg.wasserstein.lambda, seed), 'wasserstein');
    if (reg.reluStability) e.output(emitReluStability(e, reg.reluStability.values.map(pair), reg.reluStability.margin, reg.reluStability.mu, seed), 'relu_stability');
  }
  const grads = emitBackward(e, passes, seeds);
  for (const name of params) {
    const g = grads.get(weights.get(name)!);
    if (g === undefined) throw new LuxcertError(`weight '${name}' does not reach the loss, so it cannot be trained`);
    const [ps, ms, vs] = [slots('p', name), slots('m', name), slots('v', name)];
    // A pieced weight's gradient is split as its state is: each piece updates on its own.
    const gs = ps.length === 1 ? [g] : e.node('Split', [e.op('Reshape', [g, e.ints([-1])]), e.ints(pieces[name]!)], { axis: 0 }, ps.length);
    gs.forEach((gi, i) => {
      const m2 = e.op('Add', [e.op('Mul', [ms[i]!, e.scalar(ADAM.beta1)]), e.op('Mul', [gi, e.scalar(1 - ADAM.beta1)])]);
      const v2 = e.op('Add', [e.op('Mul', [vs[i]!, e.scalar(ADAM.beta2)]), e.op('Mul', [e.op('Mul', [gi, gi]), e.scalar(1 - ADAM.beta2)])]);
      // lr·c1·m / (√(c2·v) + ε) as (lr·c1/√c2)·m / (√v + ε/√c2): two scalars instead of two passes over the weights.
      const stepTaken = e.op('Mul', [e.op('Div', [m2, e.op('Add', [e.op('Sqrt', [v2]), 'eps_t'])]), 'lr_t']);
      e.output(e.op('Sub', [ps[i]!, stepTaken]), nextName(ps[i]!));
      e.output(m2, nextName(ms[i]!));
      e.output(v2, nextName(vs[i]!));
    });
    if (spec.gradients) e.output(g, `grad:${name}`);
  }
  for (const name of statistics) {
    e.output(clean.updates.get(name) ?? weights.get(name)!, nextName(`s:${name}`));
  }
  return { onnx: e.encode(), params, pieces, statistics, inputs, scanned: false };
}

/** Shapes of every model value with the batch fixed to `n`; refuses a model with other dynamic dimensions. */
export function staticShapes(model: Graph, n: number): Map<string, number[]> {
  const input = model.inputs[0]!;
  const copy: Graph = { ...model, inputs: [{ name: input.name, shape: [n, ...input.shape.slice(1)] }], outputs: model.outputs.map((o) => ({ ...o, shape: [] })), nodes: [...model.nodes] };
  const shapes = validateGraph(copy);
  const out = new Map<string, number[]>();
  for (const [k, s] of shapes) {
    if (!s.every((d) => typeof d === 'number')) throw new LuxcertError(`model '${model.name}': value '${k}' has dynamic shape [${s}] beyond the batch, so it cannot be trained`);
    out.set(k, s as number[]);
  }
  return out;
}

/** The inputs holding a head's targets. */
function targetInputs(meta: ModelMeta, n: number): Record<string, number[]> {
  const k = meta.keypoints.length;
  return meta.head === 'regression' ? { keypoints: [n, k, 2], mask: [n, k] } : { labels: [n * k, meta.grid! * meta.grid!], weights: [n * k] };
}

/** The head's loss (smooth-L1 on pixel coordinates for regression heads, cell cross-entropy for heatmaps) and its gradient with respect to the model output. */
function emitHeadLoss(e: OnnxEmitter, meta: ModelMeta, y: string, yShape: number[]): { loss: string; grad: string } {
  const n = yShape[0]!;
  const k = meta.keypoints.length;
  const sum = (v: string) => e.op('ReduceSum', [v], { keepdims: 0 });
  // Divided by the number of weighted terms (at least 1, so an unlabelled batch has loss 0, not NaN).
  const perTerm = (w: string, copies: number) => e.op('Reciprocal', [e.op('Max', [e.op('Mul', [sum(e.op('Sign', [e.op('Abs', [w])])), e.scalar(copies)]), e.scalar(1)])]);
  if (meta.head === 'regression') {
    const [target, mask] = ['keypoints', 'mask'];
    const d = e.op('Sub', [e.op('Reshape', [y, e.ints([n, k, 2])]), target]);
    const a = e.op('Abs', [d]);
    const q = e.op('Min', [a, e.scalar(1)]);
    // Smooth-L1 with δ = 1: ½q² + (|d| − q), q = min(|d|, 1).
    const huber = e.op('Add', [e.op('Mul', [e.op('Mul', [q, q]), e.scalar(0.5)]), e.op('Sub', [a, q])]);
    const w = e.op('Mul', [e.op('Unsqueeze', [mask, e.ints([2])]), perTerm(mask, 2)]);
    const loss = sum(e.op('Mul', [huber, w]));
    const grad = e.op('Reshape', [e.op('Mul', [e.op('Clip', [d, e.scalar(-1), e.scalar(1)]), w]), e.ints(yShape)]);
    return { loss, grad };
  }
  const cells = meta.grid! * meta.grid!;
  const [labels, weights] = ['labels', 'weights'];
  const logp = e.op('LogSoftmax', [e.op('Reshape', [y, e.ints([n * k, cells])])], { axis: 1 });
  const w = e.op('Mul', [weights, perTerm(weights, 1)]);
  const ce = e.op('Neg', [e.op('ReduceSum', [e.op('Mul', [labels, logp]), e.ints([1])], { keepdims: 0 })]);
  const loss = sum(e.op('Mul', [ce, w]));
  const grad = e.op('Mul', [e.op('Sub', [e.op('Exp', [logp]), labels]), e.op('Unsqueeze', [w, e.ints([1])])]);
  return { loss, grad: e.op('Reshape', [grad, e.ints(yShape)]) };
}

/** Adds a loss term's gradient with respect to an emitted value (`broadcast`: shaped to broadcast to it). */
type SeedFn = (value: string, grad: string, broadcast?: boolean) => void;

/** A value in the clean and the perturbed pass. */
interface Pair {
  clean: string;
  perturbed: string;
  shape: number[];
}

/**
 * The Wasserstein regulariser (PerturbationRegularisers.wasserstein): per probe and channel, the mean
 * |sorted clean − sorted perturbed| of the per-image channel means, averaged; seeds λ times its
 * gradient (a sorted value's gradient flows to the element it came from).
 */
function emitWasserstein(e: OnnxEmitter, pairs: Pair[], lambda: number, seed: SeedFn): string {
  const terms = pairs.map(({ clean, perturbed, shape }) => {
    const [n, c] = shape as [number, number];
    const spatial = shape.slice(2).reduce((p, d) => p * d, 1);
    const overMap = shape.length > 2;
    const channelMeans = (v: string) => e.op('Transpose', [overMap ? e.op('ReduceMean', [v], { axes: shape.slice(2).map((_, i) => i + 2), keepdims: 0 }) : v], { perm: [1, 0] });
    const sorted = (v: string) => e.node('TopK', [channelMeans(v), e.ints([n])], { axis: 1, largest: 0, sorted: 1 }, 2);
    const [sa, ia] = sorted(clean);
    const [sb, ib] = sorted(perturbed);
    const diff = e.op('Sub', [sa!, sb!]);
    const absDiff = e.op('Abs', [diff]);
    const g = e.op('Mul', [signOf(e, diff, absDiff), e.scalar(lambda / (n * c * pairs.length * spatial))]);
    // Each channel mean's gradient, [n, c, 1, 1] over a map: seeded as it is, for the backward pass to broadcast.
    const back = (idx: string, gs: string) => {
      const perImage = e.op('Transpose', [e.op('ScatterElements', [e.op('ConstantOfShape', [e.ints([c, n])]), idx, gs], { axis: 1 })], { perm: [1, 0] });
      return overMap ? e.op('Reshape', [perImage, e.ints([n, c, ...shape.slice(2).map(() => 1)])]) : perImage;
    };
    seed(clean, back(ia!, g), overMap);
    seed(perturbed, back(ib!, e.op('Neg', [g])), overMap);
    return e.op('ReduceMean', [absDiff], { keepdims: 0 });
  });
  return e.op('Div', [terms.reduce((s, t) => e.op('Add', [s, t])), e.scalar(terms.length)]);
}

/**
 * The ReLU-stability regulariser (PerturbationRegularisers.reluStability): per watched value, the mean
 * of relu(k·|z' − z| − |z|) over the value's RMS (a constant of the batch), averaged; seeds μ times
 * its gradient.
 */
function emitReluStability(e: OnnxEmitter, pairs: Pair[], margin: number, mu: number, seed: SeedFn): string {
  const terms = pairs.map(({ clean: z, perturbed: zp, shape }) => {
    const count = shape.reduce((p, d) => p * d, 1);
    const diff = e.op('Sub', [zp, z]);
    const [absDiff, absZ] = [e.op('Abs', [diff]), e.op('Abs', [z])];
    const hinge = e.op('Relu', [e.op('Sub', [e.op('Mul', [absDiff, e.scalar(margin)]), absZ])]);
    // ReduceSumSquare writes no squares (0.36 against 0.67 ms at [32, 16, 64, 64]).
    const scale = e.op('Add', [e.op('Sqrt', [e.op('Div', [e.op('ReduceSumSquare', [z], { keepdims: 0 }), e.scalar(count)])]), e.scalar(1e-6)]);
    // The constant factors meet as scalars before they meet the map (a full-size pass: ~0.5 ms at [32, 16, 64, 64]).
    const s = e.op('Div', [e.scalar(mu / (count * pairs.length)), scale]);
    const active = positive(e, hinge);
    // ∂/∂z' = s·k·[hinge > 0]·sign(z' − z); ∂/∂z = −∂/∂z' − s·[hinge > 0]·sign(z).
    const gShift = e.op('Mul', [e.op('Mul', [active, signOf(e, diff, absDiff)]), e.op('Mul', [s, e.scalar(margin)])]);
    seed(zp, gShift);
    seed(z, e.op('Sub', [e.op('Mul', [e.op('Mul', [active, signOf(e, z, absZ)]), e.op('Neg', [s])]), gShift]));
    return e.op('Div', [e.op('ReduceMean', [hinge], { keepdims: 0 }), scale]);
  });
  return e.op('Div', [terms.reduce((s, t) => e.op('Add', [s, t])), e.scalar(terms.length)]);
}
