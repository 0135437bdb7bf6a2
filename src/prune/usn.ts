import { LuxcertError } from '../core/errors.ts';
import { Rng } from '../core/random.ts';
import { checkBox, perturbImage, type Box } from '../model/perturbation.ts';
import type { Graph } from '../graph/graph.ts';
import { openSession, runSession } from '../onnx/ort.ts';
import { encodeOnnx } from '../onnx/write.ts';
import { stablyActiveShare, type BoundTerms } from './bound-terms.ts';
import type { ChannelGroup } from './groups.ts';
import { probeValues } from './probes.ts';

/** Settings of the USN measurement. */
export interface UsnOptions {
  /** The perturbation box the network should be robust (and certifiable) under. */
  box: Box;
  /** Model inputs ([N, C, H, W] flattened) the responses are measured on. */
  images: Float32Array[];
  imageDims: number[];
  /** Perturbations per image (corners first, then uniform). */
  perturbations: number;
  seed: number;
  /** The terms the score penalises (all three by default); fewer for ablations. */
  components?: readonly UsnComponent[];
  /** Certified-bound statistics per group, required when `components` has 'bounds' or 'stability'. */
  bounds?: Map<number, BoundTerms>;
}

/**
 * Terms of USN: the penalties sampled bias, sampled smoothness and certified pre-activation width,
 * and the factor `stability`, the share where the channel's ReLU is provably active.
 */
export const USN_COMPONENTS = ['bias', 'smoothness', 'bounds', 'stability'] as const;
export type UsnComponent = (typeof USN_COMPONENTS)[number];
/** The terms USN uses unless told otherwise (docs/usn.md says why). */
export const USN_DEFAULT_COMPONENTS: readonly UsnComponent[] = ['bias', 'smoothness', 'bounds'];

/** Whether a set of USN terms needs certified bounds. */
export function usnNeedsBounds(components: readonly UsnComponent[]): boolean {
  return components.includes('bounds') || components.includes('stability');
}

/** Per-channel terms of the score, for reports and ablations. */
export interface UsnTerms {
  signal: Float64Array;
  bias: Float64Array;
  smoothness: Float64Array;
  /** Mean certified width of the pre-activation on sub-boxes (0 when not measured). */
  width: Float64Array;
  usn: Float64Array;
}

/**
 * The most perturbations USN measures per image: every response is kept until the image is scored
 * (10⁹ ended the process); the default is 12.
 */
export const MAX_USN_PERTURBATIONS = 1024;

/**
 * USN (Unbiased and Smooth Neuron) scores per channel, measured by running the model in
 * onnxruntime on each image and on perturbations clip(α·x + β, 0, 1) of it inside the box.
 * With r the channel's spatial mean response:
 *   signal     = standard deviation of r(clean) over images (a channel that never varies carries nothing),
 *   bias       = mean over images of |mean over perturbations of r(perturbed) − r(clean)|,
 *   smoothness = mean over images of the standard deviation of r over perturbations,
 *   width      = mean certified width of the channel's pre-activation over sub-boxes (bound-terms.ts),
 *   USN = signal / (signal + the chosen penalty terms) [× stably-active share with 'stability'], in [0, 1],
 * 0 for a dead channel (signal ≤ 1e-6 of the layer's mean). High USN: informative, unbiased and
 * smooth under the perturbation, with tight bounds: kept.
 */
export async function usnScores(graph: Graph, groups: ChannelGroup[], o: UsnOptions): Promise<Map<number, UsnTerms>> {
  checkBox(o.box);
  if (!(Number.isInteger(o.perturbations) && o.perturbations >= 1 && o.perturbations <= MAX_USN_PERTURBATIONS)) throw new LuxcertError(`USN perturbations per image must be an integer in 1..${MAX_USN_PERTURBATIONS}, got ${o.perturbations}`);
  const components = new Set(o.components ?? USN_DEFAULT_COMPONENTS);
  if (usnNeedsBounds([...components]) && !o.bounds) throw new Error('USN with the bounds or stability term needs the bound statistics');
  const probes = probeValues(graph, groups);
  const probeGraph: Graph = { ...graph, outputs: [...new Set(probes)].map((name) => ({ name, shape: [] })) };
  const session = await openSession(encodeOnnx(probeGraph));
  const rng = new Rng(o.seed);
  const b = o.box;
  const corners: [number, number][] = [[b.alphaLo, b.betaLo], [b.alphaLo, b.betaHi], [b.alphaHi, b.betaLo], [b.alphaHi, b.betaHi]];
  const points: [number, number][] = [[1, 0], ...Array.from({ length: o.perturbations }, (_, i) => (i < 4 ? corners[i]! : [rng.uniform(b.alphaLo, b.alphaHi), rng.uniform(b.betaLo, b.betaHi)] as [number, number]))];
  const plane = o.images[0]!.length;
  // responses[probe][image][point][channel]
  const responses = new Map<string, Float64Array[][]>(probes.map((p) => [p, []]));
  for (const img of o.images) {
    const batch = new Float32Array(points.length * plane);
    points.forEach(([a, be], i) => perturbImage(img, a, be, batch.subarray(i * plane, (i + 1) * plane)));
    const out = await runSession(session, { [graph.inputs[0]!.name]: { dims: [points.length, ...o.imageDims], data: batch } });
    for (const p of new Set(probes)) {
      const t = out[p]!;
      const c = t.dims[1]!;
      const inner = t.data.length / (points.length * c);
      const perPoint = points.map((_, i) => {
        const r = new Float64Array(c);
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let k = 0; k < inner; k++) s += t.data[(i * c + ch) * inner + k]!;
          r[ch] = s / inner;
        }
        return r;
      });
      responses.get(p)!.push(perPoint);
    }
  }
  await session.release();
  const result = new Map<number, UsnTerms>();
  groups.forEach((g, gi) => {
    const per = responses.get(probes[gi]!)!;
    const c = g.channels;
    const signal = new Float64Array(c);
    const bias = new Float64Array(c);
    const smoothness = new Float64Array(c);
    for (let ch = 0; ch < c; ch++) {
      const clean = per.map((pts) => pts[0]![ch]!);
      const mean = clean.reduce((a, v) => a + v, 0) / clean.length;
      signal[ch] = Math.sqrt(clean.reduce((a, v) => a + (v - mean) ** 2, 0) / clean.length);
      let bsum = 0;
      let ssum = 0;
      for (const pts of per) {
        const pert = pts.slice(1).map((r) => r[ch]!);
        const m = pert.reduce((a, v) => a + v, 0) / pert.length;
        bsum += Math.abs(m - pts[0]![ch]!);
        ssum += Math.sqrt(pert.reduce((a, v) => a + (v - m) ** 2, 0) / pert.length);
      }
      bias[ch] = bsum / per.length;
      smoothness[ch] = ssum / per.length;
    }
    const bt = o.bounds?.get(g.id);
    const width = bt?.width ?? new Float64Array(c);
    const active = components.has('stability') && bt ? stablyActiveShare(bt) : undefined;
    const scale = signal.reduce((a, v) => a + v, 0) / c || 1;
    const usn = signal.map((sig, ch) => {
      if (sig / scale <= 1e-6) return 0;
      const penalty = (components.has('bias') ? bias[ch]! : 0) + (components.has('smoothness') ? smoothness[ch]! : 0) + (components.has('bounds') ? width[ch]! : 0);
      return (sig / (sig + penalty)) * (active ? active[ch]! : 1);
    });
    result.set(g.id, { signal, bias, smoothness, width, usn });
  });
  return result;
}
