import type { InferenceSession } from 'onnxruntime-node';
import type { Graph } from '../graph/graph.ts';
import type { Box } from '../model/perturbation.ts';
import { openSession, runSession } from '../onnx/ort.ts';
import { encodeOnnx } from '../onnx/write.ts';
import { buildBoundGraph } from './bound-graph.ts';
import type { BoundMode, LowerSlope } from './emitter.ts';

/** Concrete bounds on one model value for a batch of boxes: l ≤ value ≤ u, each [B, …dims] flattened. */
export interface ValueBound {
  l: Float32Array;
  u: Float32Array;
  /** [B, …dims]. */
  dims: number[];
}

/**
 * Bounds on inner values of a model (pre-activations, channel outputs) over boxes of (α, β), from the
 * same bound graph certification runs; pruning criteria (USN's bound terms, NRS) read them.
 */
export class ValueBounds {
  private constructor(private readonly session: InferenceSession, readonly probes: string[], readonly boxes: number) {}

  /** Builds a bound graph with `probes` as outputs and opens it in onnxruntime. */
  static async create(model: Graph, probes: string[], boxes: number, mode: BoundMode = 'linear', lowerSlope?: LowerSlope): Promise<ValueBounds> {
    const unique = [...new Set(probes)];
    const graph = buildBoundGraph(model, { boxes, mode, probes: unique, backward: false, ...(lowerSlope ? { lowerSlope } : {}) });
    return new ValueBounds(await openSession(encodeOnnx(graph), { spinning: true }), unique, boxes);
  }

  /** Bounds of every probe on one image for exactly `boxes` boxes. */
  async run(image: Float32Array, imageDims: number[], boxes: Box[]): Promise<Map<string, ValueBound>> {
    if (boxes.length !== this.boxes) throw new Error(`ValueBounds.run needs ${this.boxes} boxes, got ${boxes.length}`);
    const col = (f: (b: Box) => number) => ({ dims: [boxes.length], data: Float32Array.from(boxes, f) });
    const res = await runSession(this.session, { image: { dims: [1, ...imageDims], data: image }, alpha_lo: col((b) => b.alphaLo), alpha_hi: col((b) => b.alphaHi), beta_lo: col((b) => b.betaLo), beta_hi: col((b) => b.betaHi) });
    return new Map(this.probes.map((p) => [p, { l: res[`lower:${p}`]!.data, u: res[`upper:${p}`]!.data, dims: res[`lower:${p}`]!.dims }]));
  }

  /** Frees the onnxruntime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
