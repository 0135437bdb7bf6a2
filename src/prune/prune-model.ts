import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { Rng } from '../core/random.ts';
import type { LoadedSet } from '../data/dataset.ts';
import type { Graph } from '../graph/graph.ts';
import { graphStats } from '../graph/stats.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { RELU_STABILITY_MARGIN, type PerturbationRegularisers } from '../train/regularisers.ts';
import type { TrainEngine } from '../train/engine.ts';
import { trainModel, type TrainResult } from '../train/trainer.ts';
import { globalScores, keepCounts, type PruneScope, type RankedGroup } from './allocate.ts';
import { channelGroups, type ChannelGroup } from './groups.ts';
import { removeChannels } from './remove-channels.ts';
import { channelScores, SCORE_METHODS, type ScoreMethod } from './scores.ts';
import { channelValues, probeValues } from './probes.ts';
import { usnNeedsBounds, usnScores, USN_DEFAULT_COMPONENTS, type UsnComponent } from './usn.ts';
import { boundTerms, nrsScores } from './bound-terms.ts';
import type { Box } from '../model/perturbation.ts';
import { shuffle } from '../data/dataset.ts';
import { DEFAULT_AUGMENT, makeBatch } from '../data/batch.ts';

/** Pruning criteria: the static ones of scores.ts, and those measured under the perturbation box (USN, NRS). */
export type PruneMethod = ScoreMethod | 'usn' | 'nrs';
export const PRUNE_METHODS: readonly PruneMethod[] = [...SCORE_METHODS, 'usn', 'nrs'];

/** Settings of the progressive pipeline: score → prune a fraction → fine-tune, repeated. */
export interface PruneOptions {
  method: PruneMethod;
  /** The perturbation box USN and NRS are measured under. */
  box: Box;
  /** Images sampled for USN and NRS, and perturbations per image for USN. */
  usnImages: number;
  usnPerturbations: number;
  /** USN's penalty terms (default: all). */
  usnComponents?: readonly UsnComponent[];
  /** Certified bounds (USN's bounds term, NRS) are measured on grid × grid sub-boxes of the box. */
  boundGrid: number;
  /** Fraction of the prunable channels to remove in the end. */
  sparsity: number;
  rounds: number;
  /** Fine-tuning epochs after each round (0: none). */
  epochs: number;
  /** Weight λ of the Wasserstein regulariser during fine-tuning (0: off). */
  wasserstein: number;
  /** Weight μ of the ReLU-stability regulariser during fine-tuning (0: off). */
  reluStability: number;
  /** Channels every group keeps at least. */
  minWidth: number;
  /** Whether every group loses the same share, or one ranking over all groups decides. */
  scope: PruneScope;
  seed: number;
  lr: number;
  batchSize: number;
  /** Where fine-tuning runs (default: onnxruntime on the CPU). */
  engine?: TrainEngine;
}

/** The regularisers' weights of the benchmark's headline: the experiment's "rs" setting and the demo's fine-tuning (docs/usn.md, choosing λ). */
export const BENCHMARK_REGULARISERS = { wasserstein: 30, reluStability: 10 } as const;

/** Defaults of the pipeline's settings (the CLI's and the experiment's). */
export const PRUNE_DEFAULTS = { rounds: 2, epochs: 15, usnImages: 64, usnPerturbations: 12, boundGrid: 4, minWidth: 2, scope: 'layer', lr: 1e-3, batchSize: 32, wasserstein: 0, reluStability: 0 } as const;

/** Before/after figures of a pruning run. */
export interface PruneReport {
  channels: { before: number; after: number };
  params: { before: number; after: number };
  flops: { before: number; after: number };
  rounds: { round: number; channels: number; validation?: TrainResult['best'] }[];
}

/** The metadata a pruned model carries: how it was pruned. */
export function pruneMetadata(o: Pick<PruneOptions, 'method' | 'sparsity' | 'scope' | 'wasserstein' | 'reluStability'>, report: PruneReport): Record<string, string> {
  return {
    'luxcert.prune.method': o.method, 'luxcert.prune.sparsity': String(o.sparsity), 'luxcert.prune.scope': o.scope, 'luxcert.prune.channels': `${report.channels.after}/${report.channels.before}`,
    'luxcert.prune.wasserstein': String(o.wasserstein), 'luxcert.prune.relu_stability': String(o.reluStability),
  };
}

/**
 * Prunes a model in place with the progressive pipeline, fine-tuning on `set` between rounds. The
 * trainer's round models go to a scratch folder of its own, removed at the end: the caller writes
 * the result where the user asked, once, when it is complete.
 */
export async function pruneModel(graph: Graph, meta: ModelMeta, set: LoadedSet, o: PruneOptions): Promise<PruneReport> {
  const scratch = mkdtempSync(join(tmpdir(), 'luxcert-prune-'));
  try {
    return await pruneRounds(graph, meta, set, o, scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function pruneRounds(graph: Graph, meta: ModelMeta, set: LoadedSet, o: PruneOptions, scratch: string): Promise<PruneReport> {
  if (!(o.sparsity >= 0 && o.sparsity < 1)) throw new LuxcertError(`--sparsity must be in [0, 1), got ${o.sparsity}`);
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new LuxcertError(`--rounds must be a positive integer, got ${o.rounds}`);
  const rng = new Rng(o.seed);
  const prunable = channelGroups(graph).filter((g) => !g.blocked);
  const original = new Map(prunable.map((g) => [g.id, g.channels]));
  if (original.size === 0) throw new LuxcertError('the model has no prunable channel group');
  const total = [...original.values()].reduce((a, b) => a + b, 0);
  if (o.method === 'slimming' && !prunable.some((g) => g.uses.some((u) => u.kind === 'batchnorm'))) {
    throw new LuxcertError('slimming needs BatchNorm scales, and no prunable channel group has a BatchNorm (keep BatchNorm as nodes, or use another method)');
  }
  const statsBefore = graphStats(graph);
  const sampleIdx = set.objects.map((_, i) => i);
  shuffle(sampleIdx, new Rng(o.seed));
  const plane = 3 * meta.inputSize[0] * meta.inputSize[1];
  const measured = o.method === 'usn' || o.method === 'nrs';
  const sample = measured ? makeBatch(set, sampleIdx.slice(0, o.usnImages), meta.inputSize, meta.cropPadding) : undefined;
  const usnSample = sample ? Array.from({ length: sample.n }, (_, i) => sample.x.subarray(i * plane, (i + 1) * plane)) : [];
  const report: PruneReport = { channels: { before: total, after: total }, params: { before: statsBefore.params, after: 0 }, flops: { before: statsBefore.flops, after: 0 }, rounds: [] };
  for (let r = 1; r <= o.rounds; r++) {
    const fraction = (o.sparsity * r) / o.rounds;
    // Groups are found anew each round (edits keep their order, so ids stay stable).
    const groups = channelGroups(graph).filter((g) => !g.blocked && original.has(g.id));
    const measuredScores = measured ? await measuredChannelScores(graph, groups, o, usnSample, [3, ...meta.inputSize], o.seed + r) : undefined;
    const ranked: RankedGroup[] = [];
    for (const group of groups) {
      const scores = measuredScores ? measuredScores.get(group.id)! : channelScores(graph, group, o.method as ScoreMethod, rng);
      // Slimming only ranks channels that pass through a BatchNorm; other groups keep their width.
      if (scores) ranked.push({ id: group.id, original: original.get(group.id)!, scores: o.scope === 'global' ? globalScores(o.method, scores) : scores });
    }
    const counts = keepCounts(ranked, fraction, o.minWidth, o.scope);
    for (const { id, scores } of ranked) {
      const target = counts.get(id)!;
      if (target >= scores.length) continue;
      const keep = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!).slice(0, target).sort((a, b) => a - b);
      removeChannels(graph, groups.find((g) => g.id === id)!, keep);
    }
    const remaining = channelGroups(graph).filter((g) => !g.blocked);
    const channels = remaining.reduce((a, g) => a + g.channels, 0);
    log.info({ round: r, channels, of: total }, 'pruned');
    let validation: TrainResult['best'] | undefined;
    if (o.epochs > 0) {
      const t = await trainModel(graph, meta, set, {
        epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, valFraction: 0.15, patience: o.epochs, seed: o.seed + r, augment: DEFAULT_AUGMENT, out: join(scratch, `round-${r}.onnx`),
        regularisers: channelRegularisers(graph, o),
        ...(o.engine ? { engine: o.engine } : {}),
      });
      validation = t.best;
    }
    report.rounds.push({ round: r, channels, ...(validation ? { validation } : {}) });
    report.channels.after = channels;
  }
  const after = graphStats(graph);
  report.params.after = after.params;
  report.flops.after = after.flops;
  return report;
}

/** The regularisers' weights and the box they perturb within. */
export type RegulariserWeights = Pick<PruneOptions, 'box' | 'wasserstein' | 'reluStability'>;

/**
 * The regularisers of the options on the prunable channel groups' channels: what `prune` fine-tunes
 * with, `train` trains with when asked, and `bench:train --regularisers` measures.
 */
export function channelRegularisers(graph: Graph, o: RegulariserWeights): PerturbationRegularisers {
  const groups = channelGroups(graph).filter((g) => !g.blocked);
  const relus = channelValues(graph, groups).filter((v) => v.relu).map((v) => v.pre);
  return {
    box: o.box,
    ...(o.wasserstein > 0 ? { wasserstein: { lambda: o.wasserstein, probes: [...new Set(probeValues(graph, groups))] } } : {}),
    ...(o.reluStability > 0 ? { reluStability: { mu: o.reluStability, values: [...new Set(relus)], margin: RELU_STABILITY_MARGIN } } : {}),
  };
}

/** USN or NRS scores of every group, from sampled responses and/or certified bounds under the box. */
async function measuredChannelScores(graph: Graph, groups: ChannelGroup[], o: PruneOptions, images: Float32Array[], imageDims: number[], seed: number): Promise<Map<number, Float64Array>> {
  const components = o.usnComponents ?? USN_DEFAULT_COMPONENTS;
  const bounds = o.method === 'nrs' || usnNeedsBounds(components) ? await boundTerms(graph, groups, { box: o.box, images, imageDims, grid: o.boundGrid }) : undefined;
  if (o.method === 'nrs') return new Map([...bounds!].map(([id, t]) => [id, nrsScores(t)]));
  const usn = await usnScores(graph, groups, { box: o.box, images, imageDims, perturbations: o.usnPerturbations, seed, components, ...(bounds ? { bounds } : {}) });
  return new Map([...usn].map(([id, t]) => [id, t.usn]));
}
