import type { Command } from 'commander';
import { MAX_ORT_THREADS } from '../onnx/ort.ts';
import { DEFAULT_STEPS_PER_RUN, MAX_STEPS_PER_RUN, SEVERAL_STEPS_MAX_STATE_BYTES, parseTrainDevice, TRAIN_DEVICES, type TrainEngine } from '../train/engine.ts';
import { numberFlag } from './options.ts';

/** Values of the training-engine flags. */
export interface EngineFlagValues {
  device: string;
  threads?: string;
  stepsPerRun?: string;
}

/** Adds the flags that choose where training runs. */
export function addEngineFlags(cmd: Command): Command {
  return cmd
    .option('--device <name>', `where the training step runs in onnxruntime: ${TRAIN_DEVICES.join(' | ')} (cuda: x64 Linux, onnxruntime-node installed with CUDA 12)`, 'cpu')
    .option('--threads <n>', 'onnxruntime threads for training (default: one per core)')
    .option('--steps-per-run <k>', `training steps per onnxruntime run: the same weights, faster (default ${DEFAULT_STEPS_PER_RUN}, or 1 where the weights and Adam's moments exceed ${SEVERAL_STEPS_MAX_STATE_BYTES / 2 ** 20} MiB; docs/training.md)`);
}

/** The training engine the flags ask for. */
export function engineFromFlags(f: EngineFlagValues): TrainEngine {
  return {
    device: parseTrainDevice(f.device),
    ...(f.threads !== undefined ? { threads: numberFlag('--threads', f.threads, { integer: true, positive: true, max: MAX_ORT_THREADS }) } : {}),
    ...(f.stepsPerRun !== undefined ? { stepsPerRun: numberFlag('--steps-per-run', f.stepsPerRun, { integer: true, positive: true, max: MAX_STEPS_PER_RUN }) } : {}),
  };
}
