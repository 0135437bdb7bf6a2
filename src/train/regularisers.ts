import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/random.ts';
import type { Box } from '../model/perturbation.ts';
import { randomPerturbation } from './random-perturbation.ts';
import { reluStabilityPenalty } from './relu-stability.ts';
import type { TfGraph } from './tf-graph.ts';
import { wassersteinPenalty } from './wasserstein.ts';

/** The ReLU-stability regulariser's margin k: a random (α, β) moves a value by about half its range over the box. */
export const RELU_STABILITY_MARGIN = 2;

/**
 * Regularisers measured under the perturbation box during fine-tuning; both share one perturbed
 * forward pass per batch.
 */
export interface PerturbationRegularisers {
  box: Box;
  /** λ · W1 between clean and perturbed per-channel responses of the `probes` values. */
  wasserstein?: { lambda: number; probes: string[] };
  /** μ · the ReLU-stability penalty on the `values` entering ReLUs. */
  reluStability?: { mu: number; values: string[]; margin: number };
}

/** What the regularisers add to one batch's loss, and each term before its weight. */
export interface Penalties {
  total: tf.Scalar;
  wasserstein?: tf.Scalar;
  reluStability?: tf.Scalar;
}

/** The regularisers with a positive weight, or undefined when none has one. */
export function activeRegularisers(reg: PerturbationRegularisers | undefined): PerturbationRegularisers | undefined {
  const w = reg?.wasserstein && reg.wasserstein.lambda > 0 ? reg.wasserstein : undefined;
  const s = reg?.reluStability && reg.reluStability.mu > 0 ? reg.reluStability : undefined;
  return reg && (w || s) ? { box: reg.box, ...(w ? { wasserstein: w } : {}), ...(s ? { reluStability: s } : {}) } : undefined;
}

/**
 * The regularisers' share of a batch's loss, given the clean pass's probed and watched values; runs
 * the perturbed pass in training mode and drops its BatchNorm statistic updates (it only shapes the loss).
 */
export function perturbationPenalties(tg: TfGraph, x: tf.Tensor4D, clean: { probes: tf.Tensor[]; maps: tf.Tensor[] }, reg: PerturbationRegularisers, rng: Rng): Penalties {
  const { wasserstein: w, reluStability: s } = reg;
  const perturbed = tg.forward(randomPerturbation(x, reg.box, rng), true, w?.probes ?? [], s?.values ?? []);
  for (const [, t] of perturbed.updates) t.dispose();
  const out: Penalties = { total: tf.scalar(0) };
  if (w) {
    out.wasserstein = wassersteinPenalty(clean.probes, perturbed.probes);
    out.total = tf.add(out.total, tf.mul(out.wasserstein, w.lambda));
  }
  if (s) {
    out.reluStability = reluStabilityPenalty(clean.maps, perturbed.maps, s.margin);
    out.total = tf.add(out.total, tf.mul(out.reluStability, s.mu));
  }
  return out;
}
