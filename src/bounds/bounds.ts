import type { InferenceSession } from 'onnxruntime-node';
import { evaluateGraph } from '../graph/evaluate.ts';
import type { Graph } from '../graph/graph.ts';
import { LuxcertError } from '../core/errors.ts';
import { openSession, runSession, type OrtSessionOptions } from '../onnx/ort.ts';
import { encodeOnnx } from '../onnx/write.ts';
import { buildBoundGraph, BOUND_OUTPUTS } from './bound-graph.ts';
import type { Box } from '../model/perturbation.ts';
import type { BoundMode, LowerSlope } from './emitter.ts';

/** Bounds on the model output for one box: concrete, and the linear functions of (α, β) behind them. */
export interface BoxBounds {
  box: Box;
  lower: Float32Array;
  upper: Float32Array;
  /** Linear bounds: lower = la·α + lb·β + lc (per output element), upper likewise. */
  la: Float32Array;
  lb: Float32Array;
  lc: Float32Array;
  ua: Float32Array;
  ub: Float32Array;
  uc: Float32Array;
}

/** Which executor runs the bound graph. */
export type BoundEngine = 'onnxruntime' | 'reference';

/** Options of a bound computer. */
export interface BoundComputerOptions {
  boxes: number;
  mode: BoundMode;
  engine: BoundEngine;
  /** Backward refinement (linear mode): the most convolutions the tail crosses beyond the dense layers, or none (false); default CERTIFIER.backward. */
  backward?: number | false;
  /** ReLU lower-line slope (default CERTIFIER.lowerSlope). */
  lowerSlope?: LowerSlope;
}

const IDENTITY: Box = { alphaLo: 1, alphaHi: 1, betaLo: 0, betaHi: 0 };

/** Computes output bounds of a model for batches of boxes on one image. */
export class BoundComputer {
  private constructor(readonly graph: Graph, readonly options: BoundComputerOptions, private readonly session: InferenceSession | undefined, readonly outputSize: number) {}

  /** Builds the bound graph for a model and opens it on the chosen engine. */
  static async create(model: Graph, options: BoundComputerOptions): Promise<BoundComputer> {
    return BoundComputer.open(buildBoundGraph(model, options), options.engine);
  }

  /**
   * Opens an existing bound graph (a bundle's certifier), with onnxruntime session options; `bytes`,
   * when given, is the file the graph was read from, so onnxruntime runs exactly that file. Its
   * threads spin between kernels unless the options say otherwise (OrtSessionOptions.spinning).
   */
  static async open(graph: Graph, engine: BoundEngine, sessionOptions: OrtSessionOptions = {}, bytes?: Uint8Array): Promise<BoundComputer> {
    const boxes = Number(graph.metadata['luxcert.bound_graph.boxes']);
    const mode = graph.metadata['luxcert.bound_graph.mode'] as BoundMode;
    if (!(boxes > 0) || (mode !== 'linear' && mode !== 'ibp')) throw new LuxcertError(`graph '${graph.name}' is not a luxcert bound graph (no luxcert.bound_graph metadata)`);
    const session = engine === 'onnxruntime' ? await openSession(bytes ?? encodeOnnx(graph), { spinning: true, ...sessionOptions }) : undefined;
    const outShape = graph.outputs[0]!.shape.slice(1) as number[];
    return new BoundComputer(graph, { boxes, mode, engine }, session, outShape.reduce((a, b) => a * b, 1));
  }

  /** Bounds for each box (any number: they are sent in calls of the graph's batch size). */
  async bounds(image: Float32Array, imageDims: number[], boxes: Box[]): Promise<BoxBounds[]> {
    const out: BoxBounds[] = [];
    const n = this.options.boxes;
    for (let s = 0; s < boxes.length; s += n) {
      const chunk = boxes.slice(s, s + n);
      const padded = [...chunk, ...new Array<Box>(n - chunk.length).fill(IDENTITY)];
      const col = (f: (b: Box) => number) => ({ dims: [n], data: Float32Array.from(padded, f) });
      const feeds = { image: { dims: [1, ...imageDims], data: image }, alpha_lo: col((b) => b.alphaLo), alpha_hi: col((b) => b.alphaHi), beta_lo: col((b) => b.betaLo), beta_hi: col((b) => b.betaHi) };
      const res = this.session ? await runSession(this.session, feeds) : evaluateGraph(this.graph, feeds);
      const m = this.outputSize;
      const [lower, upper, la, lb, lc, ua, ub, uc] = BOUND_OUTPUTS.map((k) => res[k]!.data);
      chunk.forEach((box, i) => {
        const at = (t: Float32Array) => t.slice(i * m, (i + 1) * m);
        out.push({ box, lower: at(lower!), upper: at(upper!), la: at(la!), lb: at(lb!), lc: at(lc!), ua: at(ua!), ub: at(ub!), uc: at(uc!) });
      });
    }
    return out;
  }

  /** Frees the onnxruntime session. */
  async release(): Promise<void> {
    await this.session?.release();
  }
}
