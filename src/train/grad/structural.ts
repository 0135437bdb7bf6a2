import { LuxcertError } from '../../core/errors.ts';
import { intAttr, intsAttr } from '../../graph/attrs.ts';
import type { GradRule } from './rule.ts';

/** Flatten, Reshape, Identity: the gradient takes the input's shape back. */
export const reshapeGrad: GradRule = {
  backward: ({ e, inShapes }, _f, dy) => [e.op('Reshape', [dy, e.ints(inShapes[0]!)])],
};

/** Concat: each input's gradient is its slice of the output's. */
export const concatGrad: GradRule = {
  backward({ e, node, inShapes }, _f, dy, needs) {
    const rank = inShapes[0]!.length;
    const axis = (intAttr(node, 'axis', 0) + rank) % rank;
    let start = 0;
    return inShapes.map((s, i) => {
      const from = start;
      start += s[axis]!;
      return needs[i] ? e.op('Slice', [dy, e.ints([from]), e.ints([start]), e.ints([axis])]) : undefined;
    });
  },
};

/** Pad (constant mode): the gradient is the unpadded window of the output's. */
export const padGrad: GradRule = {
  backward({ e, node, inShapes }, _f, dy) {
    const pads = intsAttr(node, 'pads', []);
    if (pads.some((p) => p < 0)) throw new LuxcertError(`Pad node '${node.name}': negative pads (cropping) have no gradient rule, so it cannot be trained`);
    const s = inShapes[0]!;
    return [e.op('Slice', [dy, e.ints(pads.slice(0, s.length)), e.ints(s.map((d, i) => pads[i]! + d)), e.ints(s.map((_, i) => i))])];
  },
};
