import { LuxcertError } from './errors.ts';
import { stridesOf, sizeOf, type Dim, type Shape } from './tensor.ts';

/** Multidirectional (numpy) broadcast of two shapes; `where` names the node for errors. */
export function broadcastShapes(a: Shape, b: Shape, where: string): Shape {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === 'string') out.push(db);
    else if (typeof db === 'string') out.push(da);
    else throw new LuxcertError(`${where}: shapes [${a}] and [${b}] cannot be broadcast`);
  }
  return out;
}

/** For each output element, the flat index into an input of shape `inDims` broadcast to `outDims`. */
export function broadcastIndex(inDims: readonly number[], outDims: readonly number[]): Int32Array {
  const total = sizeOf(outDims);
  const idx = new Int32Array(total);
  const rank = outDims.length;
  const padded = new Array<number>(rank - inDims.length).fill(1).concat(inDims);
  const inStrides = stridesOf(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let i = 0; i < total; i++) {
    idx[i] = offset;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]!++;
      offset += inStrides[d]!;
      if (counter[d]! < outDims[d]!) break;
      offset -= inStrides[d]! * counter[d]!;
      counter[d] = 0;
    }
  }
  return idx;
}
