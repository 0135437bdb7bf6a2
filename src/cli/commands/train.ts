import type { Command } from 'commander';
import { checkOutputFile } from '../../core/output-path.ts';
import { channelRegularisers, type RegulariserWeights } from '../../prune/prune-model.ts';
import { PCK_THRESHOLDS } from '../../train/metrics.ts';
import type { EpochReport } from '../../train/trainer.ts';
import { DEFAULT_LR, TRAIN_DEFAULTS, trainFolder } from '../../train/train-folder.ts';
import { ARCHS, type Arch } from '../../train/zoo.ts';
import { addEngineFlags, engineFromFlags, type EngineFlagValues } from '../engine-flags.ts';
import { numberFlag } from '../options.ts';
import { addRegulariserFlags, regulariserWeights, type RegulariserFlagValues } from '../regulariser-flags.ts';
import { action, emit } from '../run-command.ts';

interface Flags extends EngineFlagValues, RegulariserFlagValues {
  data: string; out: string; arch: string; head: string; epochs: string; batchSize: string; lr?: string; inputSize: string; grid?: string;
  cropPadding: string; valFraction: string; patience: string; seed: string; resume?: boolean; stopAfter?: string; augment: boolean; json?: boolean;
}

/** `luxcert train`: a zoo detector trained on a COCO-keypoints folder, written as ONNX with metadata. */
export function registerTrain(program: Command): void {
  const d = TRAIN_DEFAULTS;
  const cmd = program
    .command('train')
    .description('train a keypoint detector from the model zoo on a COCO-keypoints folder')
    .requiredOption('--data <dir>', 'data set folder (annotations.json + images)')
    .requiredOption('--out <path>', 'ONNX model to write (best validation weights; <out>.ckpt.onnx holds the latest epoch)')
    .option('--arch <name>', `architecture: ${ARCHS.join(' | ')}`, d.arch)
    .option('--head <type>', 'regression | heatmap', d.head)
    .option('--epochs <n>', 'maximum epochs', String(d.epochs))
    .option('--batch-size <n>', 'images per step', String(d.batchSize))
    .option('--lr <x>', `peak Adam learning rate, cosine-decayed (default: ${Object.entries(DEFAULT_LR).map(([a, v]) => `${a} ${v}`).join(', ')})`)
    .option('--input-size <s>', 'square model input side in pixels', String(d.inputSize))
    .option('--grid <g>', 'heatmap grid size (default input-size / 2)')
    .option('--crop-padding <f>', 'crop side as a multiple of the bbox\'s longer side', String(d.cropPadding))
    .option('--val-fraction <f>', 'share of objects held out for validation', String(d.valFraction))
    .option('--patience <n>', 'early stopping: epochs without improvement', String(d.patience))
    .option('--seed <n>', 'random seed (split, init, batches, augmentation)', String(d.seed))
    .option('--resume', 'continue from <out>.ckpt.onnx (weights, Adam\'s state, batch order: as if never stopped)')
    .option('--stop-after <epoch>', 'stop after this epoch as an interruption would (train in slices with --resume)')
    .option('--no-augment', 'no brightness/contrast/shift/scale augmentation')
    .option('--json', 'machine-readable output');
  addEngineFlags(addRegulariserFlags(cmd, 'throughout training', 'the regularisers', { wasserstein: 0, reluStability: 0 })).action(
      action(async (f: Flags) => {
        checkOutputFile(f.out, '--out');
        const weights = regulariserWeights(f);
        const r = await trainFolder({
          data: f.data, out: f.out, arch: f.arch, head: f.head, augment: f.augment,
          epochs: numberFlag('--epochs', f.epochs, { integer: true, positive: true }),
          batchSize: numberFlag('--batch-size', f.batchSize, { integer: true, positive: true }),
          lr: f.lr !== undefined ? numberFlag('--lr', f.lr, { positive: true }) : DEFAULT_LR[f.arch as Arch] ?? d.lr,
          inputSize: numberFlag('--input-size', f.inputSize, { integer: true, positive: true }),
          ...(f.grid !== undefined ? { grid: numberFlag('--grid', f.grid, { integer: true, positive: true }) } : {}),
          cropPadding: numberFlag('--crop-padding', f.cropPadding, { min: 1 }),
          valFraction: numberFlag('--val-fraction', f.valFraction, { positive: true }),
          patience: numberFlag('--patience', f.patience, { integer: true, positive: true }),
          seed: numberFlag('--seed', f.seed, { integer: true }),
          engine: engineFromFlags(f),
          regularisers: (graph) => channelRegularisers(graph, weights),
          resume: Boolean(f.resume),
          ...(f.stopAfter !== undefined ? { stopAfter: numberFlag('--stop-after', f.stopAfter, { integer: true, positive: true }) } : {}),
        });
        const best = r.result.best;
        // JSON drops the regularisers' terms where they are undefined (off).
        emit(Boolean(f.json), { model: f.out, backend: r.result.backend, bestEpoch: r.result.bestEpoch, stoppedEarly: r.result.stoppedEarly, validation: best, epochs: r.result.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, valPck2: e.val.pck['2'], valMeanError: e.val.meanError, imagesPerSec: e.imagesPerSec, wasserstein: e.wasserstein, reluStability: e.reluStability })) }, () =>
          [
            `wrote ${f.out} (${f.arch}, ${f.head} head, backend ${r.result.backend})`,
            // Epochs are numbered from the run's start, so a resumed run counts those before it too.
            `best epoch ${r.result.bestEpoch} of ${r.result.epochs.at(-1)?.epoch ?? r.result.bestEpoch}${r.result.stoppedEarly ? ' (early stop)' : ''}: validation ${PCK_THRESHOLDS.map((t) => `PCK@${t}px ${best.pck[t]!.toFixed(3)}`).join(', ')}, mean error ${best.meanError.toFixed(2)} px`,
            ...regularisedLine(r.result.epochs.at(-1), weights),
          ].join('\n'),
        );
      }),
    );
}

/** The regularisers' terms in the last epoch (before their weights), when any was on. */
function regularisedLine(last: EpochReport | undefined, w: RegulariserWeights): string[] {
  const terms = [
    ...(last?.wasserstein !== undefined ? [`Wasserstein W ${last.wasserstein.toPrecision(3)} (λ ${w.wasserstein})`] : []),
    ...(last?.reluStability !== undefined ? [`ReLU stability ${last.reluStability.toPrecision(3)} (μ ${w.reluStability})`] : []),
  ];
  return terms.length ? [`regularisers under brightness ±${w.box.betaHi}, contrast ±${+(w.box.alphaHi - 1).toFixed(6)}, last epoch: ${terms.join(', ')}`] : [];
}
