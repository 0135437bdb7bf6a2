import type { Rng } from '../core/random.ts';
import { intAttr } from '../graph/attrs.ts';
import type { Graph } from '../graph/graph.ts';
import type { ChannelGroup } from './groups.ts';

/** Criteria computed from the weights alone; a higher score means the channel is kept. */
export const SCORE_METHODS = ['random', 'l1', 'slimming'] as const;
export type ScoreMethod = (typeof SCORE_METHODS)[number];

/** Per-channel importance of a group under a criterion; undefined when the criterion does not apply (slimming without BatchNorm). */
export function channelScores(graph: Graph, group: ChannelGroup, method: ScoreMethod, rng: Rng): Float64Array | undefined {
  const scores = new Float64Array(group.channels);
  if (method === 'random') return scores.map(() => rng.next());
  if (method === 'l1') {
    // L1 norm of each output filter, summed over the group's producers (coupled channels).
    for (const u of group.uses) {
      if (u.kind !== 'producer') continue;
      const w = graph.initializers.get(u.node.inputs[1]!)!;
      const rowsFirst = u.node.op === 'Conv' || intAttr(u.node, 'transB', 0) === 1;
      const per = w.data.length / group.channels;
      for (let i = 0; i < w.data.length; i++) {
        const c = rowsFirst ? Math.floor(i / per) : i % group.channels;
        scores[c]! += Math.abs(w.data[i]!);
      }
    }
    return scores;
  }
  // Network slimming: |γ| of the group's BatchNorm layers.
  const bns = group.uses.filter((u) => u.kind === 'batchnorm');
  if (bns.length === 0) return undefined;
  for (const u of bns) {
    const gamma = graph.initializers.get(u.node.inputs[1]!)!;
    gamma.data.forEach((g, c) => (scores[c]! += Math.abs(g)));
  }
  return scores;
}
