import { LuxcertError } from '../core/errors.ts';

/** Where the channel budget is decided: every group loses the same share (layer), or one ranking over all groups decides (global). */
export const PRUNE_SCOPES = ['layer', 'global'] as const;
export type PruneScope = (typeof PRUNE_SCOPES)[number];

/** A group as the allocation sees it: its width before pruning, and one score per channel it has now (higher is kept). */
export interface RankedGroup {
  id: number;
  original: number;
  scores: Float64Array;
}

/** Checks a `--scope` value. */
export function pruneScope(value: string, flag = '--scope'): PruneScope {
  if (!(PRUNE_SCOPES as readonly string[]).includes(value)) throw new LuxcertError(`${flag} must be one of ${PRUNE_SCOPES.join(', ')}, got '${value}'`);
  return value as PruneScope;
}

/**
 * How many channels each group keeps once `fraction` of the original channels is gone. Layer scope:
 * round(width · (1 − fraction)) of every group. Global scope: the same total, taken from the lowest
 * scores of all groups together, so scores must be comparable across groups. Either way a group keeps
 * at least min(minWidth, original width) and never more than it has now.
 */
export function keepCounts(groups: readonly RankedGroup[], fraction: number, minWidth: number, scope: PruneScope): Map<number, number> {
  const floor = (g: RankedGroup) => Math.min(minWidth, g.original);
  if (scope === 'layer') return new Map(groups.map((g) => [g.id, Math.min(g.scores.length, Math.max(floor(g), Math.round(g.original * (1 - fraction))))]));
  const counts = new Map(groups.map((g) => [g.id, g.scores.length]));
  const original = groups.reduce((a, g) => a + g.original, 0);
  let excess = [...counts.values()].reduce((a, b) => a + b, 0) - Math.round(original * (1 - fraction));
  // Ties go to the earlier group and channel, so the result does not depend on the sort's stability.
  const channels = groups.flatMap((g) => Array.from(g.scores, (s, c) => ({ g, s, c }))).sort((a, b) => a.s - b.s || a.g.id - b.g.id || a.c - b.c);
  for (const { g } of channels) {
    if (excess <= 0) break;
    const n = counts.get(g.id)!;
    if (n <= floor(g)) continue;
    counts.set(g.id, n - 1);
    excess--;
  }
  return counts;
}

/**
 * Scores made comparable across groups for a global ranking. USN and NRS lie in [0, 1] by
 * construction and random scores are uniform, so they stay; an L1 norm grows with a filter's fan-in
 * and BatchNorm scales differ per layer, so those are divided by their group's mean (Torch-Pruning's
 * "mean" normalisation).
 */
export function globalScores(method: string, scores: Float64Array): Float64Array {
  if (method !== 'l1' && method !== 'slimming') return scores;
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  return mean > 0 ? scores.map((s) => s / mean) : scores;
}
