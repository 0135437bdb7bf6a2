import type { Command } from 'commander';
import { boxFromFlags } from '../model/perturbation.ts';
import type { RegulariserWeights } from '../prune/prune-model.ts';
import { numberFlag } from './options.ts';

/** Values of the regulariser flags. */
export interface RegulariserFlagValues {
  wasserstein: string;
  reluStability: string;
  brightness: string;
  contrast: string;
}

/**
 * Adds the Wasserstein and ReLU-stability weights and the brightness/contrast box they are measured
 * under; `during` says when they apply, `boxUsers` what else reads the box.
 */
export function addRegulariserFlags(cmd: Command, during: string, boxUsers: string, defaults: { wasserstein: number; reluStability: number }): Command {
  return cmd
    .option('--wasserstein <λ>', `weight of the Wasserstein regulariser ${during} (0: off)`, String(defaults.wasserstein))
    .option('--relu-stability <μ>', `weight of the ReLU-stability regulariser ${during} (0: off)`, String(defaults.reluStability))
    .option('--brightness <b>', `${boxUsers}: β ∈ [−b, b] of the box`, '0.1')
    .option('--contrast <c>', `${boxUsers}: α ∈ [1−c, 1+c]`, '0.1');
}

/** The weights and box the flags ask for, each checked. */
export function regulariserWeights(f: RegulariserFlagValues): RegulariserWeights {
  return {
    box: boxFromFlags(numberFlag('--brightness', f.brightness, { min: 0 }), numberFlag('--contrast', f.contrast, { min: 0 })),
    wasserstein: numberFlag('--wasserstein', f.wasserstein, { min: 0 }),
    reluStability: numberFlag('--relu-stability', f.reluStability, { min: 0 }),
  };
}
