import { broadcastIndex, broadcastShapes } from '../../core/broadcast.ts';
import { LuxcertError } from '../../core/errors.ts';
import { floatAttr, intAttr } from '../attrs.ts';
import type { OpDef } from '../op.ts';

/** Y = alpha·op(A)·op(B) + beta·C, op = optional transpose; A and B are 2-D. */
export const Gemm: OpDef = {
  op: 'Gemm',
  inferShapes(node, [a, b, c]) {
    if (a!.length !== 2 || b!.length !== 2) throw new LuxcertError(`Gemm node '${node.name}': A and B must be 2-D, got [${a}] and [${b}]`);
    const ta = intAttr(node, 'transA', 0) === 1;
    const tb = intAttr(node, 'transB', 0) === 1;
    const [m, ka] = ta ? [a![1]!, a![0]!] : [a![0]!, a![1]!];
    const [kb, n] = tb ? [b![1]!, b![0]!] : [b![0]!, b![1]!];
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
      throw new LuxcertError(`Gemm node '${node.name}': inner dimensions differ (${ka} vs ${kb})`);
    }
    const y = [m, n];
    if (c) {
      const bc = broadcastShapes(y, c, `Gemm node '${node.name}'`);
      if (bc.length !== 2 || bc[1] !== n) throw new LuxcertError(`Gemm node '${node.name}': C of shape [${c}] does not broadcast to [${y}]`);
    }
    return [y];
  },
  evaluate(node, [a, b, c]) {
    const ta = intAttr(node, 'transA', 0) === 1;
    const tb = intAttr(node, 'transB', 0) === 1;
    const alpha = floatAttr(node, 'alpha', 1);
    const beta = floatAttr(node, 'beta', 1);
    const [M, K] = ta ? [a!.dims[1]!, a!.dims[0]!] : [a!.dims[0]!, a!.dims[1]!];
    const N = tb ? b!.dims[0]! : b!.dims[1]!;
    const ad = a!.data;
    const bd = b!.data;
    const out = new Float32Array(M * N);
    const cIdx = c ? broadcastIndex(c.dims, [M, N]) : undefined;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = ta ? ad[k * M + i]! : ad[i * K + k]!;
          const bv = tb ? bd[j * K + k]! : bd[k * N + j]!;
          acc += av * bv;
        }
        let y = alpha * acc;
        if (c) y += beta * c.data[cIdx![i * N + j]!]!;
        out[i * N + j] = y;
      }
    }
    return [{ dims: [M, N], data: out }];
  },
  flops(node, [a, , c], [y]) {
    const k = intAttr(node, 'transA', 0) === 1 ? a![0]! : a![1]!;
    return y![0]! * y![1]! * (2 * k + (c ? 1 : 0));
  },
};
