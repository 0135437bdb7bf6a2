import type { Tensor } from '../../core/tensor.ts';
import type { Graph, Node } from '../../graph/graph.ts';
import type { Bound, BoundEmitter } from '../emitter.ts';

/** An operator input during bound propagation: a bounded value, or a constant initializer's name. */
export type BoundInput = Bound | string;

/** What a bound rule sees: the emitter, the model (for weights) and the node's inputs. */
export interface RuleContext {
  em: BoundEmitter;
  model: Graph;
  node: Node;
  /** Rank of each input in the model (bounds carry the box batch as their first axis). */
  ranks: number[];
  /** Rank of the node's output. */
  outRank: number;
}

/** A sound bound rule for one operator. */
export type BoundRule = (ctx: RuleContext, inputs: BoundInput[]) => Bound;

export const isBound = (x: BoundInput | undefined): x is Bound => typeof x === 'object';

/** The initializer behind a constant input. */
export function weight(ctx: RuleContext, name: string): Tensor {
  return ctx.model.initializers.get(name)!;
}

/** A new initializer holding |W| for a weight. */
export function absWeight(ctx: RuleContext, name: string): string {
  const t = weight(ctx, name);
  return ctx.em.constant(`${name}.abs`, { dims: [...t.dims], data: t.data.map(Math.abs) });
}
