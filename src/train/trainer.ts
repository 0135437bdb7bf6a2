import { existsSync } from 'node:fs';
import { writeFileAtomicAsync } from '../core/atomic-write.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { Progress } from '../core/progress.ts';
import { Rng } from '../core/random.ts';
import type { Tensor } from '../core/tensor.ts';
import { shuffle, splitIndices, type LoadedSet } from '../data/dataset.ts';
import { epochBatches, makeBatch, type Augment, type Batch } from '../data/batch.ts';
import { BatchPrefetcher } from '../data/prefetch.ts';
import type { Graph } from '../graph/graph.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { openSession } from '../onnx/ort.ts';
import type { RawModel } from '../onnx/raw-model.ts';
import { decodeOnnx, rawToGraph, readModelBytes, readOnnxFile } from '../onnx/read.ts';
import { encodeOnnx } from '../onnx/write.ts';
import { CPU_ENGINE, defaultStepsPerRun, engineName, engineSessionOptions, leavesACore, type TrainEngine } from './engine.ts';
import { predictKeypoints } from './evaluate.ts';
import { keypointMetrics, type KeypointMetrics } from './metrics.ts';
import { activeRegularisers, type PerturbationRegularisers } from './regularisers.ts';
import { weightRoles } from './grad/tape.ts';
import { StepRunner, type AdamState, type StepBatch } from './step-runner.ts';

/** Training settings; every one has a CLI flag. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** Peak learning rate of Adam; cosine-decayed to 5% over the epochs. */
  lr: number;
  valFraction: number;
  /** Stop after this many epochs without a better validation error. */
  patience: number;
  seed: number;
  /** Augmentation, or undefined for none. */
  augment?: Augment;
  /** Best model, written (atomically) whenever validation improves. */
  out: string;
  /** Continue from `<out>.ckpt.onnx`. */
  resume?: boolean;
  /** End the run after this epoch as an interruption would: its checkpoint is written, the schedule still spans `epochs`, `resume` continues. */
  stopAfter?: number;
  /** Where the training step runs (default: onnxruntime on the CPU). */
  engine?: TrainEngine;
  /** Adds the Wasserstein and/or ReLU-stability regularisers measured under a box (pruning's fine-tuning). */
  regularisers?: PerturbationRegularisers;
  /** Make the batches on a worker thread (`BatchPrefetcher`); default: where the step leaves a core free (`leavesACore`). Either way the same batches. */
  batchWorker?: boolean;
}

/** One epoch's figures. */
export interface EpochReport {
  epoch: number;
  loss: number;
  lr: number;
  val: KeypointMetrics;
  imagesPerSec: number;
  seconds: number;
  /** Mean Wasserstein term W (before λ) over the epoch's batches, when that regulariser is on. */
  wasserstein?: number;
  /** Mean ReLU-stability term (before μ) over the epoch's batches, when that regulariser is on. */
  reluStability?: number;
}

/** What training produced. */
export interface TrainResult {
  /** The engine that trained, as model metadata names it (`onnxruntime-cpu`, …). */
  backend: string;
  epochs: EpochReport[];
  bestEpoch: number;
  best: KeypointMetrics;
  stoppedEarly: boolean;
}

/** The checkpoint beside a model path: the latest epoch's weights and the training state. */
export function checkpointPath(out: string): string {
  return `${out.replace(/\.onnx$/, '')}.ckpt.onnx`;
}

const STATE = 'luxcert.train.';
/** Adam's moments ride in the checkpoint as initializers no node reads: `luxcert.adam.m:NAME`, `luxcert.adam.v:NAME`. */
const ADAM_STATE = 'luxcert.adam.';

/** The checkpoint: the graph's weights, Adam's state and the training state in metadata (the graph itself is not changed). */
function checkpointGraph(graph: Graph, adam: AdamState, state: Record<string, string>): Graph {
  const moments = (which: 'm' | 'v') => [...adam[which]].map(([k, t]) => [`${ADAM_STATE}${which}:${k}`, t] as const);
  return {
    ...graph,
    nodes: [...graph.nodes],
    initializers: new Map([...graph.initializers, ...moments('m'), ...moments('v')]),
    metadata: { ...graph.metadata, ...Object.fromEntries(Object.entries(state).map(([k, v]) => [STATE + k, v])) },
  };
}

/**
 * The settings that make a run what it is, as the checkpoint records them (`setting.*`): resuming
 * under others would not continue the same run (another split, batch order, loss or step size).
 * `--epochs` and `--patience` may change, to train on longer than first planned.
 */
function runSettings(cfg: TrainConfig, reg: PerturbationRegularisers | undefined): Record<string, string> {
  return {
    lr: String(cfg.lr), batch_size: String(cfg.batchSize), seed: String(cfg.seed), val_fraction: String(cfg.valFraction),
    augment: cfg.augment ? canonicalJson(cfg.augment) : 'none', regularisers: reg ? canonicalJson(reg) : 'none',
  };
}

/** A setting's value for a one-line message: at most 80 characters, no control characters (a checkpoint's are untrusted). */
const shown = (v: string): string => (v.length > 80 ? `${v.slice(0, 80)}…` : v).replace(/[\u0000-\u001f\u007f]/g, '?');

/** Refuses to resume a checkpoint recorded under other settings, naming the file and the setting; warns when it has none (older). */
function checkSettings(ckpt: string, saved: Graph, settings: Record<string, string>): void {
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const was = saved.metadata[`${STATE}setting.${key}`];
    if (was === undefined) unknown.push(key);
    else if (was !== value) throw new LuxcertError(`${ckpt}: the checkpoint's run has ${key} ${shown(was)}, this one ${shown(value)}: resume with the same settings, or train afresh`);
  }
  if (unknown.length) log.warn({ checkpoint: ckpt, settings: unknown }, 'the checkpoint does not record these settings (written before luxcert kept them): they are not checked');
}

/** A number from the checkpoint's metadata, checked; refused in one line naming the file and field. */
function savedNumber(ckpt: string, saved: Graph, key: string, ok: (v: number) => boolean): number {
  const raw = saved.metadata[STATE + key];
  const v = Number(raw);
  if (raw === undefined || raw.trim() === '' || !ok(v)) throw new LuxcertError(`${ckpt}: metadata ${STATE}${key} is ${raw === undefined ? 'missing' : `'${raw}'`}, not a valid value`);
  return v;
}

/**
 * Adam's state saved in a checkpoint (read from its raw initializers: the graph drops those no node
 * reads), checked against the trained weights; undefined for a checkpoint without one.
 */
function savedAdam(ckpt: string, raw: RawModel, saved: Graph, params: string[]): AdamState | undefined {
  if (saved.metadata[`${STATE}adam_step`] === undefined) return undefined;
  const step = savedNumber(ckpt, saved, 'adam_step', (v) => Number.isInteger(v) && v >= 1);
  const state: AdamState = { step, m: new Map(), v: new Map() };
  for (const p of params) {
    const size = saved.initializers.get(p)!.data.length;
    for (const which of ['m', 'v'] as const) {
      const t = raw.initializers.get(`${ADAM_STATE}${which}:${p}`);
      if (!t || !(t.values instanceof Float32Array) || t.values.length !== size) throw new LuxcertError(`${ckpt}: Adam's ${which === 'm' ? 'first' : 'second'} moment of weight '${p}' is missing or has the wrong size`);
      if (!t.values.every((x) => Number.isFinite(x) && (which === 'm' || x >= 0))) throw new LuxcertError(`${ckpt}: Adam's ${which === 'm' ? 'first' : 'second'} moment of weight '${p}' holds ${which === 'm' ? 'a non-finite value' : 'a negative or non-finite value'}`);
      state[which].set(p, { dims: t.dims, data: t.values });
    }
  }
  return state;
}

function snapshot(graph: Graph): Map<string, Tensor> {
  return new Map([...graph.initializers].map(([k, t]) => [k, { dims: [...t.dims], data: t.data.slice() }]));
}

/**
 * Validation metrics of the graph's current weights, run in onnxruntime (what the device runs). Its
 * threads sleep when idle: beside another live session (the training step's), spinning ones doubled
 * its time (demo's model 13 → 26 ms; resnet's 31 → 66 ms). A session per call keeps the weights constant
 * for onnxruntime's optimiser: one session fed each epoch's weights was no faster on the demo's
 * model (10.5 ms) and half as fast on resnet's (60 ms).
 */
async function validate(graph: Graph, meta: ModelMeta, batch: Batch, engine: TrainEngine): Promise<KeypointMetrics> {
  const session = await openSession(encodeOnnx(graph), { ...engineSessionOptions(engine), spinning: false });
  try {
    return keypointMetrics(await predictKeypoints(session, meta, batch), batch.keypoints, batch.mask, meta.keypoints);
  } finally {
    await session.release();
  }
}

/** Trains the graph's weights in place on a data set; the graph ends with the best validation weights. */
export async function trainModel(graph: Graph, meta: ModelMeta, set: LoadedSet, cfg: TrainConfig): Promise<TrainResult> {
  if (set.keypointNames.length !== meta.keypoints.length) {
    throw new LuxcertError(`${set.dir} has ${set.keypointNames.length} keypoints per object but the model head predicts ${meta.keypoints.length} (keypoint count does not match the model head)`);
  }
  for (const [name, v] of [['epochs', cfg.epochs], ['batch size', cfg.batchSize], ['patience', cfg.patience]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new LuxcertError(`${name} must be a positive integer, got ${v}`);
  }
  if (!(cfg.lr > 0)) throw new LuxcertError(`learning rate must be positive, got ${cfg.lr}`);
  const engine = cfg.engine ?? CPU_ENGINE;
  // Batches are made on a worker where the step leaves it a core.
  const batchWorker = cfg.batchWorker ?? leavesACore(engine);
  const stepsPerRun = engine.stepsPerRun ?? defaultStepsPerRun(graph);
  log.info({ engine: engineName(engine), ...(engine.threads ? { threads: engine.threads } : {}), batchWorker, stepsPerRun }, 'training engine');
  const { train, val } = splitIndices(set.objects.length, cfg.valFraction, cfg.seed);
  const valBatch = makeBatch(set, val, meta.inputSize, meta.cropPadding);
  const ckpt = checkpointPath(cfg.out);

  let startEpoch = 1;
  let bestEpoch = 0;
  let bestError = Infinity;
  let best: KeypointMetrics | undefined;
  let bestWeights = snapshot(graph);
  let resumedAdam: AdamState | undefined;
  const reg = activeRegularisers(cfg.regularisers);
  const settings = runSettings(cfg, reg);
  const settingState = Object.fromEntries(Object.entries(settings).map(([k, v]) => [`setting.${k}`, v]));
  if (cfg.resume) {
    if (!existsSync(ckpt)) throw new LuxcertError(`${ckpt}: no checkpoint to resume from`);
    const raw = decodeOnnx(readModelBytes(ckpt), ckpt);
    const saved = rawToGraph(raw, { simplify: false });
    for (const k of graph.initializers.keys()) {
      const t = saved.initializers.get(k);
      if (!t || t.data.length !== graph.initializers.get(k)!.data.length) throw new LuxcertError(`${ckpt}: checkpoint does not match the model (weight '${k}')`);
      graph.initializers.set(k, t);
    }
    startEpoch = savedNumber(ckpt, saved, 'epoch', (v) => Number.isInteger(v) && v >= 1) + 1;
    bestEpoch = savedNumber(ckpt, saved, 'best_epoch', (v) => Number.isInteger(v) && v >= 0 && v < startEpoch);
    bestError = savedNumber(ckpt, saved, 'best_error', (v) => v >= 0);
    checkSettings(ckpt, saved, settings);
    resumedAdam = savedAdam(ckpt, raw, saved, weightRoles(graph).params);
    if (!resumedAdam) log.warn({ checkpoint: ckpt }, "the checkpoint holds no Adam state (written before luxcert kept it): Adam restarts from zero moments");
    if (existsSync(cfg.out)) bestWeights = snapshot(readOnnxFile(cfg.out, { simplify: false }));
    log.info({ checkpoint: ckpt, epoch: startEpoch - 1, bestEpoch }, 'resuming');
  }

  const runner = new StepRunner(graph, meta, { engine, ...(reg ? { regularisers: reg } : {}) });
  if (resumedAdam) runner.resume(resumedAdam);
  const epochs: EpochReport[] = [];
  let stoppedEarly = false;
  let lastPck = '';
  // The worker starts (tsx, its modules) while the step is built.
  const prefetch = batchWorker ? new BatchPrefetcher({ set, size: meta.inputSize, padding: meta.cropPadding, ...(cfg.augment ? { augment: cfg.augment } : {}) }) : undefined;
  // An epoch's model and checkpoint reach the disk while the next epoch trains.
  let writing: Promise<void> = Promise.resolve();
  try {
    await runner.prepare(Math.min(cfg.batchSize, train.length));
    for (let epoch = startEpoch; epoch <= cfg.epochs; epoch++) {
      const lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / cfg.epochs)));
      // Per-epoch seeds make a resumed run see the batches an uninterrupted one would.
      const order = [...train];
      shuffle(order, new Rng(cfg.seed * 1000 + epoch));
      const regRng = new Rng(cfg.seed * 104729 + epoch);
      const progress = new Progress(`epoch ${epoch}/${cfg.epochs}`, order.length);
      const t0 = performance.now();
      let lossSum = 0;
      let wSum = 0;
      let sSum = 0;
      let done = 0;
      const augSeed = cfg.seed * 7919 + epoch;
      // The batch worker makes the next run's batches while a run trains.
      const batches = prefetch ? prefetch.epoch(order, cfg.batchSize, augSeed, stepsPerRun) : epochBatches(set, order, cfg.batchSize, meta.inputSize, meta.cropPadding, cfg.augment, augSeed);
      // Batches wait until a run's worth of one size has come; the rest of the epoch is a shorter run.
      const pending: StepBatch[] = [];
      const run = async (bs: StepBatch[]) => {
        const losses = await runner.runSteps(bs, lr);
        bs.forEach((b, i) => {
          const l = losses[i]!;
          if (!Number.isFinite(l.loss)) throw new LuxcertError(`training diverged at epoch ${epoch} (loss ${l.loss}); lower --lr`);
          lossSum += l.loss * b.n;
          wSum += (l.wasserstein ?? 0) * b.n;
          sSum += (l.reluStability ?? 0) * b.n;
          done += b.n;
          progress.tick(b.n, `loss ${l.loss.toFixed(3)}${lastPck} ${(done / ((performance.now() - t0) / 1000)).toFixed(0)} img/s`);
        });
      };
      for await (const batch of batches) {
        const b: StepBatch = batch;
        if (reg) {
          // One (α, β) per image, uniform in the box: the regularisers' perturbed pass.
          b.alpha = Float32Array.from({ length: b.n }, () => regRng.uniform(reg.box.alphaLo, reg.box.alphaHi));
          b.beta = Float32Array.from({ length: b.n }, () => regRng.uniform(reg.box.betaLo, reg.box.betaHi));
        }
        if (pending.length > 0 && pending[0]!.n !== b.n) await run(pending.splice(0));
        pending.push(b);
        if (pending.length === stepsPerRun) await run(pending.splice(0));
      }
      if (pending.length > 0) await run(pending.splice(0));
      const seconds = (performance.now() - t0) / 1000;
      runner.writeBack();
      const v = await validate(graph, meta, valBatch, engine);
      const report: EpochReport = {
        epoch, loss: lossSum / order.length, lr, val: v, imagesPerSec: order.length / seconds, seconds,
        ...(reg?.wasserstein ? { wasserstein: wSum / order.length } : {}),
        ...(reg?.reluStability ? { reluStability: sSum / order.length } : {}),
      };
      epochs.push(report);
      lastPck = ` val PCK@2 ${v.pck['2']!.toFixed(3)}`;
      log.info({ epoch, loss: +report.loss.toFixed(4), ...(report.wasserstein !== undefined ? { wasserstein: +report.wasserstein.toPrecision(3) } : {}), ...(report.reluStability !== undefined ? { reluStability: +report.reluStability.toPrecision(3) } : {}), valPck2: +v.pck['2']!.toFixed(3), valError: +v.meanError.toFixed(3), imgPerSec: +report.imagesPerSec.toFixed(0) }, 'epoch done');
      // The last epoch's files are complete before this epoch's replace them.
      await writing;
      const files: [string, Uint8Array][] = [];
      if (v.meanError < bestError) {
        bestError = v.meanError;
        bestEpoch = epoch;
        best = v;
        bestWeights = snapshot(graph);
        files.push([cfg.out, encodeOnnx(graph)]);
      }
      const adam = runner.optimizerState();
      files.push([ckpt, encodeOnnx(checkpointGraph(graph, adam, { epoch: String(epoch), best_epoch: String(bestEpoch), best_error: String(bestError), adam_step: String(adam.step), ...settingState }))]);
      // Settled once both writes are, the first failure (if any) thrown.
      writing = Promise.allSettled(files.map(([path, bytes]) => writeFileAtomicAsync(path, bytes))).then((rs) => {
        for (const r of rs) if (r.status === 'rejected') throw r.reason;
      });
      // A failed write is thrown where `writing` is next awaited, not as an unhandled rejection meanwhile.
      writing.catch(() => undefined);
      if (epoch === cfg.stopAfter && epoch < cfg.epochs) {
        log.info({ epoch, checkpoint: ckpt }, 'stopping as asked; --resume continues');
        break;
      }
      if (epoch - bestEpoch >= cfg.patience) {
        stoppedEarly = true;
        log.info({ epoch, bestEpoch }, 'early stopping');
        break;
      }
    }
    await writing;
  } finally {
    await Promise.all([runner.release(), prefetch?.close(), writing.catch(() => undefined)]);
  }
  graph.initializers = bestWeights;
  best ??= await validate(graph, meta, valBatch, engine);
  return { backend: engineName(engine), epochs, bestEpoch, best, stoppedEarly };
}
