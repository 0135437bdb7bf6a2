import type { Tensor } from '../../core/tensor.ts';
import type { Graph, Node } from '../../graph/graph.ts';
import type { Bound, BoundEmitter } from '../emitter.ts';

/** An operator input during bound propagation: a bounded value, or a constant initializer's name. */
export type BoundInput = Bound | string;

/** What a bound rule sees: the emitter, the model (for weights), the node and its output's dims. */
export interface RuleContext {
  em: BoundEmitter;
  model: Graph;
  node: Node;
  /** The node output's dimensions without the batch axis. */
  outDims: number[];
}

/** A sound bound rule for one operator. */
export type BoundRule = (ctx: RuleContext, inputs: BoundInput[]) => Bound;

export const isBound = (x: BoundInput | undefined): x is Bound => typeof x === 'object';

/** The initializer behind a constant input. */
export function weight(ctx: RuleContext, name: string): Tensor {
  return ctx.model.initializers.get(name)!;
}

/** The W, W/2 and |W|/2 initializers a linear rule applies (see BoundEmitter.linear). */
export function weightForms(ctx: RuleContext, name: string, scale = 1): Record<'full' | 'half' | 'halfAbs', string> {
  const t = weight(ctx, name);
  const form = (f: (v: number) => number, suffix: string) => ctx.em.constant(`${name}.${suffix}`, { dims: [...t.dims], data: t.data.map(f) });
  return { full: scale === 1 ? name : form((v) => v * scale, 'scaled'), half: form((v) => (v * scale) / 2, 'half'), halfAbs: form((v) => Math.abs(v * scale) / 2, 'half_abs') };
}
