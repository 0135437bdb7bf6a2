import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { Progress } from '../core/progress.ts';
import { Rng } from '../core/random.ts';
import type { Tensor } from '../core/tensor.ts';
import { makeBatch, shuffle, splitIndices, type Augment, type Batch, type LoadedSet } from '../data/dataset.ts';
import type { Graph } from '../graph/graph.ts';
import { decodeKeypoints } from '../model/heads.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { readOnnxFile } from '../onnx/read.ts';
import { writeOnnxFile } from '../onnx/write.ts';
import { initBackend } from './backend.ts';
import { keypointLoss } from './losses.ts';
import { keypointMetrics, type KeypointMetrics } from './metrics.ts';
import { TfGraph } from './tf-graph.ts';
import { activeRegularisers, perturbationPenalties, type PerturbationRegularisers } from './regularisers.ts';

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
  backend?: string;
  /** Adds the Wasserstein and/or ReLU-stability regularisers measured under a box (pruning's fine-tuning). */
  regularisers?: PerturbationRegularisers;
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

function snapshot(graph: Graph): Map<string, Tensor> {
  return new Map([...graph.initializers].map(([k, t]) => [k, { dims: [...t.dims], data: t.data.slice() }]));
}

/** Predicted keypoints (N×K×2 pixels) of the graph in tfjs inference mode, in chunks. */
function predict(tg: TfGraph, meta: ModelMeta, batch: Batch): Float32Array {
  const [h, w] = meta.inputSize;
  const k = meta.keypoints.length;
  const out = new Float32Array(batch.n * k * 2);
  const chunk = 128;
  for (let s = 0; s < batch.n; s += chunk) {
    const n = Math.min(chunk, batch.n - s);
    const raw = tf.tidy(() => tg.forward(tf.tensor4d(batch.x.subarray(s * 3 * h * w, (s + n) * 3 * h * w), [n, 3, h, w])).output.dataSync() as Float32Array);
    out.set(decodeKeypoints(meta, raw, n), s * k * 2);
  }
  return out;
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
  const backend = await initBackend(cfg.backend);
  const { train, val } = splitIndices(set.objects.length, cfg.valFraction, cfg.seed);
  const valBatch = makeBatch(set, val, meta.inputSize, meta.cropPadding);
  const ckpt = checkpointPath(cfg.out);

  let startEpoch = 1;
  let bestEpoch = 0;
  let bestError = Infinity;
  let best: KeypointMetrics | undefined;
  let bestWeights = snapshot(graph);
  if (cfg.resume) {
    if (!existsSync(ckpt)) throw new LuxcertError(`${ckpt}: no checkpoint to resume from`);
    const saved = readOnnxFile(ckpt, { simplify: false });
    for (const k of graph.initializers.keys()) {
      const t = saved.initializers.get(k);
      if (!t || t.data.length !== graph.initializers.get(k)!.data.length) throw new LuxcertError(`${ckpt}: checkpoint does not match the model (weight '${k}')`);
      graph.initializers.set(k, t);
    }
    startEpoch = Number(saved.metadata[`${STATE}epoch`]) + 1;
    bestEpoch = Number(saved.metadata[`${STATE}best_epoch`]);
    bestError = Number(saved.metadata[`${STATE}best_error`]);
    if (existsSync(cfg.out)) bestWeights = snapshot(readOnnxFile(cfg.out, { simplify: false }));
    log.info({ checkpoint: ckpt, epoch: startEpoch - 1, bestEpoch }, 'resuming');
  }

  const tg = new TfGraph(graph);
  const reg = activeRegularisers(cfg.regularisers);
  const optimizer = tf.train.adam(cfg.lr);
  const epochs: EpochReport[] = [];
  let stoppedEarly = false;
  let lastPck = '';
  try {
    for (let epoch = startEpoch; epoch <= cfg.epochs; epoch++) {
      const lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / cfg.epochs)));
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      // Per-epoch seeds make a resumed run see the batches an uninterrupted one would.
      const order = [...train];
      shuffle(order, new Rng(cfg.seed * 1000 + epoch));
      const augRng = new Rng(cfg.seed * 7919 + epoch);
      const regRng = new Rng(cfg.seed * 104729 + epoch);
      const progress = new Progress(`epoch ${epoch}/${cfg.epochs}`, order.length);
      const t0 = performance.now();
      let lossSum = 0;
      let wSum = 0;
      let sSum = 0;
      for (let s = 0; s < order.length; s += cfg.batchSize) {
        const idx = order.slice(s, s + cfg.batchSize);
        const b = makeBatch(set, idx, meta.inputSize, meta.cropPadding, cfg.augment ? { rng: augRng, params: cfg.augment } : undefined);
        let updates: [tf.Variable, tf.Tensor][] = [];
        const loss = tf.tidy(() =>
          optimizer.minimize(() => {
            const x = tf.tensor4d(b.x, [b.n, 3, ...meta.inputSize]);
            const f = tg.forward(x, true, reg?.wasserstein?.probes, reg?.reluStability?.values);
            updates = f.updates;
            const loss = keypointLoss(meta, f.output, b.keypoints, b.mask, b.n);
            if (!reg) return loss;
            const p = perturbationPenalties(tg, x, f, reg, regRng);
            if (p.wasserstein) wSum += p.wasserstein.dataSync()[0]! * b.n;
            if (p.reluStability) sSum += p.reluStability.dataSync()[0]! * b.n;
            return tf.add(loss, p.total) as tf.Scalar;
          }, true, [...tg.params.values()])!,
        );
        for (const [v, t] of updates) {
          v.assign(t);
          t.dispose();
        }
        const l = (await loss.data())[0]!;
        loss.dispose();
        if (!Number.isFinite(l)) throw new LuxcertError(`training diverged at epoch ${epoch} (loss ${l}); lower --lr`);
        lossSum += l * b.n;
        progress.tick(b.n, `loss ${l.toFixed(3)}${lastPck} ${((s + b.n) / ((performance.now() - t0) / 1000)).toFixed(0)} img/s`);
      }
      const seconds = (performance.now() - t0) / 1000;
      const v = keypointMetrics(predict(tg, meta, valBatch), valBatch.keypoints, valBatch.mask, meta.keypoints);
      const report: EpochReport = {
        epoch, loss: lossSum / order.length, lr, val: v, imagesPerSec: order.length / seconds, seconds,
        ...(reg?.wasserstein ? { wasserstein: wSum / order.length } : {}),
        ...(reg?.reluStability ? { reluStability: sSum / order.length } : {}),
      };
      epochs.push(report);
      lastPck = ` val PCK@2 ${v.pck['2']!.toFixed(3)}`;
      log.info({ epoch, loss: +report.loss.toFixed(4), ...(report.wasserstein !== undefined ? { wasserstein: +report.wasserstein.toPrecision(3) } : {}), ...(report.reluStability !== undefined ? { reluStability: +report.reluStability.toPrecision(3) } : {}), valPck2: +v.pck['2']!.toFixed(3), valError: +v.meanError.toFixed(3), imgPerSec: +report.imagesPerSec.toFixed(0) }, 'epoch done');
      tg.writeBack();
      if (v.meanError < bestError) {
        bestError = v.meanError;
        bestEpoch = epoch;
        best = v;
        bestWeights = snapshot(graph);
        writeOnnxFile(cfg.out, graph);
      }
      graph.metadata[`${STATE}epoch`] = String(epoch);
      graph.metadata[`${STATE}best_epoch`] = String(bestEpoch);
      graph.metadata[`${STATE}best_error`] = String(bestError);
      writeOnnxFile(ckpt, graph);
      for (const key of ['epoch', 'best_epoch', 'best_error']) delete graph.metadata[STATE + key];
      if (epoch - bestEpoch >= cfg.patience) {
        stoppedEarly = true;
        log.info({ epoch, bestEpoch }, 'early stopping');
        break;
      }
    }
  } finally {
    tg.dispose();
    optimizer.dispose();
  }
  graph.initializers = bestWeights;
  if (!best) {
    const tgBest = new TfGraph(graph);
    best = keypointMetrics(predict(tgBest, meta, valBatch), valBatch.keypoints, valBatch.mask, meta.keypoints);
    tgBest.dispose();
  }
  return { backend, epochs, bestEpoch, best, stoppedEarly };
}
