import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { BoundComputer } from '../bounds/bounds.ts';
import type { Box } from '../model/perturbation.ts';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import type { Window } from '../data/crop.ts';
import type { RgbImage } from '../data/image.ts';
import type { Bundle } from '../export/bundle.ts';
import { decodeKeypoints } from '../model/heads.ts';
import { openSession, runSession } from '../onnx/ort.ts';
import { searchCertifiedBox } from './certified-box.ts';
import { preprocessFrame } from './frames.ts';

/** Runtime settings. */
export interface RuntimeOptions {
  /** Execution providers to try, best first; cpu is always the last resort. */
  providers: string[];
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

const runtimeDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));

/**
 * Whether onnxruntime-node has the provider's shared library (the npm package ships CPU only; the
 * CUDA/TensorRT libraries come from its install script or a self-built runtime). Checking first
 * keeps onnxruntime from printing load errors for providers that cannot exist here.
 */
export function providerInstalled(p: string): boolean {
  if (p === 'cpu') return true;
  const lib = `libonnxruntime_providers_${p}.so`;
  const dir = join(runtimeDir, '..', 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(dir, lib));
}

/** Opens a session with the first provider list that works, logging which one ran. */
async function openWithProviders(bytes: Uint8Array, providers: string[], threads: number | undefined, what: string): Promise<{ session: InferenceSession; provider: string }> {
  const chain = [...new Set([...providers, 'cpu'])];
  for (const p of chain) {
    if (!providerInstalled(p)) {
      log.debug({ what, provider: p }, 'execution provider not installed');
      continue;
    }
    try {
      const session = await openSession(bytes, { executionProviders: p === 'cpu' ? ['cpu'] : [p, 'cpu'], ...(threads ? { intraOpNumThreads: threads } : {}) });
      log.info({ what, provider: p }, 'onnxruntime session');
      return { session, provider: p };
    } catch (e) {
      log.debug({ what, provider: p, reason: (e as Error).message.split('\n')[0] }, 'execution provider unavailable');
    }
  }
  throw new Error(`no execution provider could open the ${what}`);
}

/** A bundle ready to run: inference plus the per-frame certified-box search, both in onnxruntime. */
export class Runtime {
  private constructor(readonly bundle: Bundle, readonly provider: string, private readonly model: InferenceSession, private readonly bounds: BoundComputer, private budgetMs: number) {}

  /** Opens the bundle's model and certifier. */
  static async open(bundle: Bundle, o: RuntimeOptions): Promise<Runtime> {
    const { session, provider } = await openWithProviders(bundle.model, o.providers, o.threads, 'model');
    const bounds = await BoundComputer.open(bundle.certifierGraph, 'onnxruntime', { executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'], ...(o.threads ? { intraOpNumThreads: o.threads } : {}) }, bundle.certifier);
    return new Runtime(bundle, provider, session, bounds, o.budgetMs ?? bundle.manifest.search.budgetMs);
  }

  /**
   * Keypoints and the certified box for one frame, seen through `win` (default: its centred
   * square); a LuxcertError when the frame has neither. Keypoints are in model-input pixels.
   */
  async processFrame(img: RgbImage, win?: Window): Promise<FrameResult> {
    const { meta, tolerance, maxBox } = this.bundle.manifest;
    const t0 = performance.now();
    const x = preprocessFrame(img, meta, win);
    const t1 = performance.now();
    const dims = [3, ...meta.inputSize];
    const out = await runSession(this.model, { [this.model.inputNames[0]!]: { dims: [1, ...dims], data: x } });
    const kp = decodeKeypoints(meta, out[this.model.outputNames[0]!]!.data, 1);
    if (kp.length !== 2 * meta.keypoints.length || !kp.every(Number.isFinite)) throw new LuxcertError('the model output is not finite on this frame: no keypoints, no certificate');
    const t2 = performance.now();
    const search = await searchCertifiedBox(this.bounds, x, dims, { meta, reference: kp, tolerance }, maxBox, this.budgetMs, this.bundle.manifest.search.grid);
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
