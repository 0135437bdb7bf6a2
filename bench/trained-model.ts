// The trained model and held-out images a bench measures on (default: the demo's), shared by the
// benches that need real weights and real scenes.
import { existsSync } from 'node:fs';
import { loadDataset } from '../src/data/dataset.ts';
import { makeBatch } from '../src/data/batch.ts';
import type { Graph } from '../src/graph/graph.ts';
import { modelMeta, type ModelMeta } from '../src/model/metadata.ts';
import { readOnnxFile } from '../src/onnx/read.ts';

/** A model with its metadata, its data set, and the first `images` objects as model inputs. */
export interface TrainedModel {
  graph: Graph;
  meta: ModelMeta;
  set: Awaited<ReturnType<typeof loadDataset>>;
  /** Images loaded. */
  n: number;
  /** The i-th preprocessed input [3, H, W]. */
  image(i: number): Float32Array;
  /** [3, H, W]. */
  dims: number[];
}

/** Loads `model` and the first `images` objects of `data`; exits with a hint when the demo has not run. */
export async function loadTrainedModel(model: string, data: string, images: number): Promise<TrainedModel> {
  if (!existsSync(model)) {
    console.error(`${model} not found: run \`npx luxcert demo\` first, or pass --model and --data`);
    process.exit(1);
  }
  const graph = readOnnxFile(model);
  const meta = modelMeta(graph, model);
  const set = await loadDataset(data);
  const n = Math.min(images, set.objects.length);
  const batch = makeBatch(set, set.objects.map((_, i) => i).slice(0, n), meta.inputSize, meta.cropPadding);
  const plane = 3 * meta.inputSize[0] * meta.inputSize[1];
  return { graph, meta, set, n, image: (i) => batch.x.subarray(i * plane, (i + 1) * plane), dims: [3, ...meta.inputSize] };
}
