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
import { PRUNE_DEFAULTS, pruneMetadata, pruneModel, type PruneOptions } from '../prune/prune-model.ts';
import { engineName, type TrainEngine } from '../train/engine.ts';
import { USN_DEFAULT_COMPONENTS } from '../prune/usn.ts';
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
  engine: TrainEngine;
  command: string;
  machine: string;
}

/** What pruning one run produced (cached apart from its assessment, which is cheaper to redo). */
interface PruneOutcome {
  skipped?: string;
  channels?: { before: number; after: number };
  seconds: number;
}

/** A JSON cache entry: the value and a fingerprint of everything that determined it. */
class Cache {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  static fingerprint(key: unknown): string {
    return createHash('sha256').update(JSON.stringify(key)).digest('hex');
  }

  /** The cached value when its fingerprint matches and `valid` agrees, else `make()`'s, stored atomically. */
  async get<T>(name: string, key: unknown, make: () => Promise<T>, valid: (v: T) => boolean = () => true): Promise<T> {
    const file = join(this.dir, `${name}.json`);
    const fingerprint = Cache.fingerprint(key);
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { fingerprint: string; value: T };
      if (saved.fingerprint === fingerprint && valid(saved.value)) return saved.value;
    }
    const value = await make();
    writeFileAtomic(file, JSON.stringify({ fingerprint, value }, null, 2));
    return value;
  }
}

/**
 * Runs the sweep. Each run's pruning (`runs/ID.prune.json` + `models/ID.onnx`) and its assessment
 * (`runs/ID.json`) are cached with a fingerprint of everything that determines them, so an
 * interrupted experiment resumes where it stopped, and a changed setting redoes only what it affects
 * (new certification settings reassess the saved models without pruning again).
 */
export async function runExperiment(inp: ExperimentInputs, cfg: ExperimentConfig): Promise<ExperimentResult> {
  const runs = planRuns(cfg);
  const cache = new Cache(join(inp.out, 'runs'));
  mkdirSync(join(inp.out, 'models'), { recursive: true });
  const denseHash = createHash('sha256').update(readModelBytes(inp.denseModel)).digest('hex');
  const assessKey = { test: inp.test.dir, assess: cfg.assess, version: LUXCERT_VERSION };

  const t0 = performance.now();
  log.info('experiment: assessing the dense model');
  const dense = await cache.get('dense', { ...assessKey, denseHash }, () => assessModel(readOnnxFile(inp.denseModel, { simplify: false }), inp.meta, inp.test, cfg.assess));
  const results: RunResult[] = [];
  for (const [i, spec] of runs.entries()) {
    const model = join(inp.out, 'models', `${spec.id}.onnx`);
    const pruneKey = { denseHash, train: inp.train.dir, box: inp.pruneBox, spec, ...(spec.method === 'usn' ? { usnTerms: spec.components ?? USN_DEFAULT_COMPONENTS } : {}), rounds: cfg.rounds, epochs: cfg.epochs, usnImages: cfg.usnImages, usnPerturbations: cfg.usnPerturbations, boundGrid: cfg.boundGrid, version: LUXCERT_VERSION };
    const pruned = await cache.get(`${spec.id}.prune`, pruneKey, () => prune(inp, cfg, spec, model), (v) => v.skipped !== undefined || existsSync(model));
    const result = await cache.get(spec.id, { ...assessKey, prune: Cache.fingerprint(pruneKey) }, async (): Promise<RunResult> => {
      if (pruned.skipped !== undefined) return { spec, skipped: pruned.skipped, seconds: { prune: 0, assess: 0 } };
      const t1 = performance.now();
      const assessment = await assessModel(readOnnxFile(model, { simplify: false }), inp.meta, inp.test, cfg.assess);
      return { spec, channels: pruned.channels!, assessment, seconds: { prune: pruned.seconds, assess: (performance.now() - t1) / 1000 } };
    });
    results.push(result);
    const elapsed = (performance.now() - t0) / 1000;
    log.info({ run: `${i + 1}/${runs.length}`, id: spec.id, coverage: result.assessment?.certification.map((c) => +c.coverage.toFixed(3)), pck2: result.assessment?.accuracy.pck['2'], skipped: result.skipped, elapsedMin: +(elapsed / 60).toFixed(1) }, 'experiment: run done');
  }
  return {
    schema: 'luxcert.experiment/1',
    version: LUXCERT_VERSION,
    command: inp.command,
    backend: engineName(inp.engine),
    date: new Date().toISOString(),
    machine: inp.machine,
    data: { train: inp.train.dir, test: inp.test.dir, trainObjects: inp.train.objects.length, testObjects: inp.test.objects.length },
    pruneBox: inp.pruneBox,
    config: cfg,
    dense: { model: inp.denseModel, assessment: dense },
    runs: results,
  };
}

/** Prunes the dense model as one run says, fine-tunes it and writes it to `out`. */
async function prune(inp: ExperimentInputs, cfg: ExperimentConfig, spec: RunSpec, out: string): Promise<PruneOutcome> {
  const graph = readOnnxFile(inp.denseModel, { simplify: false });
  const t0 = performance.now();
  try {
    const options: PruneOptions = {
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
      reluStability: spec.reluStability ?? 0,
      scope: spec.scope ?? 'layer',
      seed: spec.seed,
      engine: inp.engine,
    };
    const report = await pruneModel(graph, inp.meta, inp.train, options);
    Object.assign(graph.metadata, pruneMetadata(options, report));
    writeOnnxFile(out, graph);
    return { channels: report.channels, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    // A criterion that does not apply to this model (slimming without BatchNorm) is reported, not fatal.
    if (e instanceof LuxcertError) return { skipped: e.message, seconds: 0 };
    throw e;
  }
}
