import { LuxcertError } from '../core/errors.ts';
import type { Graph } from '../graph/graph.ts';

/** Keypoint head type: 2K coordinates, or K logit maps on a G×G grid. */
export type HeadType = 'regression' | 'heatmap';

/** What every stage needs to know about a keypoint model beyond its graph (design brief §5). */
export interface ModelMeta {
  head: HeadType;
  /** Grid size G of the heatmap head. */
  grid?: number;
  keypoints: string[];
  /** Pairs of keypoint indices (0-based) drawn as lines. */
  skeleton: [number, number][];
  /** Model input [height, width] in pixels. */
  inputSize: [number, number];
  channels: number;
  /** Multiplier from 8-bit pixel values to the model's input range [0, 1]. */
  pixelScale: number;
  /** The crop around the object's bounding box is this many times its longer side. */
  cropPadding: number;
  arch?: string;
}

const PREFIX = 'luxcert.';

/** Writes the metadata into the graph's ONNX metadata_props. */
export function setModelMeta(graph: Graph, meta: ModelMeta): void {
  const entries: Record<string, string> = {
    head: meta.head,
    keypoints: JSON.stringify(meta.keypoints),
    skeleton: JSON.stringify(meta.skeleton),
    input_size: JSON.stringify(meta.inputSize),
    channels: String(meta.channels),
    pixel_scale: String(meta.pixelScale),
    crop_padding: String(meta.cropPadding),
  };
  if (meta.grid !== undefined) entries.grid = String(meta.grid);
  if (meta.arch !== undefined) entries.arch = meta.arch;
  for (const [k, v] of Object.entries(entries)) graph.metadata[PREFIX + k] = v;
}

/** Flags a user passes for a model that has no luxcert metadata (or to override it). */
export interface MetaFlags {
  head?: string;
  grid?: string;
  keypoints?: string;
  skeleton?: string;
  inputSize?: string;
  cropPadding?: string;
}

function parseJson<T>(what: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new LuxcertError(`model metadata ${what} is not valid JSON: ${text}`);
  }
}

/**
 * The model's metadata: from its metadata_props, overridden by flags; a clear error names the
 * flags to pass when neither has what is needed. Input size and channels default to the graph input.
 */
export function modelMeta(graph: Graph, source: string, flags: MetaFlags = {}): ModelMeta {
  const m = graph.metadata;
  const get = (k: string) => m[PREFIX + k];
  const head = flags.head ?? get('head');
  if (head !== 'regression' && head !== 'heatmap') {
    throw new LuxcertError(head === undefined ? `${source}: no keypoint head in the model metadata; pass --head regression|heatmap and --keypoints a,b,c` : `${source}: unknown head '${head}' (regression or heatmap)`);
  }
  const input = graph.inputs[0]!.shape;
  const keypoints = flags.keypoints !== undefined ? flags.keypoints.split(',').map((s) => s.trim()).filter(Boolean) : get('keypoints') ? parseJson<string[]>('keypoints', get('keypoints')!) : undefined;
  if (!keypoints || keypoints.length === 0) throw new LuxcertError(`${source}: no keypoint names in the model metadata; pass --keypoints a,b,c`);
  if (!Array.isArray(keypoints) || keypoints.length > 1000 || !keypoints.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 200)) throw new LuxcertError(`${source}: keypoint names must be a list of at most 1000 non-empty strings`);
  const sizeList: number[] = flags.inputSize !== undefined
    ? flags.inputSize.split('x').map(Number)
    : get('input_size') ? parseJson<number[]>('input_size', get('input_size')!) : [input[2] as number, input[3] as number];
  const inputSize: [number, number] = [sizeList[0]!, sizeList[1] ?? sizeList[0]!];
  if (!inputSize.every((d) => Number.isInteger(d) && d > 0)) throw new LuxcertError(`${source}: input size must be positive integers, got ${sizeList.join('x')}`);
  const gridText = flags.grid ?? get('grid');
  const grid = gridText === undefined ? undefined : Number(gridText);
  if (head === 'heatmap' && (grid === undefined || !Number.isInteger(grid) || grid <= 0)) throw new LuxcertError(`${source}: a heatmap head needs a grid size; pass --grid G`);
  const cropPadding = Number(flags.cropPadding ?? get('crop_padding') ?? '1.25');
  if (!(cropPadding >= 1 && Number.isFinite(cropPadding))) throw new LuxcertError(`${source}: crop padding must be ≥ 1, got ${cropPadding}`);
  const meta: ModelMeta = {
    head,
    keypoints,
    skeleton: flags.skeleton !== undefined ? parseJson('skeleton', flags.skeleton) : get('skeleton') ? parseJson('skeleton', get('skeleton')!) : [],
    inputSize,
    channels: Number(get('channels') ?? input[1]),
    pixelScale: Number(get('pixel_scale') ?? 1 / 255),
    cropPadding,
  };
  if (grid !== undefined) meta.grid = grid;
  if (get('arch') !== undefined) meta.arch = get('arch')!;
  checkHead(graph, meta, source);
  checkInput(graph, meta, source);
  const k = keypoints.length;
  if (!Array.isArray(meta.skeleton) || !meta.skeleton.every((p) => Array.isArray(p) && p.length === 2 && p.every((j) => Number.isInteger(j) && j >= 0 && j < k))) {
    throw new LuxcertError(`${source}: skeleton must be a list of [i, j] keypoint index pairs in 0..${k - 1}`);
  }
  return meta;
}

/**
 * Checks that the model, its metadata and the preprocessing agree: frames become 3-channel images
 * of `inputSize` with values pixel·pixelScale ∈ [0, 1] — the range the perturbation clip(α·x + β, 0, 1)
 * leaves unchanged at the identity, so a clean prediction is the prediction at (1, 0).
 */
export function checkInput(graph: Graph, meta: ModelMeta, source: string): void {
  const [, c, h, w] = graph.inputs[0]!.shape;
  if (graph.inputs[0]!.shape.length !== 4) throw new LuxcertError(`${source}: input '${graph.inputs[0]!.name}' has shape [${graph.inputs[0]!.shape}]; luxcert models take one [N, 3, H, W] image`);
  if (typeof c === 'number' && c !== 3) throw new LuxcertError(`${source}: the model takes ${c} channels, luxcert feeds RGB images (3)`);
  if (meta.channels !== 3) throw new LuxcertError(`${source}: metadata channels ${meta.channels}: luxcert feeds RGB images (3)`);
  if ((typeof h === 'number' && h !== meta.inputSize[0]) || (typeof w === 'number' && w !== meta.inputSize[1])) {
    throw new LuxcertError(`${source}: metadata input size ${meta.inputSize.join('x')} does not match the model input [${graph.inputs[0]!.shape}]`);
  }
  if (!(meta.pixelScale > 0 && meta.pixelScale * 255 <= 1 + 1e-9)) throw new LuxcertError(`${source}: pixel scale ${meta.pixelScale} must be in (0, 1/255]: inputs must lie in [0, 1]`);
  if (!(meta.cropPadding >= 1 && Number.isFinite(meta.cropPadding))) throw new LuxcertError(`${source}: crop padding must be a finite number ≥ 1, got ${meta.cropPadding}`);
}

/** Checks that the model's first output has the shape its head and keypoint count need. */
export function checkHead(graph: Graph, meta: ModelMeta, source: string): void {
  const out = graph.outputs[0]!.shape.slice(1);
  const k = meta.keypoints.length;
  const ok = meta.head === 'regression'
    ? (out.length === 1 && out[0] === 2 * k) || (out.length === 2 && out[0] === k && out[1] === 2)
    : out.length === 3 && out[0] === k && out[1] === meta.grid && out[2] === meta.grid;
  if (!ok) {
    const want = meta.head === 'regression' ? `[N,${2 * k}] or [N,${k},2]` : `[N,${k},${meta.grid},${meta.grid}]`;
    throw new LuxcertError(`${source}: output '${graph.outputs[0]!.name}' has shape [N,${out.join(',')}] but a ${meta.head} head with ${k} keypoints needs ${want} (keypoint count does not match the model head?)`);
  }
}
