import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { LUXCERT_VERSION } from '../core/version.ts';
import { loadDataset, type LoadedSet } from '../data/dataset.ts';
import { DEFAULT_AUGMENT } from '../data/batch.ts';
import type { Graph } from '../graph/graph.ts';
import { modelMeta, type HeadType, type ModelMeta } from '../model/metadata.ts';
import { writeOnnxFile } from '../onnx/write.ts';
import { activeRegularisers, type PerturbationRegularisers } from './regularisers.ts';
import { trainModel, type TrainConfig, type TrainResult } from './trainer.ts';
import { ARCHS, buildZooModel, type Arch } from './zoo.ts';

/** Everything `luxcert train` needs. */
export interface TrainFolderOptions extends Omit<TrainConfig, 'augment' | 'regularisers'> {
  data: string;
  arch: string;
  head: string;
  inputSize: number;
  grid?: number;
  cropPadding: number;
  augment: boolean;
  /**
   * The regularisers to train with, chosen on the built model: they watch its channels as pruning
   * groups them, a later stage, so the caller (the CLI) supplies the choice.
   */
  regularisers?: (graph: Graph) => PerturbationRegularisers;
}

/** Defaults of `luxcert train`, sized so the tiny detector converges on 2 CPU cores in minutes. */
export const TRAIN_DEFAULTS = { arch: 'tiny', head: 'regression', inputSize: 32, cropPadding: 1.25, epochs: 40, batchSize: 32, lr: 3e-3, valFraction: 0.15, patience: 10, seed: 1 } as const;

/**
 * The default peak learning rate of each architecture: cnn7's 4.6 M-weight dense layer stalls at
 * 3e-3 (held-out PCK@2px 0.55 after 40 epochs on the synthetic scenes) and trains at 1e-3.
 */
export const DEFAULT_LR: Record<Arch, number> = { tiny: TRAIN_DEFAULTS.lr, cnn7: 1e-3, resnet: TRAIN_DEFAULTS.lr };

/** Builds a zoo model for a data set folder, trains it and writes the best model (ONNX with metadata). */
export async function trainFolder(o: TrainFolderOptions, loaded?: LoadedSet): Promise<{ graph: Graph; meta: ModelMeta; result: TrainResult; set: LoadedSet }> {
  if (!(ARCHS as readonly string[]).includes(o.arch)) throw new LuxcertError(`unknown --arch '${o.arch}' (${ARCHS.join(', ')})`);
  if (o.head !== 'regression' && o.head !== 'heatmap') throw new LuxcertError(`unknown --head '${o.head}' (regression or heatmap)`);
  const set = loaded ?? (await loadDataset(o.data));
  log.info({ data: o.data, objects: set.objects.length, keypoints: set.keypointNames }, 'data set loaded');
  const graph = buildZooModel({ arch: o.arch as Arch, head: o.head as HeadType, keypoints: set.keypointNames, skeleton: set.skeleton, inputSize: o.inputSize, ...(o.grid ? { grid: o.grid } : {}), cropPadding: o.cropPadding, seed: o.seed });
  const meta = modelMeta(graph, o.out);
  const regularisers = activeRegularisers(o.regularisers?.(graph));
  const { regularisers: _choose, ...config } = o;
  const result = await trainModel(graph, meta, set, { ...config, augment: o.augment ? DEFAULT_AUGMENT : undefined, ...(regularisers ? { regularisers } : {}) });
  Object.assign(graph.metadata, {
    'luxcert.version': LUXCERT_VERSION,
    'luxcert.train.backend': result.backend,
    'luxcert.train.seed': String(o.seed),
    'luxcert.train.best_epoch': String(result.bestEpoch),
    'luxcert.train.val_pck2': String(result.best.pck['2']),
    'luxcert.train.val_mean_error': String(result.best.meanError),
    'luxcert.train.wasserstein': String(regularisers?.wasserstein?.lambda ?? 0),
    'luxcert.train.relu_stability': String(regularisers?.reluStability?.mu ?? 0),
  });
  writeOnnxFile(o.out, graph);
  return { graph, meta, result, set };
}
