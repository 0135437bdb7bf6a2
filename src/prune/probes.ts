import { consumers, type Graph } from '../graph/graph.ts';
import type { ChannelGroup } from './groups.ts';

/** Where a group's channels are measured; see `channelValues`. */
export interface ChannelValues {
  pre: string;
  post: string;
  relu: boolean;
}

/**
 * Where each group's channels are measured: `pre`, the value entering the channels' ReLU (the
 * producer's output, after a BatchNorm node when there is one), and `post`, the ReLU's output;
 * without a ReLU both are the last of those values.
 */
export function channelValues(graph: Graph, groups: readonly ChannelGroup[]): ChannelValues[] {
  const uses = consumers(graph);
  return groups.map((group) => {
    let pre = group.uses.find((u) => u.kind === 'producer')!.node.outputs[0]!;
    const bn = (uses.get(pre) ?? []).find((n) => n.op === 'BatchNormalization');
    if (bn) pre = bn.outputs[0]!;
    const relu = (uses.get(pre) ?? []).find((n) => n.op === 'Relu');
    return relu ? { pre, post: relu.outputs[0]!, relu: true } : { pre, post: pre, relu: false };
  });
}

/** The values whose channel responses USN samples and the Wasserstein regulariser compares: after the ReLU. */
export function probeValues(graph: Graph, groups: readonly ChannelGroup[]): string[] {
  return channelValues(graph, groups).map((v) => v.post);
}
