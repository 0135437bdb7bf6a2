import { ValueBounds } from '../bounds/value-bounds.ts';
import { LuxcertError } from '../core/errors.ts';
import type { Graph } from '../graph/graph.ts';
import { checkBox, gridBoxes, type Box } from '../model/perturbation.ts';
import type { ChannelGroup } from './groups.ts';
import { channelValues } from './probes.ts';

/**
 * The finest grid of sub-boxes: all g² of them go through onnxruntime in one run per image, so the
 * run's memory grows with g² (a grid of 100,000 ended the process). 32 gives 1,024 sub-boxes, the
 * order of the certifier's own budget per image; the default is 4.
 */
export const MAX_BOUND_GRID = 32;

/** Settings of the certified-bound measurement. */
export interface BoundTermOptions {
  box: Box;
  images: Float32Array[];
  imageDims: number[];
  /** The box is cut into grid × grid sub-boxes, the scale at which branch-and-bound proves. */
  grid: number;
}

/** Per-channel statistics of the certified bounds on the channel's pre-activation, averaged over images, sub-boxes and positions. */
export interface BoundTerms {
  /** Mean width u − l. */
  width: Float64Array;
  /** Share where the ReLU is unstable (l < 0 < u); 0 for channels without a ReLU. */
  unstable: Float64Array;
  /** Share where the ReLU is stably inactive (u ≤ 0); 0 for channels without a ReLU. */
  inactive: Float64Array;
  /** Whether the channels feed a ReLU. */
  relu: boolean;
}

/**
 * Certified bounds on every group's pre-activation channels, from the same bound graph that
 * certification runs (forward linear bounds, one onnxruntime call per image for all sub-boxes).
 */
export async function boundTerms(graph: Graph, groups: ChannelGroup[], o: BoundTermOptions): Promise<Map<number, BoundTerms>> {
  checkBox(o.box);
  if (!(Number.isInteger(o.grid) && o.grid >= 1 && o.grid <= MAX_BOUND_GRID)) throw new LuxcertError(`bound grid must be an integer in 1..${MAX_BOUND_GRID}, got ${o.grid}`);
  const values = channelValues(graph, groups);
  const boxes = gridBoxes(o.box, o.grid);
  const vb = await ValueBounds.create(graph, values.map((v) => v.pre), boxes.length);
  const sums = groups.map((g) => ({ width: new Float64Array(g.channels), unstable: new Float64Array(g.channels), inactive: new Float64Array(g.channels), count: 0 }));
  try {
    for (const image of o.images) {
      const res = await vb.run(image, o.imageDims, boxes);
      groups.forEach((_, gi) => {
        const { l, u, dims } = res.get(values[gi]!.pre)!;
        const c = dims[1]!;
        const inner = l.length / (dims[0]! * c);
        const s = sums[gi]!;
        for (let i = 0; i < l.length; i++) {
          const ch = Math.floor(i / inner) % c;
          s.width[ch]! += u[i]! - l[i]!;
          if (values[gi]!.relu && l[i]! < 0 && u[i]! > 0) s.unstable[ch]! += 1;
          if (values[gi]!.relu && u[i]! <= 0) s.inactive[ch]! += 1;
        }
        s.count += dims[0]! * inner;
      });
    }
  } finally {
    await vb.release();
  }
  return new Map(groups.map((g, gi) => {
    const s = sums[gi]!;
    const n = Math.max(1, s.count);
    return [g.id, { width: s.width.map((v) => v / n), unstable: s.unstable.map((v) => v / n), inactive: s.inactive.map((v) => v / n), relu: values[gi]!.relu }];
  }));
}

/**
 * NRS (neuron ReLU stability, after Li et al. 2022): the share of (image, sub-box, position) where
 * the channel's ReLU is *stably active* (l ≥ 0). Unstable ReLUs are relaxations the verifier pays
 * for, stably inactive ones carry nothing, stably active ones are exact and carry signal; so dead and
 * unstable channels go first. Without a ReLU, the channel with the narrower certified bounds is kept.
 */
export function nrsScores(t: BoundTerms): Float64Array {
  return t.relu ? stablyActiveShare(t) : t.width.map((w) => -w);
}

/** Per channel, the share where its ReLU is provably active (1 for channels without a ReLU). */
export function stablyActiveShare(t: BoundTerms): Float64Array {
  return t.unstable.map((v, ch) => Math.max(0, 1 - v - t.inactive[ch]!));
}
