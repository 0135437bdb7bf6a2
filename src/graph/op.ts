import type { Shape, Tensor } from '../core/tensor.ts';
import type { Attrs, Node } from './graph.ts';

/** How an ONNX node looks to an operator while it is being read into the IR. */
export interface OnnxNodeView {
  /** The node as written in the file: absent optional inputs are ''. */
  node: Node;
  /** The default-domain opset of the model. */
  opset: number;
  /** The value of an input that is an initializer or a Constant output, else undefined. */
  constant(input: string): number[] | undefined;
}

/** A constant input an operator needs in ONNX form but keeps as an attribute in the IR. */
export interface OnnxConstInput {
  suffix: string;
  dtype: 'int64' | 'float32';
  dims: number[];
  values: number[];
}

/**
 * One operator: how it is read from and written to ONNX, its shape rule, its reference
 * evaluation and its cost, side by side (later stages add their rules beside these).
 */
export interface OpDef {
  readonly op: string;
  /** Canonicalise an ONNX node (opset differences, constant inputs moved into attrs). */
  fromOnnx?(view: OnnxNodeView): Node;
  /** The opset-17 ONNX form of an IR node. */
  toOnnx?(node: Node): { inputs: (string | OnnxConstInput)[]; attrs: Attrs };
  /** Output shapes from input shapes; throws a LuxcertError naming the node on mismatch. */
  inferShapes(node: Node, inputs: Shape[]): Shape[];
  /** Reference evaluation in plain TypeScript (float64 accumulation, float32 results). */
  evaluate(node: Node, inputs: Tensor[]): Tensor[];
  /** Floating-point operations for one evaluation (a multiply-add counts 2). */
  flops(node: Node, inputs: number[][], outputs: number[][]): number;
}
