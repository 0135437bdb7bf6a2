import { consumers, type Graph } from '../graph/graph.ts';
import type { ChannelGroup } from './groups.ts';

/**
 * Where a group's channels are measured: `pre`, the value entering the channels' ReLU (the producer's
 * output, after a BatchNorm node when there is one), and `post`, the ReLU's output; without a ReLU
 * both are the last of those values.
 */
export function channelValues(graph: Graph, group: ChannelGroup): { pre: string; post: string; relu: boolean } {
  const uses = consumers(graph);
  let pre = group.uses.find((u) => u.kind === 'producer')!.node.outputs[0]!;
  const bn = (uses.get(pre) ?? []).find((n) => n.op === 'BatchNormalization');
  if (bn) pre = bn.outputs[0]!;
  const relu = (uses.get(pre) ?? []).find((n) => n.op === 'Relu');
  return relu ? { pre, post: relu.outputs[0]!, relu: true } : { pre, post: pre, relu: false };
}

/** The value whose channel responses USN samples and the Wasserstein regulariser compares: after the ReLU. */
export function probeValue(graph: Graph, group: ChannelGroup): string {
  return channelValues(graph, group).post;
}
