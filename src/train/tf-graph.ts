import * as tf from '@tensorflow/tfjs-core';
import type { backend_util } from '@tensorflow/tfjs-core';
import { LuxcertError } from '../core/errors.ts';
import { floatAttr, intAttr, intsAttr } from '../graph/attrs.ts';
import type { Graph, Node } from '../graph/graph.ts';
import { window2d } from '../graph/ops/spatial.ts';

/** A value during the tfjs forward pass; 4-D activations are kept NHWC (what tfjs convolves). */
interface Val {
  t: tf.Tensor;
  nhwc: boolean;
}

/** Which inputs of an operator are trained weights and which are BatchNorm statistics. */
export const TRAINABLE: Record<string, number[]> = { Conv: [1, 2], Gemm: [1, 2], MatMul: [0, 1], BatchNormalization: [1, 2] };
const STATISTICS: Record<string, number[]> = { BatchNormalization: [3, 4] };

/** BatchNorm running statistics move this far towards each batch's (PyTorch's momentum 0.1). */
const BN_MOMENTUM = 0.1;

const toNhwc = (t: tf.Tensor) => tf.transpose(t, [0, 2, 3, 1]);
const toNchw = (t: tf.Tensor) => tf.transpose(t, [0, 3, 1, 2]);
const plain = (v: Val) => (v.nhwc ? toNchw(v.t) : v.t);

/** An IR graph as tfjs variables and a differentiable forward pass; weights go back to the IR exactly. */
export class TfGraph {
  /** Trained weights by initializer name, in the IR's layout (Conv OIHW, Gemm as stored). */
  readonly params = new Map<string, tf.Variable>();
  /** BatchNorm running mean and variance, updated by training forward passes. */
  readonly stats = new Map<string, tf.Variable>();
  private readonly constants = new Map<string, tf.Tensor>();

  // tfjs variable names are global, so variables stay anonymous and are keyed by initializer name here.
  constructor(readonly graph: Graph) {
    for (const node of graph.nodes) {
      for (const [i, name] of node.inputs.entries()) {
        const t = graph.initializers.get(name);
        if (!t || this.params.has(name) || this.stats.has(name) || this.constants.has(name)) continue;
        if (TRAINABLE[node.op]?.includes(i)) this.params.set(name, tf.variable(tf.tensor(t.data, t.dims), true));
        else if (STATISTICS[node.op]?.includes(i)) this.stats.set(name, tf.variable(tf.tensor(t.data, t.dims), false));
        else this.constants.set(name, tf.tensor(t.data, t.dims));
      }
    }
  }

  /**
   * Runs the graph on an NCHW batch and returns its first output in ONNX layout, plus the per-channel
   * means of the `probes` values and the whole `maps` values (in whatever layout they were computed).
   * With `training`, BatchNorm uses batch statistics and the returned updates move its running statistics.
   */
  forward(x: tf.Tensor, training = false, probes: string[] = [], maps: string[] = []): { output: tf.Tensor; updates: [tf.Variable, tf.Tensor][]; probes: tf.Tensor[]; maps: tf.Tensor[] } {
    const values = new Map<string, Val>();
    const updates: [tf.Variable, tf.Tensor][] = [];
    values.set(this.graph.inputs[0]!.name, x.rank === 4 ? { t: toNhwc(x), nhwc: true } : { t: x, nhwc: false });
    const get = (name: string): Val => {
      const v = values.get(name);
      if (v) return v;
      const w = this.params.get(name) ?? this.stats.get(name) ?? this.constants.get(name);
      if (!w) throw new Error(`value ${name} not computed`);
      return { t: w, nhwc: false };
    };
    for (const node of this.graph.nodes) {
      const out = this.run(node, node.inputs.map(get), training, updates);
      values.set(node.outputs[0]!, out);
    }
    // Probed values as per-channel means [N, C] (spatial mean of NCHW maps).
    const probed = probes.map((p) => {
      const v = values.get(p);
      if (!v) throw new Error(`probe ${p} is not computed`);
      return v.nhwc ? tf.mean(v.t, [1, 2]) : v.t;
    });
    const full = maps.map((p) => {
      const v = values.get(p);
      if (!v) throw new Error(`value ${p} is not computed`);
      return v.t;
    });
    return { output: plain(values.get(this.graph.outputs[0]!.name)!), updates, probes: probed, maps: full };
  }

  private run(node: Node, ins: Val[], training: boolean, updates: [tf.Variable, tf.Tensor][]): Val {
    const [a, b] = ins;
    switch (node.op) {
      case 'Conv':
        return { t: this.conv(node, ins, training), nhwc: true };
      case 'Relu':
        return { t: tf.relu(a!.t), nhwc: a!.nhwc };
      case 'Abs':
        return { t: tf.abs(a!.t), nhwc: a!.nhwc };
      case 'Identity':
        return a!;
      case 'Clip': {
        let t = a!.t;
        if (node.attrs.min !== undefined) t = tf.maximum(t, node.attrs.min as number);
        if (node.attrs.max !== undefined) t = tf.minimum(t, node.attrs.max as number);
        return { t, nhwc: a!.nhwc };
      }
      case 'Add': case 'Sub': case 'Mul': case 'Div': {
        const nhwc = a!.nhwc || b!.nhwc;
        const align = (v: Val) => (!nhwc || v.nhwc ? v.t : toNhwc(tf.reshape(v.t, [...new Array<number>(4 - v.t.rank).fill(1), ...v.t.shape])));
        const f = { Add: tf.add, Sub: tf.sub, Mul: tf.mul, Div: tf.div }[node.op as 'Add'];
        return { t: f(align(a!), align(b!)), nhwc };
      }
      case 'BatchNormalization':
        return this.batchNorm(node, ins, training, updates);
      case 'Gemm': {
        let y = tf.matMul(a!.t as tf.Tensor2D, b!.t as tf.Tensor2D, intAttr(node, 'transA', 0) === 1, intAttr(node, 'transB', 0) === 1);
        const alpha = floatAttr(node, 'alpha', 1);
        if (alpha !== 1) y = tf.mul(y, alpha);
        if (ins[2]) y = tf.add(y, tf.mul(ins[2].t, floatAttr(node, 'beta', 1)));
        return { t: y, nhwc: false };
      }
      case 'MatMul':
        return { t: tf.matMul(plain(a!), plain(b!)), nhwc: false };
      case 'MaxPool': case 'AveragePool':
        return { t: this.pool(node, a!), nhwc: true };
      case 'GlobalAveragePool':
        return { t: tf.mean(a!.t, [1, 2], true), nhwc: true };
      case 'Flatten': {
        const t = plain(a!);
        const axis = intAttr(node, 'axis', 1);
        const k = axis < 0 ? axis + t.rank : axis;
        const rows = t.shape.slice(0, k).reduce((p, q) => p * q, 1);
        return { t: tf.reshape(t, [rows, -1]), nhwc: false };
      }
      case 'Reshape': {
        const t = plain(a!);
        const target = intsAttr(node, 'shape', []).map((d, i) => (d === 0 && intAttr(node, 'allowzero', 0) === 0 ? t.shape[i]! : d));
        return { t: tf.reshape(t, target), nhwc: false };
      }
      case 'Concat': {
        const nhwc = ins.every((v) => v.nhwc);
        const rank = ins[0]!.t.rank;
        let axis = intAttr(node, 'axis', 0);
        if (axis < 0) axis += rank;
        const ts = nhwc ? ins.map((v) => v.t) : ins.map(plain);
        return { t: tf.concat(ts, nhwc ? [0, 3, 1, 2][axis]! : axis), nhwc };
      }
      case 'Pad': {
        const pads = intsAttr(node, 'pads', []);
        const r = pads.length / 2;
        let pairs = Array.from({ length: r }, (_, i) => [pads[i]!, pads[i + r]!] as [number, number]);
        if (a!.nhwc) pairs = [pairs[0]!, pairs[2]!, pairs[3]!, pairs[1]!];
        return { t: tf.pad(a!.t, pairs, floatAttr(node, 'value', 0)), nhwc: a!.nhwc };
      }
    }
    throw new LuxcertError(`${node.op} node '${node.name}' cannot be trained with tfjs`);
  }

  private conv(node: Node, [x, w, bias]: Val[], training: boolean): tf.Tensor {
    if (!x!.nhwc) throw new LuxcertError(`Conv node '${node.name}': expects a 4-D activation`);
    const [h, wd] = [x!.t.shape[1]!, x!.t.shape[2]!];
    const win = window2d(node, h, wd, w!.t.shape.slice(2));
    if (training && win.dilations.some((d) => d !== 1)) throw new LuxcertError(`Conv node '${node.name}': tfjs has no gradient for dilated convolutions, so it cannot be trained`);
    const group = intAttr(node, 'group', 1);
    const pad: backend_util.ExplicitPadding = [[0, 0], [win.pads[0], win.pads[2]], [win.pads[1], win.pads[3]], [0, 0]];
    const hwio = tf.transpose(w!.t, [2, 3, 1, 0]) as tf.Tensor4D; // OIHW → HWIO
    const input = x!.t as tf.Tensor4D;
    let y: tf.Tensor;
    if (group === 1) {
      y = tf.conv2d(input, hwio, win.strides, pad, 'NHWC', win.dilations);
    } else {
      const xs = tf.split(input, group, 3);
      const ws = tf.split(hwio, group, 3);
      y = tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, win.strides, pad, 'NHWC', win.dilations)), 3);
    }
    return bias ? tf.add(y, bias.t) : y;
  }

  private pool(node: Node, x: Val): tf.Tensor {
    const win = window2d(node, x.t.shape[1]!, x.t.shape[2]!, intsAttr(node, 'kernel_shape', []));
    if (win.pads.some((p) => p !== 0) || intAttr(node, 'ceil_mode', 0) !== 0 || win.dilations.some((d) => d !== 1)) {
      throw new LuxcertError(`${node.op} node '${node.name}': training supports unpadded, undilated pooling without ceil_mode`);
    }
    const f = node.op === 'MaxPool' ? tf.maxPool : tf.avgPool;
    return f(x.t as tf.Tensor4D, win.kernel, win.strides, 'valid');
  }

  private batchNorm(node: Node, [x, scale, shift, mean, variance]: Val[], training: boolean, updates: [tf.Variable, tf.Tensor][]): Val {
    const eps = floatAttr(node, 'epsilon', 1e-5);
    let m = mean!.t;
    let v = variance!.t;
    if (training) {
      const axes = x!.t.rank === 4 ? [0, 1, 2] : [0];
      const moments = tf.moments(x!.t, axes);
      m = moments.mean;
      v = moments.variance;
      for (const [name, batch] of [[node.inputs[3]!, m], [node.inputs[4]!, v]] as const) {
        const running = this.stats.get(name)!;
        updates.push([running, tf.keep(tf.add(tf.mul(running, 1 - BN_MOMENTUM), tf.mul(batch, BN_MOMENTUM)))]);
      }
    }
    return { t: tf.batchNorm(x!.t, m, v, shift!.t, scale!.t, eps), nhwc: x!.nhwc };
  }

  /** Copies the trained weights and statistics back into the IR graph's initializers. */
  writeBack(): void {
    for (const [name, v] of [...this.params, ...this.stats]) {
      this.graph.initializers.set(name, { dims: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
    }
  }

  /** Frees every tensor this object holds. */
  dispose(): void {
    for (const t of [...this.params.values(), ...this.stats.values(), ...this.constants.values()]) t.dispose();
  }
}
