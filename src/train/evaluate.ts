import { LuxcertError } from '../core/errors.ts';
import type { InferenceSession } from 'onnxruntime-node';
import type { LoadedSet } from '../data/dataset.ts';
import { makeBatch, type Batch } from '../data/batch.ts';
import { decodeKeypoints } from '../model/heads.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { openSession, runSession } from '../onnx/ort.ts';
import { keypointMetrics, type KeypointMetrics } from './metrics.ts';

/** Accuracy of an ONNX model on a data set, measured in onnxruntime (what the device runs). */
export interface EvalResult extends KeypointMetrics {
  objects: number;
  imagesPerSec: number;
}

/** Runs the model in onnxruntime on every object of the set and scores its keypoints. */
export async function evaluateModel(model: Uint8Array | string, meta: ModelMeta, set: LoadedSet): Promise<EvalResult> {
  if (set.keypointNames.length !== meta.keypoints.length) {
    throw new LuxcertError(`${set.dir} has ${set.keypointNames.length} keypoints per object but the model head predicts ${meta.keypoints.length} (keypoint count does not match the model head)`);
  }
  const session = await openSession(model);
  const batch = makeBatch(set, set.objects.map((_, i) => i), meta.inputSize, meta.cropPadding);
  const t0 = performance.now();
  const pred = await predictKeypoints(session, meta, batch);
  const seconds = (performance.now() - t0) / 1000;
  await session.release();
  return { ...keypointMetrics(pred, batch.keypoints, batch.mask, meta.keypoints), objects: batch.n, imagesPerSec: batch.n / seconds };
}

/** The model's keypoints (N×K×2 pixels) on a batch, run in onnxruntime in chunks. */
export async function predictKeypoints(session: InferenceSession, meta: ModelMeta, batch: Batch): Promise<Float32Array> {
  const [h, w] = meta.inputSize;
  const k = meta.keypoints.length;
  const pred = new Float32Array(batch.n * k * 2);
  const chunk = 64;
  for (let s = 0; s < batch.n; s += chunk) {
    const n = Math.min(chunk, batch.n - s);
    const out = await runSession(session, { [session.inputNames[0]!]: { dims: [n, 3, h, w], data: batch.x.subarray(s * 3 * h * w, (s + n) * 3 * h * w) } });
    pred.set(decodeKeypoints(meta, out[session.outputNames[0]!]!.data, n), s * k * 2);
  }
  return pred;
}
