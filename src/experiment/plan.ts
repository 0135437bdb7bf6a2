import { LuxcertError } from '../core/errors.ts';
import type { PruneScope } from '../prune/allocate.ts';
import type { PruneMethod } from '../prune/prune-model.ts';
import type { UsnComponent } from '../prune/usn.ts';
import type { AssessConfig } from './assess.ts';

/** A regulariser setting of the sweep: off, the Wasserstein regulariser ('on'), or it plus the ReLU-stability regulariser ('rs'). */
export type RegulariserSetting = 'off' | 'on' | 'rs';
export const REGULARISER_SETTINGS: readonly RegulariserSetting[] = ['off', 'on', 'rs'];

/** The regulariser weights of a setting: λ of the Wasserstein term, μ of the ReLU-stability term (0: off). */
export function regulariserWeights(cfg: Pick<ExperimentConfig, 'wasserstein' | 'reluStability'>, setting: RegulariserSetting): { lambda: number; mu: number } {
  return { lambda: setting === 'off' ? 0 : cfg.wasserstein, mu: setting === 'rs' ? cfg.reluStability : 0 };
}

/** The sweep: methods × sparsities × regulariser, seeds at the headline sparsity, USN ablations. */
export interface ExperimentConfig {
  methods: PruneMethod[];
  sparsities: number[];
  /** The sparsity that gets every seed (and the ablations). */
  headline: number;
  seeds: number[];
  /** λ of the Wasserstein regulariser when it is on. */
  wasserstein: number;
  /** μ of the ReLU-stability regulariser in the 'rs' setting. */
  reluStability: number;
  /** Which regulariser settings are swept: none, Wasserstein, Wasserstein + ReLU stability. */
  regulariser: RegulariserSetting[];
  /** USN component subsets run at the headline sparsity under the strongest regulariser setting swept (empty: none). */
  ablations: UsnComponent[][];
  /** Where each run decides the channel budget (every run of the experiment the same). */
  scope: PruneScope;
  rounds: number;
  epochs: number;
  usnImages: number;
  usnPerturbations: number;
  boundGrid: number;
  assess: AssessConfig;
}

/** One pruning run of the sweep. */
export interface RunSpec {
  id: string;
  method: PruneMethod;
  /** USN's penalty terms (USN runs only; undefined: all). */
  components?: UsnComponent[];
  sparsity: number;
  lambda: number;
  /** μ of the ReLU-stability regulariser; set only when on, so other runs keep the ids (and caches) they had before it existed. */
  reluStability?: number;
  seed: number;
  /** Set for global pruning only, so layer-scope runs keep the ids (and caches) they had before scopes existed. */
  scope?: 'global';
  kind: 'sweep' | 'ablation';
}

/** A label for a (method, components) pair, as tables and plots show it. */
export function methodLabel(method: PruneMethod, components?: readonly UsnComponent[]): string {
  return components ? `${method}[${components.join('+')}]` : method;
}

/** The most seeds at the headline sparsity: each is a pruning run per method and regulariser setting, and the plan is held in memory (10⁹ ended the process). */
export const MAX_SEEDS = 100;

/** Every run of the experiment, in execution order: the headline sparsity (all seeds), the ablations, then the other sparsities (first seed), so partial results are the useful ones. */
export function planRuns(cfg: ExperimentConfig): RunSpec[] {
  if (cfg.sparsities.some((s) => !(s > 0 && s < 1))) throw new LuxcertError(`--sparsities must lie in (0, 1), got ${cfg.sparsities.join(',')}`);
  if (!cfg.sparsities.includes(cfg.headline)) throw new LuxcertError(`--headline ${cfg.headline} must be one of --sparsities (${cfg.sparsities.join(',')})`);
  if (cfg.seeds.length === 0) throw new LuxcertError('--seeds must be at least 1');
  if (cfg.methods.length === 0) throw new LuxcertError('--methods names no method');
  const settings = cfg.regulariser.map((r) => regulariserWeights(cfg, r));
  // Ablations vary USN's terms under the strongest regulariser setting of the sweep.
  const strongest = settings.reduce((a, b) => (b.mu > a.mu || (b.mu === a.mu && b.lambda > a.lambda) ? b : a), { lambda: cfg.wasserstein, mu: 0 });
  const runs: RunSpec[] = [];
  const add = (method: PruneMethod, sparsity: number, reg: { lambda: number; mu: number }, seed: number, kind: RunSpec['kind'], components?: UsnComponent[]) => {
    const id = `${methodLabel(method, components)}-s${sparsity}-w${reg.lambda}${reg.mu > 0 ? `-rs${reg.mu}` : ''}-seed${seed}${cfg.scope === 'global' ? '-global' : ''}`.replace(/[[\]+]/g, (c) => ({ '[': '_', ']': '', '+': '-' })[c]!);
    if (!runs.some((r) => r.id === id)) runs.push({ id, method, ...(components ? { components } : {}), sparsity, lambda: reg.lambda, ...(reg.mu > 0 ? { reluStability: reg.mu } : {}), seed, ...(cfg.scope === 'global' ? { scope: 'global' as const } : {}), kind });
  };
  for (const seed of cfg.seeds) for (const method of cfg.methods) for (const reg of settings) add(method, cfg.headline, reg, seed, 'sweep');
  for (const seed of cfg.seeds) for (const components of cfg.ablations) add('usn', cfg.headline, strongest, seed, 'ablation', components);
  for (const sparsity of cfg.sparsities.filter((s) => s !== cfg.headline)) for (const method of cfg.methods) for (const reg of settings) add(method, sparsity, reg, cfg.seeds[0]!, 'sweep');
  return runs;
}
