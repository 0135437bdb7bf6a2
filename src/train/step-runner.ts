import * as ort from 'onnxruntime-node';
import { LuxcertError } from '../core/errors.ts';
import { sizeOf, type Tensor } from '../core/tensor.ts';
import type { Graph } from '../graph/graph.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { openSession } from '../onnx/ort.ts';
import { targetCells } from './targets.ts';
import { CPU_ENGINE, engineName, engineSessionOptions, stepConvBlock, type TrainEngine } from './engine.ts';
import type { PerturbationRegularisers } from './regularisers.ts';
import { scanSteps, stackFeeds } from './scan-steps.ts';
import { adamScalars, buildTrainStep, nextName, stateSlots, type TrainStepModel } from './train-step.ts';

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

/** A batch as one step's inputs: the image, the head's targets (one-hot cells for heatmaps) and, when regularised, α and β. */
export function batchFeeds(meta: ModelMeta, step: TrainStepModel, b: StepBatch): Record<string, ort.Tensor> {
  const t = (data: Float32Array, name: string) => new ort.Tensor('float32', data, step.inputs[name]!);
  const feeds: Record<string, ort.Tensor> = { image: t(b.x, 'image') };
  if (meta.head === 'regression') {
    feeds.keypoints = t(b.keypoints, 'keypoints');
    feeds.mask = t(b.mask, 'mask');
  } else {
    const cells = meta.grid! * meta.grid!;
    const { cells: c, inside } = targetCells(meta, b.keypoints, b.mask);
    const labels = new Float32Array(c.length * cells);
    c.forEach((cell, i) => (labels[i * cells + cell] = 1));
    feeds.labels = t(labels, 'labels');
    feeds.weights = t(inside, 'weights');
  }
  if (step.inputs.alpha) {
    if (!b.alpha || !b.beta) throw new Error('regularised step needs alpha and beta per image');
    feeds.alpha = t(b.alpha, 'alpha');
    feeds.beta = t(b.beta, 'beta');
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
 * Trains a model with the compiled training step in onnxruntime, scanned (`scanSteps`) so that one
 * run takes one step or several. Weights, Adam's moments and the running statistics stay as
 * onnxruntime tensors between runs: each run's outputs are the next run's inputs, so the state is
 * never copied into or out of JavaScript arrays until `weights()`.
 */
export class StepRunner {
  private readonly sessions = new Map<number, { session: ort.InferenceSession; step: TrainStepModel }>();
  private readonly state = new Map<string, ort.Tensor>();
  private t = 0;
  private resumed?: AdamState;
  /** The state's layout (weights, their pieces, statistics), from the first step's model; every batch size's step shares it. */
  private layout?: TrainStepModel;

  constructor(private readonly model: Graph, private readonly meta: ModelMeta, private readonly opts: StepRunnerOptions = {}) {}

  /** Builds the step on batches of `n` before its first use, so the build overlaps other start-up work (the trainer's batch worker starting). */
  async prepare(n: number): Promise<void> {
    await this.sessionFor(n);
  }

  /** Adam steps taken so far. */
  get steps(): number {
    return this.t;
  }

  /** Runs one step on a batch at learning rate `lr`; the model's weights move (see `weights`). */
  async step(b: StepBatch, lr: number): Promise<StepLosses> {
    return (await this.runSteps([b], lr))[0]!;
  }

  /** Runs one step per batch, in order, at learning rate `lr`, all in one onnxruntime run; the batches are of one size. */
  async runSteps(bs: StepBatch[], lr: number): Promise<StepLosses[]> {
    const n = bs[0]?.n;
    if (n === undefined || bs.some((b) => b.n !== n)) throw new Error('runSteps() takes one or more batches of one size');
    const { session, step } = await this.sessionFor(n);
    if (this.state.size === 0) this.initState(step);
    const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);
    const perStep = bs.map((b) => {
      const adam = adamScalars(lr, ++this.t);
      return { ...batchFeeds(this.meta, step, b), lr_t: scalar(adam.lr_t), eps_t: scalar(adam.eps_t) };
    });
    const out = await session.run({ ...Object.fromEntries(this.state), ...stackFeeds(perStep) });
    for (const key of this.state.keys()) this.state.set(key, out[nextName(key)]!);
    return bs.map((_, k) => {
      const value = (name: string) => out[name]?.data[k] as number | undefined;
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

  // One session per batch size (the epoch's last batch is usually smaller); a run of any number of steps uses it.
  private async sessionFor(n: number) {
    let s = this.sessions.get(n);
    if (!s) {
      const engine = this.opts.engine ?? CPU_ENGINE;
      const convBlock = await stepConvBlock(engine);
      const step = scanSteps(buildTrainStep({ model: this.model, meta: this.meta, batch: n, convBlock, ...(this.opts.regularisers ? { regularisers: this.opts.regularisers } : {}), ...(this.opts.pieceValues ? { pieceValues: this.opts.pieceValues } : {}) }));
      try {
        s = { session: await openSession(step.onnx, engineSessionOptions(engine)), step };
      } catch (err) {
        throw new LuxcertError(`${engineName(engine)} could not open the training step: ${(err as Error).message.split('\n')[0]}`);
      }
      this.sessions.set(n, s);
    }
    return s;
  }
}
