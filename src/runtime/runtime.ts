import type { InferenceSession } from 'onnxruntime-node';
import { BoundComputer } from '../bounds/bounds.ts';
import type { Box } from '../model/perturbation.ts';
import { LuxcertError } from '../core/errors.ts';
import type { Window } from '../data/crop.ts';
import type { RgbImage } from '../data/image.ts';
import type { Bundle } from '../export/bundle.ts';
import { decodeKeypoints } from '../model/heads.ts';
import { runSession } from '../onnx/ort.ts';
import { CallCost, SearchMemory, searchCertifiedBox } from './certified-box.ts';
import { preprocessFrame } from './frames.ts';
import { openModelSession, type GpuOptions, type ProviderName } from './providers.ts';

/** Runtime settings. */
export interface RuntimeOptions {
  /** Execution providers to try for the model, best first; cpu is always the last resort. The certifier runs on the CPU. */
  providers: readonly ProviderName[];
  gpu?: GpuOptions;
  threads?: number;
  /** Per-frame certification budget (default: the bundle's). */
  budgetMs?: number;
}

/** What the runtime publishes for one frame. */
export interface FrameResult {
  keypoints: { name: string; x: number; y: number; verdict: 'certified' }[];
  /** The certified box: every keypoint stays within `tolerance` px of its published position for every (α, β) in it. */
  box: Box;
  /** Fraction of the maximum box reached per side [α low, α high, β low, β high]. */
  extent: [number, number, number, number];
  complete: boolean;
  tolerance: number;
  latencyMs: { preprocess: number; inference: number; certify: number; total: number };
}

/** A bundle ready to run: inference plus the per-frame certified-box search, both in onnxruntime. */
export class Runtime {
  /** What each track (a stream, or one region of it) carries to its next frame's search. */
  private readonly memories = new Map<string, SearchMemory>();
  /** What a certifier call costs, measured over every track's searches: they share the certifier. */
  private readonly callCost = new CallCost();

  private constructor(readonly bundle: Bundle, readonly provider: ProviderName, private readonly model: InferenceSession, private readonly bounds: BoundComputer, private budgetMs: number) {}

  /** Opens the bundle's model and certifier. */
  static async open(bundle: Bundle, o: RuntimeOptions): Promise<Runtime> {
    const { session, provider } = await openModelSession(bundle.model, o.providers, { ...(o.threads ? { threads: o.threads } : {}), ...(o.gpu ? { gpu: o.gpu } : {}) });
    const bounds = await BoundComputer.open(bundle.certifierGraph, 'onnxruntime', { executionProviders: ['cpu'], ...(o.threads ? { intraOpNumThreads: o.threads } : {}) }, bundle.certifier);
    return new Runtime(bundle, provider, session, bounds, o.budgetMs ?? bundle.manifest.search.budgetMs);
  }

  /**
   * Keypoints and the certified box for one frame, seen through `win` (default: its centred
   * square); a LuxcertError when the frame has neither. Keypoints are in model-input pixels.
   * Frames of one `track` (a stream, or one region of it) start their search from the sub-boxes
   * the track's recent frames failed on, while its keypoints stay within τ (`SearchMemory`).
   */
  async processFrame(img: RgbImage, win?: Window, track = 'stream'): Promise<FrameResult> {
    const { meta, tolerance, maxBox } = this.bundle.manifest;
    const t0 = performance.now();
    const x = preprocessFrame(img, meta, win);
    const t1 = performance.now();
    const dims = [3, ...meta.inputSize];
    const kp = await this.keypoints(x);
    const t2 = performance.now();
    let memory = this.memories.get(track);
    if (!memory) this.memories.set(track, (memory = new SearchMemory()));
    const search = await searchCertifiedBox(this.bounds, x, dims, { meta, reference: kp, tolerance }, maxBox, this.budgetMs, this.bundle.manifest.search.grid, memory.start(kp, tolerance), this.callCost);
    memory.record(kp, search.failures);
    const t3 = performance.now();
    return {
      keypoints: meta.keypoints.map((name, j) => ({ name, x: kp[2 * j]!, y: kp[2 * j + 1]!, verdict: 'certified' })),
      box: search.box,
      extent: search.extent,
      complete: search.complete,
      tolerance,
      latencyMs: { preprocess: t1 - t0, inference: t2 - t1, certify: t3 - t2, total: t3 - t0 },
    };
  }

  /** The model's keypoints [x0, y0, x1, …] on a preprocessed input; a LuxcertError unless all are finite. */
  async keypoints(x: Float32Array): Promise<Float32Array> {
    const meta = this.bundle.manifest.meta;
    const out = await runSession(this.model, { [this.model.inputNames[0]!]: { dims: [1, 3, ...meta.inputSize], data: x } });
    const kp = decodeKeypoints(meta, out[this.model.outputNames[0]!]!.data, 1);
    if (kp.length !== 2 * meta.keypoints.length || !kp.every(Number.isFinite)) throw new LuxcertError('the model output is not finite on this frame: no keypoints, no certificate');
    return kp;
  }

  /** Model input of a frame (for checks that re-run the model on perturbations). */
  input(img: RgbImage, win?: Window): Float32Array {
    return preprocessFrame(img, this.bundle.manifest.meta, win);
  }

  /** Changes the per-frame certification budget (the ROS node's dynamic parameter). */
  setBudget(ms: number): void {
    if (!(Number.isFinite(ms) && ms > 0)) throw new LuxcertError(`budget must be a positive number of milliseconds, got ${ms}`);
    this.budgetMs = ms;
  }

  /** Frees both sessions. */
  async release(): Promise<void> {
    await this.model.release();
    await this.bounds.release();
  }
}
