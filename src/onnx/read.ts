import { readFileSync, statSync } from 'node:fs';
import { LuxcertError } from '../core/errors.ts';
import type { Graph, Node } from '../graph/graph.ts';
import type { OnnxNodeView } from '../graph/op.ts';
import { OPS } from '../graph/ops/registry.ts';
import { simplifyGraph } from '../graph/passes/simplify.ts';
import { checkValueSizes, validateGraph } from '../graph/validate.ts';
import { foldConstants } from './fold-constants.ts';
import { num, onnx, type P } from './proto.ts';
import { decodeAttr, decodeShape, decodeTensor, type RawModel, type RawTensor } from './raw-model.ts';

/** Decodes ONNX bytes into a RawModel; `source` (a path) names the file in errors. */
export function decodeOnnx(bytes: Uint8Array, source: string): RawModel {
  let model: P.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new LuxcertError(`${source}: not a valid ONNX file (${(e as Error).message}; truncated or not ONNX?)`);
  }
  const g = model.graph;
  if (!g || !model.irVersion || (g.node ?? []).length === 0) throw new LuxcertError(`${source}: not an ONNX model (no graph or IR version found)`);
  const opsetEntry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = opsetEntry ? num(opsetEntry.version) : 0;
  if (opset < 7) throw new LuxcertError(`${source}: default-domain opset ${opset || 'missing'} is too old (luxcert reads opsets 7 to 17+)`);

  const initializers = new Map<string, RawTensor>();
  for (const t of g.initializer ?? []) initializers.set(t.name ?? '', decodeTensor(t, `${source}: initializer '${t.name}'`));
  const nodes: Node[] = [];
  const domains = new Map<string, string>();
  const names = new Set<string>();
  (g.node ?? []).forEach((n, i) => {
    const op = n.opType ?? '';
    let name = n.name || `${op}_${i}`;
    while (names.has(name)) name = `${name}_${i}`;
    names.add(name);
    const where = `${source}: node '${name}' (${op})`;
    if (n.domain && n.domain !== 'ai.onnx') domains.set(name, n.domain);
    if (op === 'Constant' && !domains.has(name)) {
      // Constants become initializers, so every later stage sees one kind of constant.
      const a = (n.attribute ?? [])[0];
      if (!a) throw new LuxcertError(`${where}: Constant without a value`);
      const v = decodeAttr(a, where);
      const t: RawTensor = typeof v === 'object' && !Array.isArray(v) ? v
        : { dtype: a.name?.includes('float') ? 'float32' : 'int64', dims: Array.isArray(v) ? [v.length] : [], values: Array.isArray(v) ? v : [v as number] };
      if (t.dtype === 'float32' && !(t.values instanceof Float32Array)) t.values = Float32Array.from(t.values);
      initializers.set(n.output?.[0] ?? '', t);
      return;
    }
    const attrs: Node['attrs'] = {};
    for (const a of n.attribute ?? []) {
      const v = decodeAttr(a, where);
      if (typeof v === 'object' && !Array.isArray(v)) {
        // Only ConstantOfShape's fill value is a tensor attribute luxcert reads; the node is folded away.
        if (op !== 'ConstantOfShape' || v.values.length !== 1) throw new LuxcertError(`${where}: tensor attribute ${a.name} is not supported`);
        attrs[a.name ?? ''] = v.values[0]!;
        attrs.value_dtype = v.dtype;
      } else attrs[a.name ?? ''] = v;
    }
    nodes.push({ op, name, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs });
  });
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const inputs = (g.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map((v) => {
    const elem = v.type?.tensorType?.elemType;
    if (elem !== FLOAT) throw new LuxcertError(`${source}: graph input '${v.name}' has element type ${onnx.TensorProto.DataType[elem ?? 0]}; luxcert models take float32 images`);
    return { name: v.name ?? '', shape: decodeShape(v) };
  });
  const raw: RawModel = {
    source,
    irVersion: num(model.irVersion),
    opset,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    graphName: g.name || 'graph',
    inputs,
    outputs: (g.output ?? []).map((v) => ({ name: v.name ?? '', shape: decodeShape(v) })),
    nodes,
    domains,
    initializers,
    metadata,
  };
  foldConstants(raw);
  return raw;
}

/** Nodes whose operator luxcert cannot read, as `Op (node 'name')`. */
export function unsupportedNodes(raw: RawModel): { op: string; node: string }[] {
  return raw.nodes
    .filter((n) => raw.domains.has(n.name) || !OPS.has(n.op))
    .map((n) => ({ op: raw.domains.has(n.name) ? `${raw.domains.get(n.name)}.${n.op}` : n.op, node: n.name }));
}

/** Options for turning a decoded model into the IR. */
export interface ToGraphOptions {
  /** Remove Identity nodes and fold BatchNormalization (default true). */
  simplify?: boolean;
}

/**
 * Refuses NaN in any numeric attribute (a NaN epsilon, scale or bound poisons every value after
 * it), and ±Infinity except as Clip's bounds, where it means "unbounded".
 */
function checkFiniteAttrs(n: Node, source: string): void {
  for (const [key, v] of Object.entries(n.attrs)) {
    const values = typeof v === 'number' ? [v] : Array.isArray(v) ? v : [];
    const unbounded = n.op === 'Clip' && (key === 'min' || key === 'max');
    const bad = values.find((x) => Number.isNaN(x) || (!unbounded && !Number.isFinite(x)));
    if (bad !== undefined) throw new LuxcertError(`${source}: node '${n.name}' (${n.op}) attribute ${key} is ${bad}; luxcert refuses non-finite parameters`);
  }
}

/** Canonicalises a RawModel into a validated IR graph. */
export function rawToGraph(raw: RawModel, options: ToGraphOptions = {}): Graph {
  const bad = unsupportedNodes(raw);
  if (bad.length > 0) {
    const list = bad.map((b) => `${b.op} (node '${b.node}')`).join(', ');
    throw new LuxcertError(`${raw.source}: unsupported operator${bad.length > 1 ? 's' : ''} ${list}`);
  }
  const constant = (input: string) => {
    const t = raw.initializers.get(input);
    return t ? Array.from(t.values) : undefined;
  };
  const nodes = raw.nodes.map((n) => {
    const def = OPS.get(n.op)!;
    const view: OnnxNodeView = { node: n, opset: raw.opset, constant };
    const c = def.fromOnnx ? def.fromOnnx(view) : { ...n };
    // Trailing absent optional inputs carry no meaning once canonical.
    while (c.inputs.length > 0 && c.inputs[c.inputs.length - 1] === '') c.inputs.pop();
    if (c.inputs.includes('')) throw new LuxcertError(`${raw.source}: node '${n.name}' (${n.op}) leaves out an input luxcert needs`);
    return c;
  });
  const initializers: Graph['initializers'] = new Map();
  const used = new Map<string, Node>();
  for (const n of nodes) for (const i of n.inputs) if (!used.has(i)) used.set(i, n);
  for (const [name, t] of raw.initializers) {
    const user = used.get(name);
    if (!user) continue;
    if (!(t.values instanceof Float32Array)) {
      throw new LuxcertError(`${raw.source}: initializer '${name}' is ${t.dtype} but node '${user.name}' (${user.op}) reads it as float32`);
    }
    const bad = t.values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new LuxcertError(`${raw.source}: initializer '${name}' holds ${t.values[bad]} at index ${bad}; luxcert refuses models with non-finite weights`);
    initializers.set(name, { dims: t.dims, data: t.values });
  }
  for (const n of nodes) checkFiniteAttrs(n, raw.source);
  const graph: Graph = {
    name: raw.graphName,
    inputs: raw.inputs.map((v) => ({ ...v, shape: [...v.shape] })),
    outputs: raw.outputs.map((v) => ({ ...v, shape: [...v.shape] })),
    initializers,
    nodes,
    metadata: { ...raw.metadata },
  };
  try {
    checkValueSizes(validateGraph(graph));
    if (options.simplify !== false) {
      simplifyGraph(graph);
      validateGraph(graph);
    }
  } catch (e) {
    if (e instanceof LuxcertError) throw new LuxcertError(`${raw.source}: ${e.message}`);
    throw e;
  }
  return graph;
}

/** Reads an ONNX file into the IR; every failure is a one-line LuxcertError naming the file. */
export function readOnnxFile(path: string, options: ToGraphOptions = {}): Graph {
  return rawToGraph(decodeOnnx(readModelBytes(path), path), options);
}

/** The bytes of a model file, with a clear error for a missing path or a directory. */
export function readModelBytes(path: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new LuxcertError(`${path}: no such file`);
  }
  if (!st.isFile()) throw new LuxcertError(`${path}: not a file`);
  return readFileSync(path);
}
