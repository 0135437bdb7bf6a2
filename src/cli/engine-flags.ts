import type { Command } from 'commander';
import { parseTrainDevice, TRAIN_DEVICES, type TrainEngine } from '../train/engine.ts';
import { numberFlag } from './options.ts';

/** Values of the training-engine flags. */
export interface EngineFlagValues {
  device: string;
  threads?: string;
}

/** Adds the flags that choose where training runs. */
export function addEngineFlags(cmd: Command): Command {
  return cmd
    .option('--device <name>', `where the training step runs in onnxruntime: ${TRAIN_DEVICES.join(' | ')} (cuda: x64 Linux, onnxruntime-node installed with CUDA 12)`, 'cpu')
    .option('--threads <n>', 'onnxruntime threads for training (default: one per core)');
}

/** The training engine the flags ask for. */
export function engineFromFlags(f: EngineFlagValues): TrainEngine {
  return { device: parseTrainDevice(f.device), ...(f.threads !== undefined ? { threads: numberFlag('--threads', f.threads, { integer: true, positive: true }) } : {}) };
}
