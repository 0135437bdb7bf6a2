import { writeFileAtomic } from '../core/atomic-write.ts';
import type { Shape } from '../core/tensor.ts';
import { LUXCERT_VERSION } from '../core/version.ts';
import type { AttrValue, Graph } from '../graph/graph.ts';
import type { OnnxConstInput } from '../graph/op.ts';
import { opOf, validateGraph } from '../graph/validate.ts';
import { onnx, type P } from './proto.ts';

/** The opset luxcert writes. */
export const WRITE_OPSET = 17;

/** IR attributes written as FLOAT; every other number is an INT (no supported op has float lists). */
export const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon']);

function encodeAttr(name: string, v: AttrValue): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return FLOAT_ATTRS.has(name) ? { name, type: T.FLOAT, f: v } : { name, type: T.INT, i: v };
}

function valueInfo(name: string, shape: Shape): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function floatTensor(name: string, dims: number[], data: Float32Array): P.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function constTensor(name: string, c: OnnxConstInput): P.ITensorProto {
  if (c.dtype === 'float32') return floatTensor(name, c.dims, Float32Array.from(c.values));
  const data = BigInt64Array.from(c.values, (v) => BigInt(v));
  return { name, dims: c.dims, dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) };
}

/** Serialises an IR graph as an opset-17 ONNX model that onnxruntime loads. */
export function encodeOnnx(graph: Graph): Uint8Array {
  validateGraph(graph);
  const initializer: P.ITensorProto[] = [...graph.initializers].map(([k, t]) => floatTensor(k, t.dims, t.data));
  const taken = new Set<string>([...graph.initializers.keys(), ...graph.nodes.flatMap((n) => n.outputs), ...graph.inputs.map((i) => i.name)]);
  const node: P.INodeProto[] = graph.nodes.map((n) => {
    const def = opOf(n);
    const form = def.toOnnx ? def.toOnnx(n) : { inputs: n.inputs, attrs: n.attrs };
    const input = form.inputs.map((i) => {
      if (typeof i === 'string') return i;
      let name = `${n.name}.${i.suffix}`;
      while (taken.has(name)) name += '_';
      taken.add(name);
      initializer.push(constTensor(name, i));
      return name;
    });
    return { name: n.name, opType: n.op, input, output: n.outputs, attribute: Object.entries(form.attrs).map(([k, v]) => encodeAttr(k, v)) };
  });
  const model: P.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: WRITE_OPSET }],
    producerName: 'luxcert',
    producerVersion: LUXCERT_VERSION,
    graph: {
      name: graph.name,
      node,
      initializer,
      input: graph.inputs.map((v) => valueInfo(v.name, v.shape)),
      output: graph.outputs.map((v) => valueInfo(v.name, v.shape)),
    },
    metadataProps: Object.entries(graph.metadata).map(([key, value]) => ({ key, value })),
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Writes an IR graph to an ONNX file atomically. */
export function writeOnnxFile(path: string, graph: Graph): void {
  writeFileAtomic(path, encodeOnnx(graph));
}
