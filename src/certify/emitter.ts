import { LuxcertError } from '../core/errors.ts';
import type { Tensor } from '../core/tensor.ts';
import type { GraphBuilder } from '../graph/builder.ts';
import type { Attrs } from '../graph/graph.ts';

/** Linear functions of (α, β) as three tensors: value = a·α + b·β + c, elementwise. */
export interface Affine {
  a: string;
  b: string;
  c: string;
}

/**
 * Sound bounds on one model value over every box of the batch: lo(α, β) ≤ value ≤ hi(α, β).
 * `exact` means lo and hi are the same function (no relaxation has happened yet).
 */
export interface Bound {
  lo: Affine;
  hi: Affine;
  exact: boolean;
  rank: number;
}

/** How bounds propagate: symbolic linear functions, or plain intervals (IBP). */
export type BoundMode = 'linear' | 'ibp';

/**
 * Emits the nodes of a bound graph. Rules (one per operator family, in rules/) call these helpers;
 * the graph they build is executed by onnxruntime, by the TypeScript reference evaluator, or by tfjs.
 */
export class BoundEmitter {
  private readonly boxCache = new Map<number, { am: string; ar: string; bm: string; br: string }>();
  private readonly concreteCache = new Map<Bound, { l: string; u: string }>();
  private counter = 0;

  constructor(readonly b: GraphBuilder, readonly mode: BoundMode, readonly boxes: number, private readonly boxInputs: { alphaLo: string; alphaHi: string; betaLo: string; betaHi: string }) {}

  /** A new constant initializer. */
  constant(base: string, t: Tensor): string {
    return this.b.weight(`${base}#${this.counter++}`, t);
  }

  scalar(v: number): string {
    return this.constant('scalar', { dims: [], data: Float32Array.of(v) });
  }

  op(op: string, inputs: string[], attrs: Attrs = {}): string {
    return this.b.op(op, inputs, attrs, `b${this.counter++}_${op.toLowerCase()}`);
  }

  add(x: string, y: string): string { return this.op('Add', [x, y]); }
  sub(x: string, y: string): string { return this.op('Sub', [x, y]); }
  mul(x: string, y: string): string { return this.op('Mul', [x, y]); }
  neg(x: string): string { return this.op('Mul', [x, this.scalar(-1)]); }
  relu(x: string): string { return this.op('Relu', [x]); }
  abs(x: string): string { return this.add(this.relu(x), this.relu(this.neg(x))); }
  zerosLike(x: string): string { return this.op('Mul', [x, this.scalar(0)]); }

  /** Box centre and radius in α and β, shaped [B, 1, …] to broadcast against rank-`rank` values. */
  private box(rank: number) {
    let c = this.boxCache.get(rank);
    if (!c) {
      const shape = [this.boxes, ...new Array<number>(rank - 1).fill(1)];
      const r = (x: string) => this.op('Reshape', [x], { shape });
      const half = this.scalar(0.5);
      const { alphaLo, alphaHi, betaLo, betaHi } = this.boxInputs;
      c = {
        am: r(this.mul(this.add(alphaLo, alphaHi), half)),
        ar: r(this.mul(this.sub(alphaHi, alphaLo), half)),
        bm: r(this.mul(this.add(betaLo, betaHi), half)),
        br: r(this.mul(this.sub(betaHi, betaLo), half)),
      };
      this.boxCache.set(rank, c);
    }
    return c;
  }

  /** Minimum (sign −1) or maximum (+1) of a·α + b·β + c over each box: exact for a 2-D box. */
  private extreme(f: Affine, rank: number, sign: 1 | -1): string {
    const { am, ar, bm, br } = this.box(rank);
    const centre = this.add(this.add(this.mul(f.a, am), this.mul(f.b, bm)), f.c);
    const radius = this.add(this.mul(this.abs(f.a), ar), this.mul(this.abs(f.b), br));
    return sign > 0 ? this.add(centre, radius) : this.sub(centre, radius);
  }

  /** Constant per-box bounds [l, u] of a bound ([B, …]). */
  concretize(x: Bound): { l: string; u: string } {
    let c = this.concreteCache.get(x);
    if (!c) {
      c = { l: this.extreme(x.lo, x.rank, -1), u: this.extreme(x.hi, x.rank, 1) };
      this.concreteCache.set(x, c);
    }
    return c;
  }

  /** A bound that is the constant interval [l, u]. */
  interval(l: string, u: string, rank: number): Bound {
    const z = this.zerosLike(l);
    return { lo: { a: z, b: z, c: l }, hi: { a: z, b: z, c: u }, exact: false, rank };
  }

  /** Applies `f` to each of the six tensors of a bound (shape operations, nonnegative maps). */
  map(x: Bound, f: (t: string, part: 'a' | 'b' | 'c') => string, rank = x.rank): Bound {
    const lo = { a: f(x.lo.a, 'a'), b: f(x.lo.b, 'b'), c: f(x.lo.c, 'c') };
    return { lo, hi: x.exact ? lo : { a: f(x.hi.a, 'a'), b: f(x.hi.b, 'b'), c: f(x.hi.c, 'c') }, exact: x.exact, rank };
  }

  /**
   * Bounds of W·x + bias for a linear map W: lo' = W·mid − |W|·rad, hi' = W·mid + |W|·rad per part,
   * mid = (lo + hi)/2 and rad = (hi − lo)/2. `apply(t, abs)` emits W·t (|W|·t when abs); `bias`
   * adds the constant term to the c part.
   */
  linear(x: Bound, apply: (t: string, abs: boolean) => string, bias?: (t: string) => string, rank = x.rank): Bound {
    const withBias = (t: string, part: 'a' | 'b' | 'c') => (part === 'c' && bias ? bias(t) : t);
    if (x.exact) return this.map(x, (t, part) => withBias(apply(t, false), part), rank);
    const half = this.scalar(0.5);
    const parts = (['a', 'b', 'c'] as const).map((k) => {
      const mid = apply(this.mul(this.add(x.lo[k], x.hi[k]), half), false);
      const rad = apply(this.mul(this.sub(x.hi[k], x.lo[k]), half), true);
      return { lo: withBias(this.sub(mid, rad), k), hi: withBias(this.add(mid, rad), k) };
    });
    return { lo: { a: parts[0]!.lo, b: parts[1]!.lo, c: parts[2]!.lo }, hi: { a: parts[0]!.hi, b: parts[1]!.hi, c: parts[2]!.hi }, exact: false, rank };
  }

  /** In IBP mode, bounds collapse to intervals after every operator that is not exact. */
  settle(x: Bound): Bound {
    if (this.mode === 'linear' || x.exact) return x;
    const { l, u } = this.concretize(x);
    return this.interval(l, u, x.rank);
  }

  /**
   * ReLU relaxation per box: with l, u the concrete bounds, s = u⁺ / (u⁺ − l⁻) (1 when stable
   * active, 0 when stable inactive); lower = s·lo, upper = s'·(hi − l⁻) with s' = min(1, s·(1 + 2⁻¹⁹)),
   * so float32 rounding cannot put the chord below the ReLU (any slope in [chord, 1] is sound).
   */
  reluBound(x: Bound): Bound {
    const { l, u } = this.concretize(x);
    if (this.mode === 'ibp') return this.interval(this.relu(l), this.relu(u), x.rank);
    const up = this.relu(u);
    const lm = this.op('Clip', [l], { max: 0 });
    const den = this.op('Clip', [this.sub(up, lm)], { min: 1e-30 });
    const s = this.op('Div', [up, den]);
    const sUp = this.op('Clip', [this.mul(s, this.scalar(1 + 2 ** -19))], { max: 1 });
    const lo = { a: this.mul(x.lo.a, s), b: this.mul(x.lo.b, s), c: this.mul(x.lo.c, s) };
    const hi = { a: this.mul(x.hi.a, sUp), b: this.mul(x.hi.b, sUp), c: this.mul(this.sub(x.hi.c, lm), sUp) };
    return { lo, hi, exact: false, rank: x.rank };
  }

  /** Bound of k − x for a constant-free negation (k = 0) or a constant k. */
  negate(x: Bound): Bound {
    const n = (f: Affine): Affine => ({ a: this.neg(f.a), b: this.neg(f.b), c: this.neg(f.c) });
    return { lo: n(x.hi), hi: n(x.lo), exact: x.exact, rank: x.rank };
  }

  /** Adds a constant tensor to the c part. */
  shift(x: Bound, k: string): Bound {
    return { lo: { ...x.lo, c: this.add(x.lo.c, k) }, hi: x.exact ? { ...x.lo, c: this.add(x.lo.c, k) } : { ...x.hi, c: this.add(x.hi.c, k) }, exact: x.exact, rank: x.rank };
  }

  /** Broadcasts a tensor to the full [B, …] batch (coefficients may still be shared across boxes). */
  perBox(t: string, rank: number): string {
    return this.add(t, this.zerosLike(this.box(rank).am));
  }
}

/** Refuses what the bound rules cannot handle soundly. */
export function unsupported(op: string, node: string, why: string): never {
  throw new LuxcertError(`${op} node '${node}': cannot bound it (${why})`);
}
