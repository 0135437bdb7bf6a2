import type { InferenceSession } from 'onnxruntime-node';
import { decodeKeypoints } from '../model/heads.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { openSession, runSession } from '../onnx/ort.ts';
import { perturbImage } from '../model/perturbation.ts';

/** The most perturbed images in one onnxruntime run (a 96 px model: 113 MB of input). */
const RUNNER_BATCH = 1024;

/** Runs the exported model in onnxruntime on perturbed copies of one image: the ground truth for every claim. */
export class ModelRunner {
  private constructor(private readonly session: InferenceSession, readonly meta: ModelMeta) {}

  /** Opens the model (ONNX bytes or path). */
  static async open(model: Uint8Array | string, meta: ModelMeta): Promise<ModelRunner> {
    return new ModelRunner(await openSession(model), meta);
  }

  /** Keypoints (per point: K×2 pixels, concatenated) of clip(α·x + β, 0, 1) for each (α, β). */
  async keypointsAt(image: Float32Array, points: [number, number][]): Promise<Float32Array> {
    const [h, w] = this.meta.inputSize;
    const plane = image.length;
    const k2 = this.meta.keypoints.length * 2;
    const result = new Float32Array(points.length * k2);
    // In runs of at most RUNNER_BATCH images, so that memory does not grow with the number of points.
    for (let start = 0; start < points.length; start += RUNNER_BATCH) {
      const chunk = points.slice(start, start + RUNNER_BATCH);
      const batch = new Float32Array(chunk.length * plane);
      chunk.forEach(([a, b], i) => perturbImage(image, a, b, batch.subarray(i * plane, (i + 1) * plane)));
      const out = await runSession(this.session, { [this.session.inputNames[0]!]: { dims: [chunk.length, 3, h, w], data: batch } });
      result.set(decodeKeypoints(this.meta, out[this.session.outputNames[0]!]!.data, chunk.length), start * k2);
    }
    return result;
  }

  /** Frees the session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
