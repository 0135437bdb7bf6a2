import type { Box } from '../model/perturbation.ts';

/** The ReLU-stability regulariser's margin k: a random (α, β) moves a value by about half its range over the box. */
export const RELU_STABILITY_MARGIN = 2;

/**
 * Regularisers measured under the perturbation box during fine-tuning; both share one perturbed
 * forward pass per batch (one random (α, β) per image). The training step defines them (train-step.ts).
 */
export interface PerturbationRegularisers {
  box: Box;
  /**
   * λ · W: for each probed value and channel, the 1-D Wasserstein-1 distance between the channel's
   * per-image mean responses over the clean batch and over the perturbed batch (mean |sorted −
   * sorted|), averaged over channels and probes. Small when the perturbation leaves each neuron's
   * response distribution in place.
   */
  wasserstein?: { lambda: number; probes: string[] };
  /**
   * μ · S: for each watched pre-activation value z (z′ perturbed), the mean of relu(k·|z′ − z| − |z|)
   * over the value's RMS (a constant of the batch, so inflating responses cannot lower it), averaged
   * over the values. Zero when every ReLU input stays more than k times its shift from the kink.
   */
  reluStability?: { mu: number; values: string[]; margin: number };
}

/** The regularisers with a positive weight, or undefined when none has one. */
export function activeRegularisers(reg: PerturbationRegularisers | undefined): PerturbationRegularisers | undefined {
  const w = reg?.wasserstein && reg.wasserstein.lambda > 0 ? reg.wasserstein : undefined;
  const s = reg?.reluStability && reg.reluStability.mu > 0 ? reg.reluStability : undefined;
  return reg && (w || s) ? { box: reg.box, ...(w ? { wasserstein: w } : {}), ...(s ? { reluStability: s } : {}) } : undefined;
}
