import { BoundComputer } from '../bounds/bounds.ts';
import { certifySet, type SettingSummary } from '../certify/certify-set.ts';
import type { Budget } from '../certify/certify-image.ts';
import { ModelRunner } from '../certify/model-runner.ts';
import { quantile } from '../core/quantile.ts';
import type { LoadedSet } from '../data/dataset.ts';
import type { Graph } from '../graph/graph.ts';
import { graphStats } from '../graph/stats.ts';
import type { ModelMeta } from '../model/metadata.ts';
import type { Box } from '../model/perturbation.ts';
import { openSession, runSession } from '../onnx/ort.ts';
import { encodeOnnx } from '../onnx/write.ts';
import { evaluateModel, type EvalResult } from '../train/evaluate.ts';

/** How a model is assessed: which claims are certified, on how many scenes, with what budget and check. */
export interface AssessConfig {
  boxes: Box[];
  tolerance: number;
  /** Test scenes certified (the first ones of the set). */
  certify: number;
  /** Branch-and-bound budget per image and box: sub-boxes bounded (load-independent) and wall clock (a safety net). */
  budget: Budget;
  /** Sampled perturbations per certified claim, run in onnxruntime (0: none). */
  check: number;
  seed: number;
}

/** Everything the experiment reports of one model. */
export interface Assessment {
  accuracy: EvalResult;
  certification: SettingSummary[];
  params: number;
  flops: number;
  onnxBytes: number;
  /** Median latency of one single-image inference in onnxruntime. */
  inferenceMs: number;
}

/** Accuracy (onnxruntime), certification at every box, size and inference time of one model. */
export async function assessModel(graph: Graph, meta: ModelMeta, test: LoadedSet, cfg: AssessConfig): Promise<Assessment> {
  const bytes = encodeOnnx(graph);
  const accuracy = await evaluateModel(bytes, meta, test);
  const bounds = await BoundComputer.create(graph, { boxes: 16, mode: 'linear', engine: 'onnxruntime' });
  const runner = await ModelRunner.open(bytes, meta);
  try {
    const cert = await certifySet(bounds, runner, meta, test, { boxes: cfg.boxes, tolerances: [cfg.tolerance], reference: 'truth', budget: cfg.budget, seed: cfg.seed, check: cfg.check, limit: cfg.certify });
    const stats = graphStats(graph);
    return { accuracy, certification: cert.settings, params: stats.params, flops: stats.flops, onnxBytes: bytes.length, inferenceMs: await inferenceLatency(bytes, meta) };
  } finally {
    await bounds.release();
    await runner.release();
  }
}

/** Median wall time of single-image inference over 200 calls after 20 warm-up calls. */
async function inferenceLatency(bytes: Uint8Array, meta: ModelMeta): Promise<number> {
  const session = await openSession(bytes);
  const feeds = { [session.inputNames[0]!]: { dims: [1, 3, ...meta.inputSize], data: new Float32Array(3 * meta.inputSize[0] * meta.inputSize[1]).fill(0.5) } };
  const times: number[] = [];
  for (let i = 0; i < 220; i++) {
    const t0 = performance.now();
    await runSession(session, feeds);
    if (i >= 20) times.push(performance.now() - t0);
  }
  await session.release();
  return quantile(times, 0.5);
}
