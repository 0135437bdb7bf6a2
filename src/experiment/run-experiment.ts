import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.ts';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { LUXCERT_VERSION } from '../core/version.ts';
import type { LoadedSet } from '../data/dataset.ts';
import type { ModelMeta } from '../model/metadata.ts';
import type { Box } from '../model/perturbation.ts';
import { readModelBytes, readOnnxFile } from '../onnx/read.ts';
import { writeOnnxFile } from '../onnx/write.ts';
import { PRUNE_DEFAULTS, pruneModel } from '../prune/prune-model.ts';
import { assessModel, type Assessment } from './assess.ts';
import { planRuns, type ExperimentConfig, type RunSpec } from './plan.ts';

/** The outcome of one run: its assessment, or why the method does not apply to this model. */
export interface RunResult {
  spec: RunSpec;
  skipped?: string;
  channels?: { before: number; after: number };
  assessment?: Assessment;
  /** Pruning + fine-tuning, and assessment, in seconds. */
  seconds: { prune: number; assess: number };
}

/** Everything the reports are made from (schema `luxcert.experiment/1`). */
export interface ExperimentResult {
  schema: 'luxcert.experiment/1';
  version: string;
  command: string;
  backend: string;
  date: string;
  machine: string;
  data: { train: string; test: string; trainObjects: number; testObjects: number };
  /** The perturbation box USN, NRS and the regulariser are measured under. */
  pruneBox: Box;
  config: ExperimentConfig;
  dense: { model: string; assessment: Assessment };
  runs: RunResult[];
}

/** Inputs of an experiment: a trained dense model and the data sets. */
export interface ExperimentInputs {
  out: string;
  denseModel: string;
  meta: ModelMeta;
  train: LoadedSet;
  test: LoadedSet;
  pruneBox: Box;
  backend: string;
  command: string;
  machine: string;
}

/**
 * Runs the sweep. Each finished run is written to `out/runs/ID.json` (atomically) with a fingerprint
 * of everything that determines it, so an interrupted experiment resumes where it stopped and a
 * changed setting reruns only what it changes.
 */
export async function runExperiment(inp: ExperimentInputs, cfg: ExperimentConfig): Promise<ExperimentResult> {
  const runs = planRuns(cfg);
  mkdirSync(join(inp.out, 'runs'), { recursive: true });
  mkdirSync(join(inp.out, 'models'), { recursive: true });
  const denseHash = createHash('sha256').update(readModelBytes(inp.denseModel)).digest('hex');
  const common = { denseHash, test: inp.test.dir, train: inp.train.dir, box: inp.pruneBox, assess: cfg.assess, version: LUXCERT_VERSION };
  const cached = <T>(file: string, key: unknown, make: () => Promise<T>): Promise<T> => {
    const fingerprint = createHash('sha256').update(JSON.stringify(key)).digest('hex');
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { fingerprint: string; value: T };
      if (saved.fingerprint === fingerprint) return Promise.resolve(saved.value);
    }
    return make().then((value) => {
      writeFileAtomic(file, JSON.stringify({ fingerprint, value }, null, 2));
      return value;
    });
  };

  const t0 = performance.now();
  log.info('experiment: assessing the dense model');
  const dense = await cached(join(inp.out, 'runs', 'dense.json'), common, () => assessModel(readOnnxFile(inp.denseModel, { simplify: false }), inp.meta, inp.test, cfg.assess));
  const results: RunResult[] = [];
  for (const [i, spec] of runs.entries()) {
    const key = { ...common, spec, rounds: cfg.rounds, epochs: cfg.epochs, usnImages: cfg.usnImages, usnPerturbations: cfg.usnPerturbations, boundGrid: cfg.boundGrid };
    const result = await cached(join(inp.out, 'runs', `${spec.id}.json`), key, () => pruneAndAssess(inp, cfg, spec));
    results.push(result);
    const elapsed = (performance.now() - t0) / 1000;
    log.info({ run: `${i + 1}/${runs.length}`, id: spec.id, coverage: result.assessment?.certification.map((c) => +c.coverage.toFixed(3)), pck2: result.assessment?.accuracy.pck['2'], skipped: result.skipped, elapsedMin: +(elapsed / 60).toFixed(1) }, 'experiment: run done');
  }
  return {
    schema: 'luxcert.experiment/1',
    version: LUXCERT_VERSION,
    command: inp.command,
    backend: inp.backend,
    date: new Date().toISOString(),
    machine: inp.machine,
    data: { train: inp.train.dir, test: inp.test.dir, trainObjects: inp.train.objects.length, testObjects: inp.test.objects.length },
    pruneBox: inp.pruneBox,
    config: cfg,
    dense: { model: inp.denseModel, assessment: dense },
    runs: results,
  };
}

/** Prunes the dense model as one run says, fine-tunes it, writes it and assesses it. */
async function pruneAndAssess(inp: ExperimentInputs, cfg: ExperimentConfig, spec: RunSpec): Promise<RunResult> {
  const graph = readOnnxFile(inp.denseModel, { simplify: false });
  const out = join(inp.out, 'models', `${spec.id}.onnx`);
  const t0 = performance.now();
  let channels: RunResult['channels'];
  try {
    const report = await pruneModel(graph, inp.meta, inp.train, {
      ...PRUNE_DEFAULTS,
      method: spec.method,
      box: inp.pruneBox,
      usnImages: cfg.usnImages,
      usnPerturbations: cfg.usnPerturbations,
      boundGrid: cfg.boundGrid,
      ...(spec.components ? { usnComponents: spec.components } : {}),
      sparsity: spec.sparsity,
      rounds: cfg.rounds,
      epochs: cfg.epochs,
      wasserstein: spec.lambda,
      seed: spec.seed,
      out,
    });
    channels = report.channels;
  } catch (e) {
    // A criterion that does not apply to this model (slimming without BatchNorm) is reported, not fatal.
    if (e instanceof LuxcertError) return { spec, skipped: e.message, seconds: { prune: 0, assess: 0 } };
    throw e;
  }
  Object.assign(graph.metadata, { 'luxcert.prune.method': spec.method, 'luxcert.prune.sparsity': String(spec.sparsity), 'luxcert.prune.channels': `${channels.after}/${channels.before}` });
  writeOnnxFile(out, graph);
  const t1 = performance.now();
  const assessment = await assessModel(graph, inp.meta, inp.test, cfg.assess);
  return { spec, channels, assessment, seconds: { prune: (t1 - t0) / 1000, assess: (performance.now() - t1) / 1000 } };
}
