import { LuxcertError } from '../core/errors.ts';
import { MAX_TENSOR_ELEMENTS, sizeOf, stridesOf } from '../core/tensor.ts';
import type { Node } from '../graph/graph.ts';
import type { RawModel, RawTensor } from './raw-model.ts';

/**
 * Shape-arithmetic operators that exporters emit on constants (PyTorch's F.pad builds its pads
 * with ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast). They are evaluated at import so the
 * IR only ever sees constant pads and shapes.
 */
const FOLDABLE = new Set(['Cast', 'ConstantOfShape', 'Concat', 'Reshape', 'Slice', 'Transpose', 'Unsqueeze', 'Squeeze', 'Gather']);

const ONNX_DTYPES: Record<number, string> = { 1: 'float32', 6: 'int32', 7: 'int64', 11: 'float64' };

function make(dtype: string, dims: number[], values: ArrayLike<number>): RawTensor {
  return { dtype, dims, values: dtype === 'float32' ? Float32Array.from(values) : Array.from(values) };
}

/** Values of `t` at the cartesian product of per-axis index lists, in row-major order. */
function pick(t: RawTensor, index: number[][]): number[] {
  const strides = stridesOf(t.dims);
  const out: number[] = [];
  const walk = (axis: number, offset: number) => {
    if (axis === index.length) {
      out.push(t.values[offset]!);
      return;
    }
    for (const i of index[axis]!) walk(axis + 1, offset + i * strides[axis]!);
  };
  walk(0, 0);
  return out;
}

const axisOf = (a: number, rank: number) => (a < 0 ? a + rank : a);
const all = (n: number) => Array.from({ length: n }, (_, i) => i);

function foldNode(n: Node, ins: RawTensor[], opset: number): RawTensor {
  const x = ins[0]!;
  const ints = (i: number, attr: string): number[] | undefined => (ins[i] ? Array.from(ins[i]!.values) : (n.attrs[attr] as number[] | undefined));
  switch (n.op) {
    case 'Cast': {
      const to = ONNX_DTYPES[n.attrs.to as number];
      if (!to) throw new LuxcertError(`node '${n.name}' (Cast): target type ${n.attrs.to} is not supported`);
      return make(to, x.dims, to === 'float32' || to === 'float64' ? x.values : Array.from(x.values, Math.trunc));
    }
    case 'ConstantOfShape': {
      const dims = Array.from(x.values);
      if (!dims.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(dims) > MAX_TENSOR_ELEMENTS) throw new LuxcertError(`node '${n.name}' (ConstantOfShape): shape [${dims}] is not a valid shape of at most ${MAX_TENSOR_ELEMENTS} elements`);
      const dtype = (n.attrs.value_dtype as string | undefined) ?? 'float32';
      return make(dtype, dims, new Array<number>(sizeOf(dims)).fill((n.attrs.value as number | undefined) ?? 0));
    }
    case 'Concat': {
      const axis = axisOf(n.attrs.axis as number, x.dims.length);
      const outer = sizeOf(x.dims.slice(0, axis));
      const values: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const t of ins) {
          const block = sizeOf(t.dims.slice(axis));
          values.push(...Array.from(t.values).slice(o * block, (o + 1) * block));
        }
      }
      const dims = [...x.dims];
      dims[axis] = ins.reduce((a, t) => a + t.dims[axis]!, 0);
      return make(x.dtype, dims, values);
    }
    case 'Reshape': {
      const target = Array.from(ins[1]!.values).map((d, i) => (d === 0 ? x.dims[i]! : d));
      const known = sizeOf(target.filter((d) => d !== -1));
      return make(x.dtype, target.map((d) => (d === -1 ? x.values.length / known : d)), x.values);
    }
    case 'Transpose': {
      const perm = (n.attrs.perm as number[] | undefined) ?? all(x.dims.length).reverse();
      const strides = stridesOf(x.dims);
      const dims = perm.map((p) => x.dims[p]!);
      const out: number[] = [];
      const walk = (axis: number, offset: number) => {
        if (axis === perm.length) return void out.push(x.values[offset]!);
        for (let i = 0; i < dims[axis]!; i++) walk(axis + 1, offset + i * strides[perm[axis]!]!);
      };
      walk(0, 0);
      return make(x.dtype, dims, out);
    }
    case 'Slice': {
      const starts = opset < 10 ? (n.attrs.starts as number[]) : Array.from(ins[1]!.values);
      const ends = opset < 10 ? (n.attrs.ends as number[]) : Array.from(ins[2]!.values);
      const axes = (opset < 10 ? (n.attrs.axes as number[] | undefined) : ins[3] && Array.from(ins[3].values)) ?? all(starts.length);
      const steps = (opset < 10 ? undefined : ins[4] && Array.from(ins[4].values)) ?? starts.map(() => 1);
      const index = x.dims.map((d) => all(d));
      axes.forEach((a0, k) => {
        const a = axisOf(a0, x.dims.length);
        const d = x.dims[a]!;
        const step = steps[k]!;
        const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
        const lo = step > 0 ? clamp(starts[k]!, 0, d) : clamp(starts[k]!, -1, d - 1);
        const hi = step > 0 ? clamp(ends[k]!, 0, d) : clamp(ends[k]!, -1, d - 1);
        const idx: number[] = [];
        for (let i = lo; step > 0 ? i < hi : i > hi; i += step) idx.push(i);
        index[a] = idx;
      });
      return make(x.dtype, index.map((l) => l.length), pick(x, index));
    }
    case 'Unsqueeze': {
      const axes = ints(1, 'axes')!;
      const rank = x.dims.length + axes.length;
      const dims = [...x.dims];
      for (const a of axes.map((a) => axisOf(a, rank)).sort((p, q) => p - q)) dims.splice(a, 0, 1);
      return make(x.dtype, dims, x.values);
    }
    case 'Squeeze': {
      const axes = (ints(1, 'axes') ?? all(x.dims.length).filter((i) => x.dims[i] === 1)).map((a) => axisOf(a, x.dims.length));
      return make(x.dtype, x.dims.filter((_, i) => !axes.includes(i)), x.values);
    }
    case 'Gather': {
      const axis = axisOf((n.attrs.axis as number | undefined) ?? 0, x.dims.length);
      const idx = Array.from(ins[1]!.values, (i) => (i < 0 ? i + x.dims[axis]! : i));
      const index = x.dims.map((d, a) => (a === axis ? idx : all(d)));
      const dims = [...x.dims.slice(0, axis), ...ins[1]!.dims, ...x.dims.slice(axis + 1)];
      return make(x.dtype, dims, pick(x, index));
    }
  }
  throw new Error(`not foldable: ${n.op}`);
}

/** Evaluates foldable nodes whose inputs are all constants, turning their outputs into initializers. */
export function foldConstants(raw: RawModel): void {
  const kept: Node[] = [];
  for (const n of raw.nodes) {
    const inputs = n.inputs.filter((i) => i !== '');
    if (!FOLDABLE.has(n.op) || raw.domains.has(n.name) || !inputs.every((i) => raw.initializers.has(i))) {
      kept.push(n);
      continue;
    }
    const ins = n.inputs.map((i) => raw.initializers.get(i)!);
    try {
      raw.initializers.set(n.outputs[0]!, foldNode(n, ins, raw.opset));
    } catch (e) {
      if (e instanceof LuxcertError) throw new LuxcertError(`${raw.source}: ${e.message}`);
      throw new LuxcertError(`${raw.source}: node '${n.name}' (${n.op}): cannot evaluate on its constant inputs (${(e as Error).message})`);
    }
  }
  raw.nodes = kept;
}
