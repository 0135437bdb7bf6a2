import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/core/random.ts';
import { tensor } from '../../src/core/tensor.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { modelMeta, setModelMeta } from '../../src/model/metadata.ts';
import { boundTerms } from '../../src/prune/bound-terms.ts';
import { channelGroups } from '../../src/prune/groups.ts';
import { channelValues } from '../../src/prune/probes.ts';
import type { PerturbationRegularisers } from '../../src/train/regularisers.ts';
import { StepRunner } from '../../src/train/step-runner.ts';
import { buildZooModel } from '../../src/train/zoo.ts';
import { StepProbe } from './step-check.ts';

/** A model whose watched value is the image itself (z = x, z′ = clip(α·x + β, 0, 1)), with a trainable head after it. */
function identityModel() {
  const b = new GraphBuilder('ident');
  const x = b.input('image', ['N', 3, 1, 2]);
  const z = b.op('Identity', [x], {}, 'z');
  const f = b.op('Flatten', [z], { axis: 1 });
  const out = b.op('Gemm', [f, b.weight('w', tensor([2, 6], new Float32Array(12).fill(0.1))), b.weight('b', tensor([2]))], { transB: 1 });
  const g = b.build([b.op('Reshape', [out], { shape: [0, 1, 2] }, 'keypoints')]);
  setModelMeta(g, { head: 'regression', keypoints: ['a'], skeleton: [], inputSize: [1, 2], channels: 3, pixelScale: 1 / 255, cropPadding: 1.25 });
  return g;
}

/** The step's regulariser outputs for z = x and z′ = clip(α·x + β, 0, 1), two images of 3×1×2. */
async function terms(x: number[], alpha: number[], beta: number[], reg: Omit<PerturbationRegularisers, 'box'>) {
  const g = identityModel();
  const meta = modelMeta(g, 'ident');
  const batch = { n: 2, x: Float32Array.from(x), keypoints: new Float32Array(4), mask: new Float32Array(2), alpha: Float32Array.from(alpha), beta: Float32Array.from(beta) };
  const probe = await StepProbe.open(g, meta, batch, { box: { alphaLo: 0.5, alphaHi: 1.5, betaLo: -0.5, betaHi: 0.5 }, ...reg });
  const out = await probe.run();
  await probe.release();
  return { w: out.wasserstein?.data[0] as number | undefined, s: out.relu_stability?.data[0] as number | undefined };
}

it('the ReLU-stability term is the hinge relu(k·|z′ − z| − |z|) averaged over elements, over the value\'s RMS', async () => {
  const x = [0.5, 0.1, 0.9, 0.02, 0.3, 0.6, 0.05, 0.7, 0.2, 0.4, 0.01, 0.8];
  const alpha = [1.1, 0.9];
  const beta = [0.05, -0.1];
  const expected = (k: number) => {
    let hinge = 0;
    let sq = 0;
    x.forEach((z, i) => {
      const img = i < 6 ? 0 : 1;
      const zp = Math.min(1, Math.max(0, alpha[img]! * z + beta[img]!));
      hinge += Math.max(0, k * Math.abs(zp - z) - Math.abs(z));
      sq += z * z;
    });
    return hinge / x.length / Math.sqrt(sq / x.length);
  };
  for (const k of [2, 0.5]) {
    const { s } = await terms(x, alpha, beta, { reluStability: { mu: 1, values: ['z'], margin: k } });
    assert.ok(expected(k) > 0);
    assert.ok(Math.abs(s! - expected(k)) < 1e-6 * Math.max(1, expected(k)), `k = ${k}: ${s} vs ${expected(k)}`);
  }
  // Scaling the value does not change it (α = 1, β scaled with it keeps z′ − z proportional): only the RMS normalises it.
  const small = await terms(x.map((v) => v / 4), [1, 1], [0.01, -0.02], { reluStability: { mu: 1, values: ['z'], margin: 2 } });
  const large = await terms(x.map((v) => v / 2), [1, 1], [0.02, -0.04], { reluStability: { mu: 1, values: ['z'], margin: 2 } });
  assert.ok(Math.abs(small.s! - large.s!) < 1e-6, `${small.s} vs ${large.s}`);
});

it('the Wasserstein term is W1 between the per-image channel means over the clean and the perturbed batch, averaged over channels', async () => {
  const x = [0.5, 0.1, 0.9, 0.02, 0.3, 0.6, 0.05, 0.7, 0.2, 0.4, 0.01, 0.8];
  const alpha = [1.2, 0.8];
  const beta = [0.1, -0.05];
  const { w } = await terms(x, alpha, beta, { wasserstein: { lambda: 1, probes: ['z'] } });
  let expected = 0;
  for (let c = 0; c < 3; c++) {
    const mean = (img: number, f: (v: number) => number) => (f(x[img * 6 + c * 2]!) + f(x[img * 6 + c * 2 + 1]!)) / 2;
    const clean = [0, 1].map((i) => mean(i, (v) => v)).sort((a, b) => a - b);
    const pert = [0, 1].map((i) => mean(i, (v) => Math.min(1, Math.max(0, alpha[i]! * v + beta[i]!)))).sort((a, b) => a - b);
    expected += (Math.abs(clean[0]! - pert[0]!) + Math.abs(clean[1]! - pert[1]!)) / 2 / 3;
  }
  assert.ok(Math.abs(w! - expected) < 1e-6, `${w} vs ${expected}`);
});

/** Trains only the regularisers (no labelled keypoint: the head's loss and gradient are 0) and returns the term before and after. */
async function minimise(reg: PerturbationRegularisers, key: 'wasserstein' | 'reluStability', steps: number) {
  const g = buildZooModel({ arch: 'tiny', head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 4 });
  const meta = modelMeta(g, 'tiny');
  const rng = new Rng(2);
  const n = 16;
  const x = Float32Array.from({ length: n * 3 * 16 * 16 }, () => rng.uniform(0.2, 0.8));
  const runner = new StepRunner(g, meta, { regularisers: reg });
  const perturb = new Rng(9);
  const batch = () => ({ n, x, keypoints: new Float32Array(n * 4), mask: new Float32Array(n * 2), alpha: Float32Array.from({ length: n }, () => perturb.uniform(reg.box.alphaLo, reg.box.alphaHi)), beta: Float32Array.from({ length: n }, () => perturb.uniform(reg.box.betaLo, reg.box.betaHi)) });
  const first = (await runner.step(batch(), 0))[key]!;
  for (let i = 0; i < steps; i++) await runner.step(batch(), 3e-3);
  const last = (await runner.step(batch(), 0))[key]!;
  runner.writeBack();
  await runner.release();
  return { first, last, g, x };
}

it('minimising the Wasserstein regulariser makes channel responses insensitive to brightness/contrast', async () => {
  const box = { alphaLo: 0.8, alphaHi: 1.2, betaLo: -0.2, betaHi: 0.2 };
  const { first, last } = await minimise({ box, wasserstein: { lambda: 1, probes: ['conv1.relu', 'conv2.relu', 'conv3.relu'] } }, 'wasserstein', 40);
  assert.ok(first > 0 && last < first * 0.5, `W1 ${first} → ${last}`);
});

it('minimising the ReLU-stability penalty leaves fewer ReLUs that certified bounds over the box find unstable', async () => {
  const box = { alphaLo: 0.95, alphaHi: 1.05, betaLo: -0.05, betaHi: 0.05 };
  const g0 = buildZooModel({ arch: 'tiny', head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 4 });
  const relus = channelValues(g0, channelGroups(g0).filter((x) => !x.blocked)).filter((v) => v.relu).map((v) => v.pre);
  assert.ok(relus.length >= 3);
  const unstable = async (g: typeof g0, x: Float32Array) => {
    const images = Array.from({ length: 4 }, (_, i) => x.subarray(i * 768, (i + 1) * 768));
    const t = await boundTerms(g, channelGroups(g).filter((c) => !c.blocked), { box, images, imageDims: [3, 16, 16], grid: 1 });
    const all = [...t.values()].filter((v) => v.relu).flatMap((v) => [...v.unstable]);
    return all.reduce((a, v) => a + v, 0) / all.length;
  };
  const { first, last, g, x } = await minimise({ box, reluStability: { mu: 1, values: relus, margin: 2 } }, 'reluStability', 60);
  const before = await unstable(g0, x);
  const after = await unstable(g, x);
  assert.ok(first > 0 && last < first * 0.5, `penalty ${first} → ${last}`);
  assert.ok(after < before * 0.7, `unstable ReLU share under certified bounds ${before} → ${after}`);
});
