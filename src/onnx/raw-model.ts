import { LuxcertError } from '../core/errors.ts';
import type { Shape } from '../core/tensor.ts';
import type { AttrValue, Node, ValueInfo } from '../graph/graph.ts';
import { num, onnx, type P } from './proto.ts';

type ITensor = P.ITensorProto;
const DT = onnx.TensorProto.DataType;

/** An ONNX tensor decoded to numbers: float32 data stays a Float32Array. */
export interface RawTensor {
  dtype: string;
  dims: number[];
  values: Float32Array | number[];
}

/** An ONNX model decoded but not yet turned into the IR: every node, supported or not. */
export interface RawModel {
  source: string;
  irVersion: number;
  opset: number;
  producer: string;
  graphName: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  /** Node names with their non-default operator domain. */
  domains: Map<string, string>;
  initializers: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

function typedView<T>(raw: Uint8Array, ctor: { new (b: ArrayBuffer): T }): T {
  // Copy: protobuf hands out unaligned views (Buffer.slice does not copy).
  return new ctor(Uint8Array.from(raw).buffer);
}

/** Decodes an ONNX TensorProto; `what` names it in errors. */
export function decodeTensor(t: ITensor, what: string): RawTensor {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new LuxcertError(`${what} uses external data, which luxcert does not read (re-export with the weights inside the file)`);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  let dtype: string;
  let values: Float32Array | number[];
  switch (t.dataType) {
    case DT.FLOAT:
      dtype = 'float32';
      values = raw ? typedView(raw, Float32Array) : Float32Array.from(t.floatData ?? []);
      break;
    case DT.DOUBLE:
      dtype = 'float64';
      values = raw ? Array.from(typedView(raw, Float64Array)) : [...(t.doubleData ?? [])];
      break;
    case DT.INT64:
      dtype = 'int64';
      values = raw ? Array.from(typedView(raw, BigInt64Array), Number) : (t.int64Data ?? []).map(num);
      break;
    case DT.INT32:
      dtype = 'int32';
      values = raw ? Array.from(typedView(raw, Int32Array)) : [...(t.int32Data ?? [])];
      break;
    default:
      throw new LuxcertError(`${what} has data type ${DT[t.dataType ?? 0] ?? t.dataType}, which luxcert does not read`);
  }
  if (raw && raw.length % (dtype === 'float32' || dtype === 'int32' ? 4 : 8) !== 0) throw new LuxcertError(`${what}: raw data of ${raw.length} bytes is truncated`);
  if (values.length !== count) throw new LuxcertError(`${what}: shape [${dims}] needs ${count} values, the file holds ${values.length} (truncated?)`);
  return { dtype, dims, values };
}

/** Decodes a node attribute to an IR value; tensors only occur on Constant nodes. */
export function decodeAttr(a: P.IAttributeProto, where: string): AttrValue | RawTensor {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT: return a.f ?? 0;
    case T.INT: return num(a.i);
    case T.STRING: return new TextDecoder().decode(a.s ?? new Uint8Array());
    case T.FLOATS: return [...(a.floats ?? [])];
    case T.INTS: return (a.ints ?? []).map(num);
    case T.TENSOR: return decodeTensor(a.t ?? {}, `${where} attribute ${a.name}`);
    default: throw new LuxcertError(`${where}: attribute ${a.name} has a type luxcert does not read (${T[a.type ?? 0] ?? a.type})`);
  }
}

/** Shape of an ONNX value info; unknown dimensions get a name. */
export function decodeShape(v: P.IValueInfoProto): Shape {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d, i) => {
    const which = (d as P.TensorShapeProto.Dimension).value;
    if (which === 'dimValue') return num(d.dimValue);
    return which === 'dimParam' && d.dimParam ? d.dimParam : `${v.name}_dim${i}`;
  });
}
