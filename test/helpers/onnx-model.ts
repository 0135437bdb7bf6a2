import { onnx, type P } from '../../src/onnx/proto.ts';

const T = onnx.AttributeProto.AttributeType;

/** An attribute for a hand-written ONNX node. */
export function attr(name: string, v: number | number[] | string, float = false): P.IAttributeProto {
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return float ? { name, type: T.FLOATS, floats: v } : { name, type: T.INTS, ints: v };
  return float ? { name, type: T.FLOAT, f: v } : { name, type: T.INT, i: v };
}

/** A float32 TensorProto stored in float_data (not raw_data), as some exporters write it. */
export function floatTensor(name: string, dims: number[], values: number[]): P.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values };
}

/** An int64 TensorProto stored in int64_data. */
export function intTensor(name: string, dims: number[], values: number[]): P.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: values };
}

function info(name: string, dims: (number | string)[]): P.IValueInfoProto {
  return { name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

/** Serialises a hand-written single-graph ONNX model. */
export function onnxModel(spec: {
  opset: number;
  nodes: P.INodeProto[];
  initializers?: P.ITensorProto[];
  inputs: [string, (number | string)[]][];
  outputs: [string, (number | string)[]][];
}): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: spec.opset }],
      producerName: 'luxcert-test',
      graph: {
        name: 'hand_written',
        node: spec.nodes,
        initializer: spec.initializers ?? [],
        input: spec.inputs.map(([n, d]) => info(n, d)),
        output: spec.outputs.map(([n, d]) => info(n, d)),
      },
    }),
  ).finish();
}
