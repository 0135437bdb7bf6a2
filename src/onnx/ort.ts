import * as ort from 'onnxruntime-node';
import type { Tensor } from '../core/tensor.ts';

/** Options for an onnxruntime session. */
export interface OrtSessionOptions {
  /** Execution providers in order of preference (default: cpu). */
  executionProviders?: string[];
  intraOpNumThreads?: number;
}

/** Opens an onnxruntime session on ONNX bytes or a path. */
export async function openSession(model: Uint8Array | string, options: OrtSessionOptions = {}): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: options.executionProviders ?? ['cpu'],
    // Warnings (e.g. about unused initializers) would drown the tool's own output.
    logSeverityLevel: 3,
    // Idle intra-op threads sleep instead of spinning (onnxruntime's default): certification and the
    // runtime alternate a model session and a bound session, and on a few cores one session's
    // spinning threads steal the other's time (bench: certification 171 → 153 ms/image, runtime p99 20 → 14 ms).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
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
