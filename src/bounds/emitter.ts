import { LuxcertError } from '../core/errors.ts';
import { sizeOf, type Tensor } from '../core/tensor.ts';
import type { GraphBuilder } from '../graph/builder.ts';
import type { Attrs } from '../graph/graph.ts';

/**
 * Sound bounds on one model value over every box of the batch: lo(α, β) ≤ value ≤ hi(α, β), each a
 * linear function a·α + b·β + c per element. Both are *packed* tensors [3B, …dims]: rows 0..B−1
 * hold a, rows B..2B−1 hold b, rows 2B..3B−1 hold c (one row per box), so one Conv or Gemm moves all
 * three. `exact` means lo and hi are the same function (no relaxation has happened yet).
 */
export interface Bound {
  lo: string;
  hi: string;
  exact: boolean;
  /** The value's dimensions without the batch axis. */
  dims: number[];
}

/** How bounds propagate: symbolic linear functions, or plain intervals (IBP). */
export type BoundMode = 'linear' | 'ibp';

/** The ReLU lower line's slope: the chord's (parallel to the upper line) or CROWN-Ada's [u > −l]. */
export type LowerSlope = 'parallel' | 'adaptive';

/** How a linear rule applies its map: W·t, W/2·t or |W|/2·t (the halves fold mid/rad into the weights). */
export type ApplyKind = 'full' | 'half' | 'halfAbs';

/**
 * Emits the nodes of a bound graph. Rules (one per operator family, in rules/) call these helpers;
 * the graph they build is executed by onnxruntime or by the TypeScript reference evaluator.
 */
export class BoundEmitter {
  private readonly rankCache = new Map<number, { mvec: string; rvec: string }>();
  private readonly spanCache = new Map<string, { min: string; max: string }>();
  private counter = 0;

  constructor(readonly b: GraphBuilder, readonly mode: BoundMode, readonly boxes: number, private readonly boxInputs: { alphaLo: string; alphaHi: string; betaLo: string; betaHi: string }, readonly lowerSlope: LowerSlope) {}

  /** relu's chord over [l, u] per box: its slope s = u⁺ / (u⁺ − l⁻), with u⁺ and l⁻. */
  private chord(l: string, u: string): { s: string; up: string; lm: string } {
    const up = this.relu(u);
    const lm = this.op('Clip', [l], { max: 0 });
    return { s: this.op('Div', [up, this.op('Clip', [this.sub(up, lm)], { min: 1e-30 })]), up, lm };
  }

  /** The lower line's slope for a chord: any slope in [0, 1] is sound; adaptive is 1 where u > −l, else 0. */
  private lowerOf(c: { s: string; up: string; lm: string }): string {
    return this.lowerSlope === 'adaptive' ? this.op('Clip', [this.mul(this.add(c.up, c.lm), this.scalar(1e30))], { min: 0, max: 1 }) : c.s;
  }

  /** The upper line of a chord, tilted outwards by 2⁻¹⁹ against float32 rounding (any slope in [chord, 1] is sound): slope and offset −slope·l⁻. */
  private upperOf(c: { s: string; up: string; lm: string }): { upper: string; shift: string } {
    const upper = this.op('Clip', [this.mul(c.s, this.scalar(1 + 2 ** -19))], { max: 1 });
    return { upper, shift: this.neg(this.mul(upper, c.lm)) };
  }

  /** The per-box slopes of a ReLU's relaxation from its concrete pre-activation bounds [l, u]: lower line, chord and the chord's offset. */
  reluSlopes(l: string, u: string): { lower: string; upper: string; shift: string } {
    const c = this.chord(l, u);
    return { lower: this.lowerOf(c), ...this.upperOf(c) };
  }

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
  stack(...parts: string[]): string { return this.op('Concat', parts, { axis: 0 }); }

  /**
   * A constant [3B, …] that is `t` (broadcast over the batch) on the c rows and 0 on the a and b
   * rows: a constant term of a packed bound.
   */
  cRows(base: string, t: Tensor, rank: number): string {
    const dims = [...new Array<number>(Math.max(0, rank - 1 - t.dims.length)).fill(1), ...t.dims.slice(Math.max(0, t.dims.length - (rank - 1)))];
    const inner = sizeOf(dims);
    const data = new Float32Array(3 * this.boxes * inner);
    for (let r = 2 * this.boxes; r < 3 * this.boxes; r++) data.set(t.data.subarray(t.data.length - inner), r * inner);
    return this.constant(base, { dims: [3 * this.boxes, ...dims], data });
  }

  /** [3B, 1, …] multipliers giving centre (α_mid, β_mid, 1) and radius (α_rad, β_rad, 0) per row. */
  private boxVectors(rank: number) {
    let c = this.rankCache.get(rank);
    if (!c) {
      const shape = [3 * this.boxes, ...new Array<number>(rank - 1).fill(1)];
      const half = this.scalar(0.5);
      const { alphaLo, alphaHi, betaLo, betaHi } = this.boxInputs;
      const zeros = this.mul(alphaLo, this.scalar(0));
      const ones = this.add(zeros, this.scalar(1));
      const mid = (lo: string, hi: string) => this.mul(this.add(lo, hi), half);
      const rad = (lo: string, hi: string) => this.mul(this.sub(hi, lo), half);
      c = {
        mvec: this.op('Reshape', [this.stack(mid(alphaLo, alphaHi), mid(betaLo, betaHi), ones)], { shape }),
        rvec: this.op('Reshape', [this.stack(rad(alphaLo, alphaHi), rad(betaLo, betaHi), zeros)], { shape }),
      };
      this.rankCache.set(rank, c);
    }
    return c;
  }

  /** Sums the a, b and c rows of a packed tensor: [3B, …dims] → [B, …dims]. */
  private rowSum(t: string, dims: number[], select: number[] = [1, 1, 1]): string {
    const flat = this.op('Reshape', [t], { shape: [3, this.boxes * sizeOf(dims)] });
    const picked = this.op('MatMul', [this.constant('select', { dims: [1, 3], data: Float32Array.from(select) }), flat]);
    return this.op('Reshape', [picked], { shape: [this.boxes, ...dims] });
  }

  /** One coefficient (0: α, 1: β, 2: constant) of a packed tensor, as [B, …dims]. */
  part(t: string, dims: number[], k: 0 | 1 | 2): string {
    return this.rowSum(t, dims, [0, 1, 2].map((i) => (i === k ? 1 : 0)));
  }

  /** Minimum and maximum of a·α + b·β + c over each box (exact for a 2-D box), each [B, …dims]. */
  private span(p: string, dims: number[]): { min: string; max: string } {
    let s = this.spanCache.get(p);
    if (!s) {
      const { mvec, rvec } = this.boxVectors(dims.length + 1);
      const centre = this.rowSum(this.mul(p, mvec), dims);
      const radius = this.rowSum(this.mul(this.op('Abs', [p]), rvec), dims);
      s = { min: this.sub(centre, radius), max: this.add(centre, radius) };
      this.spanCache.set(p, s);
    }
    return s;
  }

  /** Constant per-box bounds [l, u] of a bound, each [B, …dims]. */
  concretize(x: Bound): { l: string; u: string } {
    return { l: this.span(x.lo, x.dims).min, u: this.span(x.hi, x.dims).max };
  }

  /** Packs per-box constants [B, …] as the c rows of a packed tensor. */
  private packConstant(t: string): string {
    const z = this.mul(t, this.scalar(0));
    return this.stack(z, z, t);
  }

  /** A bound that is the constant interval [l, u] (each [B, …dims]). */
  interval(l: string, u: string, dims: number[]): Bound {
    return { lo: this.packConstant(l), hi: this.packConstant(u), exact: false, dims };
  }

  /** Applies `f` to lo and hi (shape operations, nonnegative linear maps). */
  map(x: Bound, f: (t: string) => string, dims = x.dims): Bound {
    const lo = f(x.lo);
    return { lo, hi: x.exact ? lo : f(x.hi), exact: x.exact, dims };
  }

  /**
   * Bounds of W·x + bias for a linear map W: lo' = W·mid − |W|·rad and hi' = W·mid + |W|·rad with
   * mid = (lo + hi)/2, rad = (hi − lo)/2 (the halves are folded into `apply`). `bias` is a packed
   * constant (c rows only).
   */
  linear(x: Bound, apply: (t: string, kind: ApplyKind) => string, bias: string | undefined, dims: number[]): Bound {
    const withBias = (t: string) => (bias ? this.add(t, bias) : t);
    if (x.exact) return this.map(x, (t) => withBias(apply(t, 'full')), dims);
    const mid = apply(this.add(x.lo, x.hi), 'half');
    const rad = apply(this.sub(x.hi, x.lo), 'halfAbs');
    return { lo: withBias(this.sub(mid, rad)), hi: withBias(this.add(mid, rad)), exact: false, dims };
  }

  /** In IBP mode, bounds collapse to intervals after every operator that is not exact. */
  settle(x: Bound): Bound {
    if (this.mode === 'linear' || x.exact) return x;
    const { l, u } = this.concretize(x);
    return this.interval(l, u, x.dims);
  }

  /**
   * ReLU relaxation per box, each line from the range of the bound it relaxes (as ReluVal and
   * Neurify do): relu(z) ≤ relu(hi) ≤ the chord of relu over hi's own range [min hi, max hi],
   * applied to hi; relu(z) ≥ relu(lo) ≥ λ·lo with λ in [0, 1] chosen (per `lowerSlope`) from lo's
   * range [min lo, max lo]. Both ranges lie inside the neuron's [min lo, max hi], so each line is at
   * least as tight as one from that interval: an upper bound that never goes negative stays hi,
   * unrelaxed, and a lower bound that never goes positive becomes 0.
   */
  reluBound(x: Bound): Bound {
    const { l, u } = this.concretize(x);
    if (this.mode === 'ibp') return this.interval(this.relu(l), this.relu(u), x.dims);
    const { upper, shift } = this.upperOf(this.chord(this.span(x.hi, x.dims).min, u));
    const lower = this.lowerOf(this.chord(l, this.span(x.lo, x.dims).max));
    return {
      lo: this.mul(x.lo, this.stack(lower, lower, lower)),
      hi: this.add(this.mul(x.hi, this.stack(upper, upper, upper)), this.packConstant(shift)),
      exact: false,
      dims: x.dims,
    };
  }

  /** Bound of −x. */
  negate(x: Bound): Bound {
    const lo = this.neg(x.hi);
    return { lo, hi: x.exact ? lo : this.neg(x.lo), exact: x.exact, dims: x.dims };
  }

  /** Adds a packed constant (c rows) to a bound. */
  shift(x: Bound, k: string): Bound {
    return this.map(x, (t) => this.add(t, k));
  }
}

/** Refuses what the bound rules cannot handle soundly. */
export function unsupported(op: string, node: string, why: string): never {
  throw new LuxcertError(`${op} node '${node}': cannot bound it (${why})`);
}
