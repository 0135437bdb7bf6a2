import * as ort from 'onnxruntime-node';
import { LuxcertError } from '../core/errors.ts';
import type { Tensor } from '../core/tensor.ts';

/**
 * The most intra-op threads a session is opened with: a thread pool of 1,000,000 never finished
 * starting, one of 1,000 on 2 cores ran a bundle at 0.2 frames/s; no machine luxcert targets has
 * more cores.
 */
export const MAX_ORT_THREADS = 64;

/** Options for an onnxruntime session. */
export interface OrtSessionOptions {
  /** Execution providers in order of preference (default: cpu). */
  executionProviders?: ort.InferenceSession.SessionOptions['executionProviders'];
  /** Intra-op threads, 1 to MAX_ORT_THREADS (default: onnxruntime's, one per core). */
  intraOpNumThreads?: number;
  /**
   * Idle intra-op threads spin instead of sleeping (default false). A session that runs many small
   * kernels back to back (a bound graph: hundreds of elementwise nodes per call) wants them spinning:
   * waking a sleeping thread per kernel cost 40 % of a bound pass. A session that alternates with
   * another on the same cores wants them asleep, or its spinning threads steal the other's time.
   */
  spinning?: boolean;
  /**
   * onnxruntime plans one buffer for all intermediates from the first run's allocations (default
   * true, onnxruntime's own default). A training step's hundreds of large intermediates made that
   * plan 1.5–1.6× the memory the arena needs when allocating as it goes (cnn7 heatmap 64 px: 1,036 →
   * 636 MiB peak, resnet 424 → 285 MiB), at the same speed (−1.5 % to +3 %, alternating runs).
   */
  memoryPattern?: boolean;
}

/** Opens an onnxruntime session on ONNX bytes or a path. */
export async function openSession(model: Uint8Array | string, options: OrtSessionOptions = {}): Promise<ort.InferenceSession> {
  const threads = options.intraOpNumThreads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= MAX_ORT_THREADS)) throw new LuxcertError(`onnxruntime threads must be an integer in 1..${MAX_ORT_THREADS}, got ${threads}`);
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: options.executionProviders ?? ['cpu'],
    // Warnings (e.g. about unused initializers) would drown the tool's own output.
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    ...(options.memoryPattern === false ? { enableMemPattern: false } : {}),
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);
}

/** Runs a session on float32 feeds and returns float32 outputs. */
export async function runSession(session: ort.InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor('float32', t.data, t.dims);
  const res = await session.run(ortFeeds);
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(res)) out[k] = { dims: [...t.dims], data: t.data as Float32Array };
  return out;
}
