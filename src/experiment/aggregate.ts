import type { Assessment } from './assess.ts';
import { methodLabel, regulariserWeights } from './plan.ts';
import type { ExperimentResult, RunResult } from './run-experiment.ts';

/** Mean and sample standard deviation over seeds (std 0 for one seed). */
export interface Stat {
  mean: number;
  std: number;
  n: number;
}

/** One row of the reports: a (method, components, sparsity, λ, μ) setting over its seeds. */
export interface Row {
  label: string;
  method: string;
  sparsity: number;
  lambda: number;
  /** μ of the ReLU-stability regulariser (0: off). */
  reluStability: number;
  kind: 'dense' | 'sweep' | 'ablation';
  seeds: number[];
  skipped?: string;
  pck2: Stat;
  meanError: Stat;
  /** Per certified box, in the config's order. */
  coverage: Stat[];
  falsified: Stat[];
  unknown: Stat[];
  /** Mean certification time per image (ms), per box. */
  certMs: Stat[];
  params: Stat;
  flops: Stat;
  onnxBytes: Stat;
  inferenceMs: Stat;
  /** Sampled-perturbation check of every certified claim, summed over seeds and boxes. */
  soundness: { samples: number; violations: number };
}

/** Mean and std of a list. */
export function stat(values: number[]): Stat {
  const n = values.length;
  const mean = n ? values.reduce((a, v) => a + v, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** How tables and plots name a regulariser setting: ' +W' (Wasserstein), ' +W+RS' (and ReLU stability), '' (none). */
export function regulariserSuffix(lambda: number, reluStability: number): string {
  const parts = [...(lambda > 0 ? ['W'] : []), ...(reluStability > 0 ? ['RS'] : [])];
  return parts.length ? ` +${parts.join('+')}` : '';
}

function rowOf(label: string, method: string, sparsity: number, lambda: number, reluStability: number, kind: Row['kind'], seeds: number[], list: Assessment[]): Row {
  const boxes = list[0]?.certification.length ?? 0;
  const per = (f: (a: Assessment) => number) => stat(list.map(f));
  const perBox = (f: (c: Assessment['certification'][number]) => number) => Array.from({ length: boxes }, (_, b) => per((a) => f(a.certification[b]!)));
  const checks = list.flatMap((a) => a.certification.map((c) => c.soundness ?? { samples: 0, violations: 0 }));
  return {
    label, method, sparsity, lambda, reluStability, kind, seeds,
    pck2: per((a) => a.accuracy.pck['2']!),
    meanError: per((a) => a.accuracy.meanError),
    coverage: perBox((c) => c.coverage),
    falsified: perBox((c) => c.falsifiedShare),
    unknown: perBox((c) => c.unknownShare),
    certMs: perBox((c) => c.msPerImage.mean),
    params: per((a) => a.params),
    flops: per((a) => a.flops),
    onnxBytes: per((a) => a.onnxBytes),
    inferenceMs: per((a) => a.inferenceMs),
    soundness: { samples: checks.reduce((s, c) => s + c.samples, 0), violations: checks.reduce((s, c) => s + c.violations, 0) },
  };
}

/** The dense model as a row. */
export function denseRow(r: ExperimentResult): Row {
  return rowOf('dense', 'dense', 0, 0, 0, 'dense', [], [r.dense.assessment]);
}

/** Runs grouped by setting, in the order they first appear. */
export function aggregateRuns(r: ExperimentResult): Row[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of r.runs) {
    const s = run.spec;
    const key = `${methodLabel(s.method, s.components)}|${s.sparsity}|${s.lambda}|${s.reluStability ?? 0}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((runs) => {
    const s = runs[0]!.spec;
    const label = `${methodLabel(s.method, s.components)}${regulariserSuffix(s.lambda, s.reluStability ?? 0)}`;
    const done = runs.filter((x) => x.assessment);
    const row = rowOf(label, s.method, s.sparsity, s.lambda, s.reluStability ?? 0, s.kind, done.map((x) => x.spec.seed), done.map((x) => x.assessment!));
    return done.length === 0 ? { ...row, skipped: runs[0]!.skipped ?? 'no run finished' } : row;
  });
}

/** One acceptance criterion of the headline setting, checked on the means; 'unmeasured' when the figures cannot decide it. */
export interface Criterion {
  text: string;
  verdict: 'pass' | 'fail' | 'unmeasured';
  detail: string;
}

/** How reports print a verdict. */
export const VERDICT_LABEL: Record<Criterion['verdict'], string> = { pass: 'PASS', fail: 'FAIL', unmeasured: 'N/A' };

const judged = (pass: boolean): Criterion['verdict'] => (pass ? 'pass' : 'fail');

/**
 * The issue's acceptance at the headline sparsity: USN with the regulariser (Wasserstein + ReLU
 * stability when that setting ran, else Wasserstein) certifies at least as much as dense and more
 * than random and L1 (at the largest box; each in the same setting when it ran), keeps clean PCK@2
 * within 2 points of dense, and certifies in at most half the dense time per image — a ratio left
 * unmeasured when either model ends unknown on most pairs, since an image that spends its budget
 * (sub-boxes or the wall-clock limit) times the budget, not the work to a verdict.
 */
export function acceptance(r: ExperimentResult, rows: Row[]): Criterion[] {
  const h = r.config.headline;
  const last = r.config.assess.boxes.length - 1;
  const dense = denseRow(r);
  const regularised = [...(r.config.regulariser.includes('rs') ? [regulariserWeights(r.config, 'rs')] : []), regulariserWeights(r.config, 'on')];
  const find = (method: string, lambda: number, mu: number) => rows.find((x) => x.kind === 'sweep' && x.method === method && x.sparsity === h && x.lambda === lambda && x.reluStability === mu && !x.skipped);
  const first = (method: string, from: typeof regularised) => from.map((x) => find(method, x.lambda, x.mu)).find((x) => x !== undefined);
  const usn = first('usn', regularised);
  if (!usn) return [{ text: `USN + Wasserstein at sparsity ${h}`, verdict: 'fail', detail: 'not run' }];
  const cov = (x: Row) => x.coverage[last]!.mean;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const out: Criterion[] = [{ text: 'certified coverage ≥ dense', verdict: judged(cov(usn) >= cov(dense)), detail: `${pct(cov(usn))} (${usn.label}) vs ${pct(cov(dense))}` }];
  for (const base of ['random', 'l1']) {
    const b = first(base, [...regularised.filter((x) => x.mu <= usn.reluStability), { lambda: 0, mu: 0 }]);
    if (b) out.push({ text: `certified coverage > ${base}`, verdict: judged(cov(usn) > cov(b)), detail: `${pct(cov(usn))} vs ${pct(cov(b))} (${b.label})` });
  }
  out.push({ text: 'clean PCK@2 within 2 points of dense', verdict: judged(usn.pck2.mean >= dense.pck2.mean - 0.02), detail: `${usn.pck2.mean.toFixed(3)} vs ${dense.pck2.mean.toFixed(3)}` });
  const ratio = usn.certMs[last]!.mean / dense.certMs[last]!.mean;
  const times = `${usn.certMs[last]!.mean.toFixed(0)} ms vs ${dense.certMs[last]!.mean.toFixed(0)} ms (${ratio.toFixed(2)}×)`;
  const capped = [usn, dense].filter((x) => x.unknown[last]!.mean > 0.5);
  out.push({
    text: 'certification time per image ≤ 0.5× dense',
    ...(capped.length
      ? { verdict: 'unmeasured', detail: `${times}, but unknown at the budget: ${capped.map((x) => `${x.label} ${pct(x.unknown[last]!.mean)}`).join(', ')} of pairs — budget-capped times, not times to a verdict` }
      : { verdict: judged(ratio <= 0.5), detail: times }),
  });
  return out;
}
