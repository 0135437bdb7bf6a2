import type { Node } from '../../graph/graph.ts';
import type { OnnxEmitter } from '../../onnx/emit.ts';

/** What a gradient rule sees of one forward node, as emitted into the training step. */
export interface GradContext {
  e: OnnxEmitter;
  node: Node;
  /** The emitted names of the node's inputs (weights are step inputs, constants initializers). */
  ins: string[];
  /** Static shapes of the inputs and of the output (the step's batch is static). */
  inShapes: number[][];
  outShape: number[];
  /** onnxruntime's NCHWc block for convolutions (`emitConv`); 1: plain. */
  convBlock: number;
}

/** What the training-mode forward emission of a node produced. */
export interface ForwardResult {
  out: string;
  /** Values the backward rule needs beyond inputs and output. */
  saved?: Record<string, string>;
  /** New values for running statistics, by input index (BatchNorm's mean and variance). */
  updates?: Map<number, string>;
}

/**
 * How an operator trains: which inputs are weights, its forward in training mode (the ONNX operator
 * itself unless the rule says otherwise), and reverse-mode differentiation. Rules emit ONNX nodes.
 */
export interface GradRule {
  /** Input indices that are trained when they are initializers (Conv's weight and bias, …). */
  params?: readonly number[];
  /** Input indices that are running statistics, updated by training forward passes. */
  statistics?: readonly number[];
  forward?(ctx: GradContext): ForwardResult;
  /** Gradients of the loss with respect to each input for which `needs` is true, given the output's gradient `dy`. */
  backward(ctx: GradContext, fwd: ForwardResult, dy: string, needs: boolean[]): (string | undefined)[];
}

/** Sums a gradient of shape `from` over the axes broadcasting added, back to shape `to`. */
export function unbroadcast(e: OnnxEmitter, g: string, from: number[], to: number[]): string {
  const lead = from.length - to.length;
  const axes = from.flatMap((d, i) => (i < lead || (to[i - lead] === 1 && d !== 1) ? [i] : []));
  const summed = axes.length ? e.op('ReduceSum', [g, e.ints(axes)], { keepdims: 1 }) : g;
  return from.length === to.length && axes.length === 0 ? g : e.op('Reshape', [summed, e.ints(to)]);
}

/** A tensor's shape as it multiplies per-channel vectors: [1, C, 1, 1] for NCHW, [1, C] for [N, C]. */
export function channelShape(shape: number[]): number[] {
  return shape.map((d, i) => (i === 1 ? d : 1));
}

/** The axes a per-channel statistic reduces over. */
export function nonChannelAxes(shape: number[]): number[] {
  return shape.flatMap((_, i) => (i === 1 ? [] : [i]));
}
