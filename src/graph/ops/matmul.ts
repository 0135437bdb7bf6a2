import { broadcastIndex, broadcastShapes } from '../../core/broadcast.ts';
import { LuxcertError } from '../../core/errors.ts';
import { sizeOf, type Dim } from '../../core/tensor.ts';
import type { OpDef } from '../op.ts';

/** numpy matmul semantics: 1-D operands are promoted and the added axis removed. */
function matmulShape(where: string, a: Dim[], b: Dim[]): { batch: Dim[]; m: Dim; k: Dim; n: Dim; out: Dim[] } {
  if (a.length === 0 || b.length === 0) throw new LuxcertError(`${where}: MatMul operands must have rank ≥ 1`);
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const m = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const kb = b2[b2.length - 2]!;
  const n = b2[b2.length - 1]!;
  if (typeof k === 'number' && typeof kb === 'number' && k !== kb) throw new LuxcertError(`${where}: inner dimensions differ (${k} vs ${kb})`);
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2), where);
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(m);
  if (b.length > 1) out.push(n);
  return { batch, m, k, n, out };
}

/** Matrix product with numpy broadcasting over leading dimensions. */
export const MatMul: OpDef = {
  op: 'MatMul',
  inferShapes(node, [a, b]) {
    return [matmulShape(`MatMul node '${node.name}'`, a!, b!).out];
  },
  evaluate(node, [a, b]) {
    const s = matmulShape(`MatMul node '${node.name}'`, a!.dims, b!.dims);
    const [M, K, N] = [s.m as number, s.k as number, s.n as number];
    const batch = s.batch as number[];
    const aBatch = (a!.dims.length === 1 ? [] : a!.dims.slice(0, -2));
    const bBatch = (b!.dims.length === 1 ? [] : b!.dims.slice(0, -2));
    const ai = broadcastIndex(aBatch, batch);
    const bi = broadcastIndex(bBatch, batch);
    const nb = sizeOf(batch);
    const out = new Float32Array(nb * M * N);
    for (let t = 0; t < nb; t++) {
      const ao = ai[t]! * M * K;
      const bo = bi[t]! * K * N;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += a!.data[ao + i * K + k]! * b!.data[bo + k * N + j]!;
          out[t * M * N + i * N + j] = acc;
        }
      }
    }
    return [{ dims: s.out as number[], data: out }];
  },
  flops(node, [a, b]) {
    const s = matmulShape(`MatMul node '${node.name}'`, a!, b!);
    return 2 * sizeOf(s.batch as number[]) * (s.m as number) * (s.k as number) * (s.n as number);
  },
};
