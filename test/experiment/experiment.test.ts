import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { acceptance, aggregateRuns, stat } from '../../src/experiment/aggregate.ts';
import type { Assessment } from '../../src/experiment/assess.ts';
import { planRuns, type ExperimentConfig } from '../../src/experiment/plan.ts';
import type { ExperimentResult } from '../../src/experiment/run-experiment.ts';
import { linePlot } from '../../src/experiment/svg-plot.ts';
import { boxFromFlags } from '../../src/model/perturbation.ts';
import { openSession, runSession } from '../../src/onnx/ort.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const CFG: ExperimentConfig = {
  methods: ['usn', 'random', 'l1'], sparsities: [0.3, 0.5, 0.7], headline: 0.5, seeds: [1, 2, 3], wasserstein: 10, reluStability: 5, regulariser: ['on', 'off'],
  ablations: [['bias'], ['smoothness']], rounds: 2, epochs: 1, usnImages: 8, usnPerturbations: 4, boundGrid: 2, scope: 'layer',
  assess: { boxes: [boxFromFlags(0.1, 0.1)], tolerance: 2, certify: 4, budget: { boxes: 64, ms: 1000 }, check: 10, seed: 1 },
};

describe('experiment plan and statistics', () => {
  it('headline sparsity with every seed first, then ablations, then the other sparsities with the first seed', () => {
    const runs = planRuns(CFG);
    // 3 methods × 2 λ × 3 seeds + 2 ablations × 3 seeds + 2 sparsities × 3 methods × 2 λ
    assert.equal(runs.length, 18 + 6 + 12);
    assert.equal(new Set(runs.map((r) => r.id)).size, runs.length);
    assert.ok(runs.slice(0, 18).every((r) => r.sparsity === 0.5 && r.kind === 'sweep'));
    assert.ok(runs.slice(18, 24).every((r) => r.kind === 'ablation' && r.lambda === 10 && r.method === 'usn'));
    assert.ok(runs.slice(24).every((r) => r.sparsity !== 0.5 && r.seed === 1));
    assert.throws(() => planRuns({ ...CFG, sparsities: [0.5, 1] }), /--sparsities must lie in \(0, 1\)/);
    assert.throws(() => planRuns({ ...CFG, headline: 0.4 }), /--headline 0\.4 must be one of --sparsities \(0\.3,0\.5,0\.7\)/);
    // Global runs get ids of their own, so they never reuse a layer-scope run's cached model.
    const global = planRuns({ ...CFG, scope: 'global' });
    assert.ok(global.every((r, i) => r.scope === 'global' && r.id === `${runs[i]!.id}-global`));
    assert.ok(runs.every((r) => r.scope === undefined));
    // The ReLU-stability setting adds runs of its own; the others keep their ids, the ablations move to it.
    const rs = planRuns({ ...CFG, regulariser: ['on', 'rs'] });
    assert.equal(rs.length, runs.length);
    const withRs = rs.filter((r) => r.reluStability === 5);
    assert.ok(withRs.every((r) => r.lambda === 10 && r.id.includes('-w10-rs5-')));
    assert.equal(withRs.filter((r) => r.kind === 'sweep').length, 3 * 3 + 2 * 3);
    assert.ok(rs.filter((r) => r.kind === 'ablation').every((r) => r.reluStability === 5));
    const plainIds = new Set(runs.map((r) => r.id));
    assert.ok(rs.filter((r) => r.reluStability === undefined).every((r) => plainIds.has(r.id)));
  });

  it('acceptance judges USN under the strongest regulariser swept, against the baselines in the same setting', () => {
    const assessment = (coverage: number, ms: number, pck2: number, unknownShare = 0) =>
      ({ accuracy: { pck: { '2': pck2 }, meanError: 0.7 }, certification: [{ coverage, falsifiedShare: 1 - coverage - unknownShare, unknownShare, msPerImage: { mean: ms, median: ms, p95: ms } }], params: 1, flops: 1, onnxBytes: 1, inferenceMs: 0.1 }) as unknown as Assessment;
    const cfg: ExperimentConfig = { ...CFG, methods: ['usn', 'random'], seeds: [1], regulariser: ['on', 'rs'], ablations: [] };
    const figures: Record<string, [number, number, number]> = {
      'usn-s0.5-w10-seed1': [0.97, 60, 0.99], 'usn-s0.5-w10-rs5-seed1': [0.985, 45, 0.985],
      'random-s0.5-w10-seed1': [0.99, 70, 0.98], 'random-s0.5-w10-rs5-seed1': [0.96, 50, 0.97],
    };
    const runs = planRuns(cfg).filter((x) => x.sparsity === 0.5).map((spec) => ({ spec, assessment: assessment(...figures[spec.id]!), seconds: { prune: 0, assess: 0 } }));
    const r = { config: cfg, dense: { assessment: assessment(0.98, 100, 0.99) }, runs } as unknown as ExperimentResult;
    const verdicts = Object.fromEntries(acceptance(r, aggregateRuns(r)).map((c) => [c.text, c]));
    assert.match(verdicts['certified coverage ≥ dense']!.detail, /98\.5% \(usn \+W\+RS\) vs 98\.0%/);
    assert.equal(verdicts['certified coverage ≥ dense']!.verdict, 'pass');
    assert.match(verdicts['certified coverage > random']!.detail, /\(random \+W\+RS\)/, 'random in the same setting, not its better W-only run');
    assert.equal(verdicts['certification time per image ≤ 0.5× dense']!.verdict, 'pass');
    // A dense model that ends unknown on most pairs spent its budget: its time decides nothing, either way.
    for (const usnMs of [45, 80]) {
      const capped = { ...r, dense: { assessment: assessment(0, 100, 0.99, 0.9) }, runs: runs.map((x) => (x.spec.id === 'usn-s0.5-w10-rs5-seed1' ? { ...x, assessment: assessment(0.985, usnMs, 0.985) } : x)) } as unknown as ExperimentResult;
      const time = acceptance(capped, aggregateRuns(capped)).find((c) => c.text === 'certification time per image ≤ 0.5× dense')!;
      assert.equal(time.verdict, 'unmeasured');
      assert.match(time.detail, /unknown at the budget: dense 90\.0% of pairs/);
    }
    // Without the rs setting, the W-only USN run is judged.
    const plain = { ...r, config: { ...cfg, regulariser: ['on'] }, runs: runs.filter((x) => x.spec.reluStability === undefined) } as unknown as ExperimentResult;
    const v2 = Object.fromEntries(acceptance(plain, aggregateRuns(plain)).map((c) => [c.text, c]));
    assert.equal(v2['certified coverage ≥ dense']!.verdict, 'fail');
    assert.equal(v2['certified coverage > random']!.verdict, 'fail');
  });

  it('mean and sample standard deviation', () => {
    assert.deepEqual(stat([1, 2, 3]), { mean: 2, std: 1, n: 3 });
    assert.deepEqual(stat([4]), { mean: 4, std: 0, n: 1 });
  });

  it('plots are self-contained SVG: one line per series with its points, the reference drawn', () => {
    const svg = linePlot({ id: 'p', title: 'a < b', xLabel: 'x', yLabel: 'y', percent: true, reference: { y: 0.9, label: 'dense' }, series: [
      { name: 'usn', color: '#d62728', bold: true, points: [{ x: 0.3, y: 0.95, err: 0.01 }, { x: 0.5, y: 0.93 }, { x: 0.7, y: 0.8 }] },
      { name: 'l1', color: '#1f77b4', dashed: true, points: [{ x: 0.3, y: 0.9 }, { x: 0.5, y: 0.85 }] },
    ] });
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>.*<\/svg>$/s);
    assert.equal(svg.match(/<polyline/g)?.length, 2);
    assert.equal(svg.match(/<circle/g)?.length, 5);
    assert.equal(svg.match(/stroke="#d62728" stroke-width="3\.5"/g)?.length, 2, 'a bold series is thick in the plot and in the legend');
    assert.match(svg, /a &lt; b/);
    assert.match(svg, />dense</);
    assert.match(svg, />95%</);
  });
});

describe('luxcert experiment --quick', () => {
  const out = tmpDir('experiment');
  it('runs the sweep, writes JSON, Markdown and a self-contained HTML report, and resumes from its cache', async () => {
    const args = ['experiment', '--quick', '--out', out, '--methods', 'usn,random,slimming,nrs', '--boxes', '0.01,0.02', '--check', '12', '--json'];
    const r = luxcert(...args);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as ExperimentResult;
    assert.equal(res.schema, 'luxcert.experiment/1');
    assert.equal(res.config.assess.check, 12, 'a flag given on the command line wins over --quick');
    assert.equal(res.config.assess.certify, 3, '--quick sets what was left at its default');
    // 4 methods × 2 λ × 2 seeds at 0.5, 1 ablation × 2 seeds, 4 methods × 2 λ at 0.3
    assert.equal(res.runs.length, 16 + 2 + 8);
    const slim = res.runs.filter((x) => x.spec.method === 'slimming');
    assert.ok(slim.every((x) => /slimming needs BatchNorm/.test(x.skipped ?? '')), 'the tiny model has no BatchNorm: slimming is reported as not applicable');
    const done = res.runs.filter((x) => x.assessment);
    assert.equal(done.length, 26 - slim.length);
    assert.equal(slim.length, 6);
    for (const x of done) {
      const a = x.assessment!;
      assert.equal(a.certification.length, 2);
      assert.ok(a.params < res.dense.assessment.params);
      for (const c of a.certification) assert.equal(c.soundness!.violations, 0, `${x.spec.id}: certified claims survive sampled perturbations`);
      const model = join(out, 'models', `${x.spec.id}.onnx`);
      assert.equal(a.onnxBytes, statSync(model).size);
      const s = await openSession(model);
      const y = Object.values(await runSession(s, { image: { dims: [1, 3, 32, 32], data: new Float32Array(3072).fill(0.5) } }))[0]!;
      assert.deepEqual(y.dims, [1, 4, 2]);
      await s.release();
    }
    assert.ok(done.some((x) => x.assessment!.certification[0]!.certified > 0), 'something certifies at the small box');
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    assert.match(md, /## Headline: 50% channel sparsity/);
    assert.match(md, /## Ablation: USN terms/);
    assert.match(md, /\| usn\[bias\] \+W \| 0\.5 \| 2 \|/);
    assert.match(md, /(PASS|FAIL) — certified coverage ≥ dense/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.equal(html.match(/<svg /g)?.length, 3);
    assert.doesNotMatch(html, /<script|src="http|href="http|<link /);
    assert.ok(existsSync(join(out, 'experiment.json')));
    for (const plot of ['coverage', 'time', 'accuracy']) assert.match(readFileSync(join(out, 'plots', `${plot}.svg`), 'utf8'), /^<svg xmlns=/);

    const firstModel = join(out, 'models', `${done[0]!.spec.id}.onnx`);
    const written = statSync(firstModel).mtimeMs;
    const again = luxcert(...args);
    assert.equal(again.code, 0, again.stderr);
    const res2 = JSON.parse(again.stdout) as ExperimentResult;
    assert.deepEqual(res2.runs.map((x) => x.assessment?.accuracy), res.runs.map((x) => x.assessment?.accuracy), 'cached runs are reused');
    assert.equal(statSync(firstModel).mtimeMs, written, 'a rerun reads the cache instead of pruning again');
  });

  it('refuses bad settings in one line', () => {
    for (const [args, message] of [
      [['--methods', 'usn,magic'], /--methods: unknown method 'magic'/],
      [['--headline', '0.4'], /--headline 0\.4 must be one of --sparsities/],
      [['--data', out], /--data needs --test-data/],
      [['--ablations', 'bias;wrong'], /--ablations: 'wrong' is not one of/],
      [['--regulariser', 'on,strong'], /--regulariser must list some of off, on, rs, got 'on,strong'/],
      [['--relu-stability', '-1'], /--relu-stability/],
      // Each of these ended the process (10⁹ seeds, 10⁹ USN perturbations) or named the wrong flag.
      [['--seeds', '1e9'], /--seeds must be at most 100, got '1e9'/],
      [['--usn-perturbations', '1e9'], /--usn-perturbations must be at most 1024, got '1e9'/],
      [['--sparsities', '1.5'], /--sparsities must lie in \(0, 1\), got 1\.5/],
      [['--boxes', '2'], /--boxes: 2 must be below 1/],
    ] as [string[], RegExp][]) {
      const r = luxcert('experiment', '--out', join(out, 'never'), ...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr.trim(), message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});
