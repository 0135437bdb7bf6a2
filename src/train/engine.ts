import { availableParallelism } from 'node:os';
import { LuxcertError } from '../core/errors.ts';
import type { Graph } from '../graph/graph.ts';
import { nchwcBlock } from '../onnx/nchwc.ts';
import type { OrtSessionOptions } from '../onnx/ort.ts';
import { weightRoles } from './grad/tape.ts';

/** Where the training step runs: onnxruntime's CPU provider, or its CUDA provider (x64 Linux with CUDA 12). */
export const TRAIN_DEVICES = ['cpu', 'cuda'] as const;
export type TrainDevice = (typeof TRAIN_DEVICES)[number];

/** How training executes. */
export interface TrainEngine {
  device: TrainDevice;
  /** onnxruntime intra-op threads (default: one per core). */
  threads?: number;
  /**
   * Training steps per onnxruntime run (`scanSteps`; default `defaultStepsPerRun`): the state crosses
   * onnxruntime's API once per run instead of once per step; the same weights either way, bit for bit.
   */
  stepsPerRun?: number;
}

/** Steps per run where the state is small (`defaultStepsPerRun`): 4 per run took 0.80–1.01× the time of 1 (median block ratios; every zoo model, both heads, 32 and 64 px). */
export const DEFAULT_STEPS_PER_RUN = 4;

/** The most state (weights and both of Adam's moments, bytes) trained several steps per run by default. */
export const SEVERAL_STEPS_MAX_STATE_BYTES = 64 * 2 ** 20;

/**
 * Steps per run unless asked otherwise: `DEFAULT_STEPS_PER_RUN`, or 1 where the state exceeds
 * `SEVERAL_STEPS_MAX_STATE_BYTES`. A run of three or more steps holds two more copies of the state
 * (the Scan's buffers), which is little but for a model of many weights — where the crossing it saves
 * is a small part of the step: cnn7's regression head at 64 px (206 MB of state) at 4 per run took
 * 0.98× the time of 1 and 2.11× PyTorch's peak memory against 1.58× (docs/training.md, *State
 * between steps*).
 */
export function defaultStepsPerRun(model: Graph): number {
  const values = weightRoles(model).params.reduce((sum, p) => sum + model.initializers.get(p)!.data.length, 0);
  return 3 * 4 * values > SEVERAL_STEPS_MAX_STATE_BYTES ? 1 : DEFAULT_STEPS_PER_RUN;
}

/** The most steps per run a flag may ask for: a run holds its steps' batches, and past a few steps the crossing left to save is small. */
export const MAX_STEPS_PER_RUN = 16;

/** The default engine: CPU, onnxruntime's thread count. */
export const CPU_ENGINE: TrainEngine = { device: 'cpu' };

/**
 * Whether the step leaves a CPU core free while it runs — on CUDA, or with fewer onnxruntime threads
 * than cores — so the next batch can be made on it meanwhile (`BatchPrefetcher`). Otherwise the worker
 * competes with onnxruntime's threads, each parallel kernel waiting for its slowest shard: with 2 threads
 * on 2 cores `bench:train-loop` measured it at 0.74–1.16× the main thread's rate, with 1 thread 0.88–1.26×.
 */
export function leavesACore(e: TrainEngine): boolean {
  return e.device === 'cuda' || (e.threads !== undefined && e.threads < availableParallelism());
}

/** A device name from a flag, checked. */
export function parseTrainDevice(name: string): TrainDevice {
  if (!(TRAIN_DEVICES as readonly string[]).includes(name)) throw new LuxcertError(`unknown training device '${name}' (${TRAIN_DEVICES.join(', ')})`);
  return name as TrainDevice;
}

/** The engine as reports and model metadata name it. */
export function engineName(e: TrainEngine): string {
  return `onnxruntime-${e.device}`;
}

/**
 * onnxruntime session options of the engine: no fallback, so a missing CUDA provider is an error, not a
 * silent CPU run; no memory pattern (a training step's peak memory 0.6–0.7× with it off).
 */
export function engineSessionOptions(e: TrainEngine): OrtSessionOptions {
  return { executionProviders: [e.device], spinning: true, memoryPattern: false, ...(e.threads ? { intraOpNumThreads: e.threads } : {}) };
}

/** The block the step's convolutions are built for: the CPU's (`nchwcBlock`), none on CUDA, as the blocked kernels are onnxruntime's CPU provider's own. */
export function stepConvBlock(e: TrainEngine): Promise<number> {
  return e.device === 'cpu' ? nchwcBlock() : Promise.resolve(1);
}
