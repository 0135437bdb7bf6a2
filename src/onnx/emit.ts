import { LUXCERT_VERSION } from '../core/version.ts';
import type { Tensor } from '../core/tensor.ts';
import type { Node } from '../graph/graph.ts';
import { opOf } from '../graph/validate.ts';
import { onnx, type P } from './proto.ts';
import { FLOAT_ATTRS, WRITE_OPSET } from './write.ts';

/** An attribute of an emitted node: `{ f }` is written as FLOAT, other numbers as INT. */
export type EmitAttr = number | number[] | string | { f: number };

const DT = onnx.TensorProto.DataType;

/**
 * Builds an ONNX model node by node with any operator of the opset, beyond the IR's (a training
 * step needs Transpose, ReduceSum, TopK, …). Values carry static shapes where the caller knows them.
 */
export class OnnxEmitter {
  private readonly nodes: P.INodeProto[] = [];
  private readonly inits: P.ITensorProto[] = [];
  private readonly inputs: P.IValueInfoProto[] = [];
  private readonly outputs: P.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly cache = new Map<string, string>();
  private counter = 0;
  private readonly domains = new Set<string>();

  constructor(readonly name: string) {}

  /** A name no value of the model has yet, built from `base`. */
  fresh(base: string): string {
    let n = base;
    while (this.names.has(n)) n = `${base}_${this.counter++}`;
    this.names.add(n);
    return n;
  }

  /** Declares a float32 (or int64) graph input. */
  input(name: string, dims: number[], dtype: 'float32' | 'int64' = 'float32'): string {
    if (this.names.has(name)) throw new Error(`value ${name} declared twice`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, dims, dtype === 'float32' ? DT.FLOAT : DT.INT64));
    return name;
  }

  /**
   * Marks a value as a graph output under `name`: the value is renamed when a node of this model
   * made it and `name` is free (an Identity would copy it every run), else it goes through an Identity.
   * Use the returned name afterwards: `value` may no longer exist.
   */
  output(value: string, name = value): string {
    let out = value;
    if (value !== name) {
      const maker = this.nodes.find((n) => n.output!.includes(value));
      if (maker && !this.names.has(name) && !this.outputs.some((o) => o.name === value)) {
        this.names.add(name);
        for (const n of this.nodes) {
          n.input = n.input!.map((i) => (i === value ? name : i));
          n.output = n.output!.map((o) => (o === value ? name : o));
        }
        out = name;
      } else {
        out = this.op('Identity', [value], {}, name);
      }
    }
    this.outputs.push({ name: out });
    return out;
  }

  /** A float32 initializer. */
  tensor(base: string, t: Tensor): string {
    const name = this.fresh(base);
    this.inits.push({ name, dims: t.dims, dataType: DT.FLOAT, rawData: bytes(t.data) });
    return name;
  }

  /** A float32 scalar constant (shared between uses). */
  scalar(v: number): string {
    return this.memo(`f${v}`, () => this.tensor('const', { dims: [], data: Float32Array.of(v) }));
  }

  /** A 1-D int64 constant (axes, shapes, starts), shared between uses. */
  ints(values: number[]): string {
    return this.memo(`i${values.join(',')}`, () => {
      const name = this.fresh('ints');
      this.inits.push({ name, dims: [values.length], dataType: DT.INT64, rawData: bytes(BigInt64Array.from(values, (v) => BigInt(v))) });
      return name;
    });
  }

  /** Adds a node with `outputs` results; returns their names. */
  node(op: string, inputs: string[], attrs: Record<string, EmitAttr> = {}, outputs = 1, base?: string): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh(base ?? op.toLowerCase()));
    this.nodes.push({ name: outs[0], opType: op, input: inputs, output: outs, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
    return outs;
  }

  /** Adds a node of onnxruntime's own operator set (com.microsoft: FusedMatMul, …); such models run only in onnxruntime. */
  contrib(op: string, inputs: string[], attrs: Record<string, EmitAttr> = {}, domain: 'com.microsoft' | 'com.microsoft.nchwc' = 'com.microsoft'): string {
    this.domains.add(domain);
    const out = this.fresh(op.toLowerCase());
    this.nodes.push({ name: out, opType: op, domain, input: inputs, output: [out], attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
    return out;
  }

  /** Adds a single-output node. */
  op(op: string, inputs: string[], attrs: Record<string, EmitAttr> = {}, base?: string): string {
    return this.node(op, inputs, attrs, 1, base)[0]!;
  }

  /** Emits an IR node as written to ONNX files (one definition of each operator's ONNX form) on other inputs. */
  irNode(node: Node, inputs: string[], base = node.outputs[0]!): string {
    return this.irNodeOutputs(node, inputs, 1, base)[0]!;
  }

  /** As irNode, asking the operator for `outputs` results (MaxPool's Indices, …). */
  irNodeOutputs(node: Node, inputs: string[], outputs: number, base = node.outputs[0]!): string[] {
    const def = opOf(node);
    const form = def.toOnnx ? def.toOnnx({ ...node, inputs }) : { inputs, attrs: node.attrs };
    const ins = form.inputs.map((i) => {
      if (typeof i === 'string') return i;
      if (i.dtype === 'int64') return this.ints(i.values);
      return this.tensor(`${node.name}.${i.suffix}`, { dims: i.dims, data: Float32Array.from(i.values) });
    });
    const attrs = Object.fromEntries(Object.entries(form.attrs).map(([k, v]) => [k, FLOAT_ATTRS.has(k) && typeof v === 'number' ? { f: v } : v]));
    return this.node(node.op, ins, attrs, outputs, base);
  }

  /** The model as opset-17 ONNX bytes. */
  encode(metadata: Record<string, string> = {}): Uint8Array {
    const model: P.IModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: WRITE_OPSET }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      producerName: 'luxcert',
      producerVersion: LUXCERT_VERSION,
      graph: { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }

  /** The value `make` emits, made once per key and shared between uses (constants, rearranged weights, blocked copies). */
  memo(key: string, make: () => string): string {
    let v = this.cache.get(key);
    if (v === undefined) {
      v = make();
      this.cache.set(key, v);
    }
    return v;
  }
}

function bytes(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function attr(name: string, v: EmitAttr): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.f };
  return { name, type: T.INT, i: v };
}

function valueInfo(name: string, dims: number[], elemType: number): P.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}
