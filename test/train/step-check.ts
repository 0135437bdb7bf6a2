// Runs a compiled training step directly (gradients out, weights in) for the gradient tests.
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/random.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import type { Graph } from '../../src/graph/graph.ts';
import type { ModelMeta } from '../../src/model/metadata.ts';
import { openSession } from '../../src/onnx/ort.ts';
import type { PerturbationRegularisers } from '../../src/train/regularisers.ts';
import { batchFeeds } from '../../src/train/step-runner.ts';
import { buildTrainStep, type TrainStepModel } from '../../src/train/train-step.ts';

/** A seeded batch for a model: images, keypoints inside the input, most of them labelled. */
export function randomBatch(meta: ModelMeta, n: number, seed: number) {
  const rng = new Rng(seed);
  const [h, w] = meta.inputSize;
  const k = meta.keypoints.length;
  return {
    n,
    x: Float32Array.from({ length: n * 3 * h * w }, () => rng.next()),
    keypoints: Float32Array.from({ length: n * k * 2 }, (_, i) => rng.uniform(0, i % 2 ? h : w)),
    mask: Float32Array.from({ length: n * k }, (_, i) => (i === 0 || rng.next() < 0.8 ? 1 : 0)),
    alpha: Float32Array.from({ length: n }, () => rng.uniform(0.7, 1.3)),
    beta: Float32Array.from({ length: n }, () => rng.uniform(-0.2, 0.2)),
  };
}

/** The feeds of a model's first training step (weights whole, Adam's moments zero) on one batch, with Adam's scalars `adam`. */
export function firstStepFeeds(model: Graph, meta: ModelMeta, step: TrainStepModel, batch: ReturnType<typeof randomBatch>, adam: { lr_t: number; eps_t: number }): Record<string, ort.Tensor> {
  const t = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
  const feeds: Record<string, ort.Tensor> = { ...batchFeeds(meta, step, batch), lr_t: t(Float32Array.of(adam.lr_t), []), eps_t: t(Float32Array.of(adam.eps_t), []) };
  for (const p of step.params) {
    const w = model.initializers.get(p)!;
    feeds[`p:${p}`] = t(w.data, w.dims);
    feeds[`m:${p}`] = t(new Float32Array(w.data.length), w.dims);
    feeds[`v:${p}`] = t(new Float32Array(w.data.length), w.dims);
  }
  for (const s of step.statistics) feeds[`s:${s}`] = t(model.initializers.get(s)!.data, model.initializers.get(s)!.dims);
  return feeds;
}

/** Loss and weight gradients of a model's training step on one batch, at weights that may be overridden. */
export class StepProbe {
  private constructor(readonly step: TrainStepModel, private readonly session: ort.InferenceSession, private readonly feeds: Record<string, ort.Tensor>, readonly model: Graph) {}

  static async open(model: Graph, meta: ModelMeta, batch: ReturnType<typeof randomBatch>, regularisers?: PerturbationRegularisers, convBlock = 1): Promise<StepProbe> {
    const step = buildTrainStep({ model, meta, batch: batch.n, gradients: true, convBlock, ...(regularisers ? { regularisers } : {}) });
    const session = await openSession(step.onnx);
    return new StepProbe(step, session, firstStepFeeds(model, meta, step, batch, { lr_t: 0.01, eps_t: 1e-7 }), model);
  }

  /** Every output of one step with the given weights replaced. */
  async run(weights: Map<string, Float32Array> = new Map()): Promise<Record<string, ort.Tensor>> {
    const feeds = { ...this.feeds };
    for (const [k, v] of weights) feeds[`p:${k}`] = new ort.Tensor('float32', v, this.feeds[`p:${k}`]!.dims);
    return this.session.run(feeds);
  }

  /** The step's objective: the head's loss plus each regulariser's weighted term. */
  static objective(out: Record<string, ort.Tensor>, reg?: PerturbationRegularisers): number {
    const v = (k: string) => (out[k] ? (out[k].data as Float32Array)[0]! : 0);
    return v('loss') + (reg?.wasserstein?.lambda ?? 0) * v('wasserstein') + (reg?.reluStability?.mu ?? 0) * v('relu_stability');
  }

  /** The weights' gradients, by initializer name. */
  static gradients(out: Record<string, ort.Tensor>, params: string[]): Map<string, Tensor> {
    return new Map(params.map((p) => [p, { dims: [...out[`grad:${p}`]!.dims], data: out[`grad:${p}`]!.data as Float32Array }]));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Checks each weight's gradient against central differences of the objective along random
 * directions (a directional derivative sums over every element, so float32 noise stays small);
 * returns the worst relative error |numeric − analytic| / max(|analytic|, 1e-2) (below 1e-2 float32's
 * rounding of the loss dominates the difference quotient).
 */
export async function directionalCheck(probe: StepProbe, reg: PerturbationRegularisers | undefined, seed: number, h = 1e-3, directions = 2, objective = async (weights: Map<string, Float32Array>) => StepProbe.objective(await probe.run(weights), reg)): Promise<{ worst: number; where: string }> {
  const rng = new Rng(seed);
  const base = await probe.run();
  const grads = StepProbe.gradients(base, probe.step.params);
  let worst = 0;
  let where = '';
  for (const p of probe.step.params) {
    const w = probe.model.initializers.get(p)!.data;
    const g = grads.get(p)!.data;
    for (let d = 0; d < directions; d++) {
      const dir = Float32Array.from(w, () => rng.normal());
      let analytic = 0;
      for (let i = 0; i < w.length; i++) analytic += g[i]! * dir[i]!;
      const at = async (s: number) => objective(new Map([[p, Float32Array.from(w, (v, i) => v + s * h * dir[i]!)]]));
      const numeric = ((await at(1)) - (await at(-1))) / (2 * h);
      const err = Math.abs(numeric - analytic) / Math.max(Math.abs(analytic), 1e-2);
      if (err > worst) {
        worst = err;
        where = `${p}: numeric ${numeric}, analytic ${analytic}`;
      }
    }
  }
  return { worst, where };
}

/** A gradient as the PyTorch fixtures keep it: all values up to 2,048 elements, else seeded samples; and its dot product with a seeded direction. */
export interface GradientDigest {
  size: number;
  indices?: number[];
  values: number[];
  dot: number;
}

/** The digest of a gradient (the same samples and direction for luxcert's and PyTorch's). */
export function gradientDigest(g: Float32Array): GradientDigest {
  const rng = new Rng(17);
  let dot = 0;
  for (let i = 0; i < g.length; i++) dot += g[i]! * rng.normal();
  if (g.length <= 2048) return { size: g.length, values: Array.from(g), dot };
  const pick = new Rng(g.length);
  const indices = Array.from({ length: 2048 }, () => pick.int(0, g.length - 1));
  return { size: g.length, indices, values: indices.map((i) => g[i]!), dot };
}
