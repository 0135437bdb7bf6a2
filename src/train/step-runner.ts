import * as ort from 'onnxruntime-node';
import { LuxcertError } from '../core/errors.ts';
import { sizeOf, type Tensor } from '../core/tensor.ts';
import type { Graph } from '../graph/graph.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { openSession } from '../onnx/ort.ts';
import { targetCells } from './targets.ts';
import { CPU_ENGINE, engineName, engineSessionOptions, stepConvBlock, type TrainEngine } from './engine.ts';
import type { PerturbationRegularisers } from './regularisers.ts';
import { chainSteps } from './chain-steps.ts';
import { adamScalars, buildTrainStep, stepName, nextName, stateSlots, type TrainStepModel } from './train-step.ts';

/** One batch as the step consumes it. */
export interface StepBatch {
  n: number;
  /** N×C×H×W in [0, 1]. */
  x: Float32Array;
  keypoints: Float32Array;
  mask: Float32Array;
  /** One (α, β) per image for the regularisers' perturbed pass. */
  alpha?: Float32Array;
  beta?: Float32Array;
}

/** A batch as step k's inputs (of the step's `steps`): the image, the head's targets (one-hot cells for heatmaps) and, when regularised, α and β. */
export function batchFeeds(meta: ModelMeta, step: TrainStepModel, b: StepBatch, k = 0): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const feed = (name: string, data: Float32Array) => {
    const key = stepName(name, k, step.steps);
    feeds[key] = new ort.Tensor('float32', data, step.inputs[key]!);
  };
  feed('image', b.x);
  if (meta.head === 'regression') {
    feed('keypoints', b.keypoints);
    feed('mask', b.mask);
  } else {
    const cells = meta.grid! * meta.grid!;
    const { cells: c, inside } = targetCells(meta, b.keypoints, b.mask);
    const labels = new Float32Array(c.length * cells);
    c.forEach((cell, i) => (labels[i * cells + cell] = 1));
    feed('labels', labels);
    feed('weights', inside);
  }
  if (step.inputs[stepName('alpha', k, step.steps)]) {
    if (!b.alpha || !b.beta) throw new Error('regularised step needs alpha and beta per image');
    feed('alpha', b.alpha);
    feed('beta', b.beta);
  }
  return feeds;
}

/** What one step reports (each regulariser's term before its weight). */
export interface StepLosses {
  loss: number;
  wasserstein?: number;
  reluStability?: number;
}

/** Adam's state: its step count and both moments of every trained weight. */
export interface AdamState {
  step: number;
  m: Map<string, Tensor>;
  v: Map<string, Tensor>;
}

/** Options of the step runner. */
export interface StepRunnerOptions {
  regularisers?: PerturbationRegularisers;
  engine?: TrainEngine;
  /** The values in one piece of a large state tensor (the step's `pieceValues`). */
  pieceValues?: number;
}

/**
 * Trains a model with the compiled training step in onnxruntime. Weights, Adam's moments and the
 * running statistics stay as onnxruntime tensors between steps: each step's outputs are the next
 * step's inputs, so the state is never copied into or out of JavaScript arrays until `weights()`.
 */
export class StepRunner {
  private readonly sessions = new Map<string, { session: ort.InferenceSession; step: TrainStepModel }>();
  private readonly built = new Map<number, TrainStepModel>();
  private readonly state = new Map<string, ort.Tensor>();
  private t = 0;
  private resumed?: AdamState;
  /** The state's layout (weights, their pieces, statistics), from the first step's model; every batch size's step shares it. */
  private layout?: TrainStepModel;

  constructor(private readonly model: Graph, private readonly meta: ModelMeta, private readonly opts: StepRunnerOptions = {}) {}

  /** Builds the run of `k` steps on batches of `n` before its first use, so the build overlaps other start-up work (the trainer's batch worker starting). */
  async prepare(n: number, k = 1): Promise<void> {
    await this.sessionFor(n, k);
  }

  /** Adam steps taken so far. */
  get steps(): number {
    return this.t;
  }

  /** Runs one step on a batch at learning rate `lr`; the model's weights move (see `weights`). */
  async step(b: StepBatch, lr: number): Promise<StepLosses> {
    return (await this.runSteps([b], lr))[0]!;
  }

  /** Runs one step per batch, in order, at learning rate `lr`, all in one onnxruntime run (`chainSteps`); the batches are of one size. */
  async runSteps(bs: StepBatch[], lr: number): Promise<StepLosses[]> {
    const n = bs[0]?.n;
    if (n === undefined || bs.some((b) => b.n !== n)) throw new Error('runSteps() takes one or more batches of one size');
    const { session, step } = await this.sessionFor(n, bs.length);
    if (this.state.size === 0) this.initState(step);
    const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);
    const feeds: Record<string, ort.Tensor> = Object.fromEntries(this.state);
    bs.forEach((b, k) => {
      Object.assign(feeds, batchFeeds(this.meta, step, b, k));
      const adam = adamScalars(lr, ++this.t);
      feeds[stepName('lr_t', k, step.steps)] = scalar(adam.lr_t);
      feeds[stepName('eps_t', k, step.steps)] = scalar(adam.eps_t);
    });
    const out = await session.run(feeds);
    for (const key of this.state.keys()) this.state.set(key, out[nextName(key)]!);
    return bs.map((_, k) => {
      const value = (name: string) => out[stepName(name, k, step.steps)]?.data[0] as number | undefined;
      const losses: StepLosses = { loss: value('loss')! };
      const w = value('wasserstein');
      const s = value('relu_stability');
      if (w !== undefined) losses.wasserstein = w;
      if (s !== undefined) losses.reluStability = s;
      return losses;
    });
  }

  /** The current weights and running statistics, by initializer name (copies). */
  weights(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    if (!this.layout) return out;
    for (const p of this.layout.params) out.set(p, this.assembled('p', p));
    for (const s of this.layout.statistics) {
      const t = this.state.get(`s:${s}`)!;
      out.set(s, { dims: [...t.dims], data: Float32Array.from(t.data as Float32Array) });
    }
    return out;
  }

  /** Adam's current state (copies), for checkpoints. */
  optimizerState(): AdamState {
    const params = this.layout?.params ?? [];
    const moments = (kind: 'm' | 'v') => new Map(params.map((p) => [p, this.assembled(kind, p)]));
    return { step: this.t, m: moments('m'), v: moments('v') };
  }

  /** Continues from a saved Adam state instead of zero moments; call before the first step. */
  resume(state: AdamState): void {
    if (this.state.size > 0) throw new Error('resume() after the first step');
    this.resumed = state;
    this.t = state.step;
  }

  /** Copies the current weights and statistics into the model's initializers. */
  writeBack(): void {
    for (const [k, t] of this.weights()) this.model.initializers.set(k, t);
  }

  /** Frees the sessions. */
  async release(): Promise<void> {
    for (const { session } of this.sessions.values()) await session.release();
    this.sessions.clear();
  }

  /** A trained weight's state `kind` as one tensor of the weight's shape, its pieces joined (a copy). */
  private assembled(kind: 'p' | 'm' | 'v', name: string): Tensor {
    const dims = [...this.model.initializers.get(name)!.dims];
    const data = new Float32Array(sizeOf(dims));
    for (const slot of stateSlots(kind, name, dims, this.layout!.pieces[name]!)) data.set(this.state.get(slot.key)!.data as Float32Array, slot.start);
    return { dims, data };
  }

  private initState(step: TrainStepModel): void {
    this.layout = step;
    const init = (name: string) => this.model.initializers.get(name)!;
    for (const p of step.params) {
      const t = init(p);
      const values = { p: t.data, m: this.resumed?.m.get(p)?.data, v: this.resumed?.v.get(p)?.data };
      for (const kind of ['p', 'm', 'v'] as const) {
        for (const slot of stateSlots(kind, p, t.dims, step.pieces[p]!)) {
          const data = values[kind] ? values[kind].slice(slot.start, slot.start + slot.length) : new Float32Array(slot.length);
          this.state.set(slot.key, new ort.Tensor('float32', data, slot.dims));
        }
      }
    }
    for (const s of step.statistics) {
      const t = init(s);
      this.state.set(`s:${s}`, new ort.Tensor('float32', Float32Array.from(t.data), t.dims));
    }
  }

  // One session per batch size and steps per run: the epoch's last batch is usually smaller, and its
  // batches seldom divide into whole runs.
  private async sessionFor(n: number, k: number) {
    let s = this.sessions.get(`${n}×${k}`);
    if (!s) {
      const engine = this.opts.engine ?? CPU_ENGINE;
      let single = this.built.get(n);
      if (!single) {
        const convBlock = await stepConvBlock(engine);
        single = buildTrainStep({ model: this.model, meta: this.meta, batch: n, convBlock, ...(this.opts.regularisers ? { regularisers: this.opts.regularisers } : {}), ...(this.opts.pieceValues ? { pieceValues: this.opts.pieceValues } : {}) });
        this.built.set(n, single);
      }
      const step = chainSteps(single, k);
      try {
        s = { session: await openSession(step.onnx, engineSessionOptions(engine)), step };
      } catch (err) {
        throw new LuxcertError(`${engineName(engine)} could not open the training step: ${(err as Error).message.split('\n')[0]}`);
      }
      this.sessions.set(`${n}×${k}`, s);
    }
    return s;
  }
}
