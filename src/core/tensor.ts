/** A dimension: a number, or a name for a dimension only known at run time (the batch). */
export type Dim = number | string;
export type Shape = Dim[];

/** A dense float32 tensor in row-major order; the only tensor kind the IR computes with. */
export interface Tensor {
  dims: number[];
  data: Float32Array;
}

/**
 * The most elements one model value may have per batch item (256 MiB of float32): a bound that
 * keeps a small hostile file (a huge Pad, a ConstantOfShape of [1e9]) from exhausting memory.
 */
export const MAX_TENSOR_ELEMENTS = 1 << 26;

/** Number of elements of a fully known shape. */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Row-major strides of a shape. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** A new tensor of zeros, or wrapping `data` when given. */
export function tensor(dims: number[], data?: Float32Array | number[]): Tensor {
  const n = sizeOf(dims);
  const d = data === undefined ? new Float32Array(n) : data instanceof Float32Array ? data : Float32Array.from(data);
  if (d.length !== n) throw new Error(`tensor data has ${d.length} elements, shape [${dims}] needs ${n}`);
  return { dims: [...dims], data: d };
}

/** Shape as text, e.g. `[batch,3,64,64]`. */
export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.join(',')}]`;
}

/** Largest |a−b| divided by the largest |b| (so values near zero do not inflate it). */
export function maxRelativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) diff = d; // also catches NaN
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}
