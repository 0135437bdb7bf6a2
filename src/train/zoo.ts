import { LuxcertError } from '../core/errors.ts';
import { Rng } from '../core/random.ts';
import { MAX_TENSOR_ELEMENTS, tensor } from '../core/tensor.ts';
import { GraphBuilder } from '../graph/builder.ts';
import type { Graph } from '../graph/graph.ts';
import { checkValueSizes, validateGraph } from '../graph/validate.ts';
import { setModelMeta, type HeadType, type ModelMeta } from '../model/metadata.ts';

/** Architectures of the model zoo. */
export const ARCHS = ['tiny', 'cnn7', 'resnet'] as const;
export type Arch = (typeof ARCHS)[number];

/** What a zoo model is built for. */
export interface ZooSpec {
  arch: Arch;
  head: HeadType;
  keypoints: string[];
  skeleton: [number, number][];
  /** Square input side in pixels (divisible by 4). */
  inputSize: number;
  /** Heatmap grid size G (default inputSize / 2). */
  grid?: number;
  cropPadding: number;
  seed: number;
}

/** Adds layers with He-initialised weights; every name is stable so checkpoints line up. */
class Layers {
  readonly b: GraphBuilder;
  private readonly rng: Rng;

  constructor(name: string, seed: number) {
    this.b = new GraphBuilder(name);
    this.rng = new Rng(seed);
  }

  conv(x: string, name: string, cin: number, cout: number, opts: { k?: number; stride?: number; bn?: boolean; relu?: boolean } = {}): string {
    const k = opts.k ?? 3;
    const std = Math.sqrt(2 / (cin * k * k));
    const w = this.b.weight(`${name}.weight`, tensor([cout, cin, k, k], this.rng.normals(cout * cin * k * k, std)));
    const inputs = [x, w];
    if (!opts.bn) inputs.push(this.b.weight(`${name}.bias`, tensor([cout])));
    const p = (k - 1) / 2;
    let y = this.b.op('Conv', inputs, { kernel_shape: [k, k], pads: [p, p, p, p], strides: [opts.stride ?? 1, opts.stride ?? 1] }, name);
    if (opts.bn) y = this.bn(y, `${name}.bn`, cout);
    return opts.relu === false ? y : this.b.op('Relu', [y], {}, `${name}.relu`);
  }

  bn(x: string, name: string, c: number): string {
    const w = (n: string, v: number) => this.b.weight(`${name}.${n}`, tensor([c], new Float32Array(c).fill(v)));
    return this.b.op('BatchNormalization', [x, w('weight', 1), w('bias', 0), w('running_mean', 0), w('running_var', 1)], { epsilon: 1e-5 }, name);
  }

  dense(x: string, name: string, nin: number, nout: number, relu: boolean, scale = Math.sqrt(2 / nin)): string {
    const w = this.b.weight(`${name}.weight`, tensor([nout, nin], this.rng.normals(nout * nin, scale)));
    const y = this.b.op('Gemm', [x, w, this.b.weight(`${name}.bias`, tensor([nout]))], { transB: 1 }, name);
    return relu ? this.b.op('Relu', [y], {}, `${name}.relu`) : y;
  }

  constant(name: string, dims: number[], values: number[]): string {
    return this.b.weight(name, tensor(dims, values));
  }
}

/** Residual block: two 3×3 convolutions with BatchNorm, identity or 1×1 projection shortcut. */
function block(L: Layers, x: string, name: string, cin: number, cout: number, stride: number): string {
  const y = L.conv(L.conv(x, `${name}.conv1`, cin, cout, { stride, bn: true }), `${name}.conv2`, cout, cout, { bn: true, relu: false });
  const short = stride === 1 && cin === cout ? x : L.conv(x, `${name}.shortcut`, cin, cout, { k: 1, stride, bn: true, relu: false });
  return L.b.op('Relu', [L.b.op('Add', [y, short], {}, `${name}.add`)], {}, `${name}.relu`);
}

/** A keypoint detector from the zoo as an IR graph with metadata, ready to train. */
export function buildZooModel(spec: ZooSpec): Graph {
  const s = spec.inputSize;
  if (!Number.isInteger(s) || s < 8 || s % 4 !== 0) throw new LuxcertError(`input size must be a multiple of 4 and at least 8, got ${s}`);
  const k = spec.keypoints.length;
  const grid = spec.grid ?? s / 2;
  if (spec.head === 'heatmap' && ((s / 2) % grid !== 0)) throw new LuxcertError(`heatmap grid ${grid} must divide ${s / 2} (the head's map size)`);
  if (spec.head === 'regression' && spec.grid !== undefined) throw new LuxcertError(`a grid (${spec.grid}) is for the heatmap head; the regression head has none`);
  const L = new Layers(`luxcert_${spec.arch}_${spec.head}`, spec.seed);
  const b = L.b;
  const image = b.input('image', ['batch', 3, s, s]);
  // Normalisation belongs to the graph, after the perturbation (design brief §1).
  let x = b.op('Sub', [image, L.constant('norm.mean', [1], [0.5])], {}, 'norm.sub');
  x = b.op('Mul', [x, L.constant('norm.scale', [1], [4])], {}, 'norm.mul');
  // Trunks reach s/2 × s/2, where heatmap heads branch off; regression heads go on to s/4 × s/4.
  const trunks: Record<Arch, { half: (x: string) => [string, number]; quarter: (x: string) => [string, number] }> = {
    tiny: {
      half: (v) => [L.conv(L.conv(v, 'conv1', 3, 8), 'conv2', 8, 16, { stride: 2 }), 16],
      quarter: (v) => [L.conv(v, 'conv3', 16, 24, { stride: 2 }), 24],
    },
    cnn7: {
      half: (v) => [L.conv(L.conv(L.conv(v, 'conv1', 3, 64, { bn: true }), 'conv2', 64, 64, { bn: true }), 'conv3', 64, 128, { stride: 2, bn: true }), 128],
      quarter: (v) => [L.conv(L.conv(v, 'conv4', 128, 128, { bn: true }), 'conv5', 128, 128, { stride: 2, bn: true }), 128],
    },
    resnet: {
      half: (v) => [block(L, block(L, L.conv(v, 'stem', 3, 16, { bn: true }), 'layer1', 16, 16, 1), 'layer2', 16, 32, 2), 32],
      quarter: (v) => [block(L, v, 'layer3', 32, 32, 2), 32],
    },
  };
  const trunk = trunks[spec.arch];
  const [half, halfC] = trunk.half(x);
  let out: string;
  if (spec.head === 'regression') {
    const q = s / 4;
    const [quarter, c] = trunk.quarter(half);
    x = b.op('Flatten', [quarter], { axis: 1 }, 'flatten');
    const hidden = spec.arch === 'cnn7' ? 512 : 64;
    // Refused before its weights are drawn: at a large input size this one layer alone would exhaust memory.
    if (c * q * q * hidden > MAX_TENSOR_ELEMENTS) throw new LuxcertError(`input size ${s}: ${spec.arch}'s regression head would hold ${c * q * q * hidden} weights in one layer, over the ${MAX_TENSOR_ELEMENTS} luxcert allows in a tensor (a smaller input size, or the heatmap head)`);
    x = L.dense(x, 'fc1', c * q * q, hidden, true);
    x = L.dense(x, 'fc2', hidden, 2 * k, false, 0.01);
    // The net predicts offsets from the centre in units of the input side; outputs are pixels.
    x = b.op('Add', [x, L.constant('head.centre', [1], [0.5])], {}, 'head.add');
    x = b.op('Mul', [x, L.constant('head.pixels', [1], [s])], {}, 'head.mul');
    out = b.op('Reshape', [x], { shape: [0, k, 2] }, 'keypoints');
  } else {
    x = L.conv(half, 'head.conv', halfC, 32);
    x = L.conv(x, 'head.logits', 32, k, { k: 1, relu: false });
    const pool = s / 2 / grid;
    out = pool === 1 ? b.op('Identity', [x], {}, 'keypoints') : b.op('AveragePool', [x], { kernel_shape: [pool, pool], strides: [pool, pool] }, 'keypoints');
  }
  const graph = b.build([out]);
  // Checked here, not in GraphBuilder: bound graphs are built there too, and their values are not laid out per image.
  try {
    checkValueSizes(validateGraph(graph));
  } catch (e) {
    throw e instanceof LuxcertError ? new LuxcertError(`input size ${s}: ${spec.arch}'s ${e.message}`) : e;
  }
  const meta: ModelMeta = { head: spec.head, keypoints: spec.keypoints, skeleton: spec.skeleton, inputSize: [s, s], channels: 3, pixelScale: 1 / 255, cropPadding: spec.cropPadding, arch: spec.arch };
  if (spec.head === 'heatmap') meta.grid = grid;
  setModelMeta(graph, meta);
  return graph;
}
