import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BoundComputer } from '../../src/bounds/bounds.ts';
import { certifyImage } from '../../src/certify/certify-image.ts';
import { ModelRunner } from '../../src/certify/model-runner.ts';
import { violates } from '../../src/certify/property.ts';
import { synthesize } from '../../src/data/synth.ts';
import { modelMeta } from '../../src/model/metadata.ts';
import { readOnnxFile } from '../../src/onnx/read.ts';
import { trainFolder, TRAIN_DEFAULTS } from '../../src/train/train-folder.ts';
import { luxcert } from '../helpers/cli.ts';
import { onnxModel } from '../helpers/onnx-model.ts';
import { tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('certify');
const data = join(root, 'data');
const model = join(root, 'model.onnx');
const heatmap = join(root, 'heatmap.onnx');

/** An image model with an operator luxcert does not support. */
function sigmoidModel(): string {
  const path = join(root, 'sigmoid.onnx');
  writeFileSync(path, onnxModel({ opset: 13, inputs: [['image', ['n', 3, 32, 32]]], outputs: [['y', ['n', 3, 32, 32]]], nodes: [{ opType: 'Sigmoid', name: 'gate', input: ['image'], output: ['y'] }] }));
  return path;
}

interface Report {
  settings: { pairs: number; certified: number; falsified: number; unknown: number; coverage: number; soundness: { violations: number; samples: number } }[];
  claims: { verdict: string; object: number; input?: string; keypoint: string; reference: [number, number]; tolerance: number; counterexample?: { alpha: number; beta: number } }[];
}

/** The trained regression model's runner and 8-box bound computer, and a fixed test image. */
async function openSearch() {
  const graph = readOnnxFile(model);
  const meta = modelMeta(graph, model);
  const runner = await ModelRunner.open(model, meta);
  const bounds = await BoundComputer.create(graph, { boxes: 8, mode: 'linear', engine: 'onnxruntime' });
  const image = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => ((i * 37) % 101) / 100);
  return { meta, runner, bounds, image };
}

describe('luxcert certify on trained detectors', () => {
  before(async () => {
    await synthesize({ out: data, count: 100, size: 64, seed: 21 });
    await trainFolder({ ...TRAIN_DEFAULTS, data, out: model, epochs: 4, batchSize: 16, augment: true });
    await trainFolder({ ...TRAIN_DEFAULTS, data, out: heatmap, head: 'heatmap', grid: 8, epochs: 3, batchSize: 16, augment: true });
  });

  for (const [name, path, reference, tolerances, backward] of [
    ['regression', () => model, 'prediction', '1,3', 'dense'], ['regression', () => model, 'truth', '4,8', '1'], ['heatmap', () => heatmap, 'prediction', '1,3', 'dense'],
    ['regression', () => model, 'prediction', '1,3', 'deep'], ['heatmap', () => heatmap, 'prediction', '1,3', 'deep'], ['heatmap', () => heatmap, 'truth', '4,8', '1'],
  ] as const) {
    it(`${name} head, reference ${reference}, backward ${backward}: every certified claim survives sampled perturbations in onnxruntime`, () => {
      const out = join(root, `inputs-${name}-${reference}-${backward}`);
      const r = luxcert('certify', '--model', path(), '--data', data, '--limit', '6', '--brightness', '0.02,0.1', '--contrast', '0.02,0.1', '--tolerance', tolerances, '--reference', reference, '--backward', backward, '--check', '150', '--budget-ms', '300', '--json', '--save-inputs', out, '--csv', join(out, 'claims.csv'));
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as Report;
      assert.equal(rep.settings.length, 4);
      for (const s of rep.settings) {
        assert.equal(s.certified + s.falsified + s.unknown, s.pairs);
        assert.equal(s.soundness.violations, 0);
      }
      assert.ok(rep.settings.some((s) => s.certified > 0), 'something is certified');
      for (const c of rep.claims) assert.ok(existsSync(join(out, c.input!)), 'every claim names its saved input');
      assert.equal(readFileSync(join(out, 'claims.csv'), 'utf8').trim().split('\n').length, rep.claims.length + 1);
    });
  }

  it('the runner answers any number of points in runs of bounded size, each point where it was asked', async () => {
    const { runner, bounds, image } = await openSearch();
    const points = Array.from({ length: 2500 }, (_, i) => [0.8 + (0.4 * i) / 2499, ((i * 7) % 11) / 50 - 0.1] as [number, number]);
    const all = await runner.keypointsAt(image, points);
    assert.equal(all.length, points.length * 8);
    for (const i of [0, 1023, 1024, 2047, 2048, 2499]) {
      const one = await runner.keypointsAt(image, [points[i]!]);
      for (let c = 0; c < 8; c++) assert.ok(Math.abs(all[i * 8 + c]! - one[c]!) <= 1e-4, `point ${i}, coordinate ${c}: ${all[i * 8 + c]} vs ${one[c]}`);
    }
    await bounds.release();
    await runner.release();
  });

  it('falsified claims carry a counterexample that breaks the property when re-run in onnxruntime', async () => {
    const { meta, runner, bounds, image } = await openSearch();
    const clean = await runner.keypointsAt(image, [[1, 0]]);
    const prop = { meta, reference: clean, tolerance: 0.25 };
    const box = { alphaLo: 0.5, alphaHi: 1.5, betaLo: -0.4, betaHi: 0.4 };
    const { results } = await certifyImage(bounds, runner, image, prop, box, [0, 1, 2, 3], { ms: 500, boxes: 64 }, 1);
    const falsified = [...results].filter(([, r]) => r.verdict === 'falsified');
    assert.ok(falsified.length > 0, 'a wide box and a tight tolerance break something');
    for (const [j, r] of falsified) {
      const p = await runner.keypointsAt(image, [[r.counterexample!.alpha, r.counterexample!.beta]]);
      assert.ok(violates(prop, p, j));
      assert.ok(r.counterexample!.alpha >= box.alphaLo && r.counterexample!.alpha <= box.alphaHi);
    }
    await assert.rejects(certifyImage(bounds, runner, image.map((v, i) => (i === 5 ? NaN : v)), prop, box, [0], { ms: 100, boxes: 4 }, 1), /NaN/);
    await assert.rejects(certifyImage(bounds, runner, image, { ...prop, tolerance: -1 }, box, [0], { ms: 100, boxes: 4 }, 1), /tolerance must be a finite number ≥ 0/);
    await bounds.release();
    await runner.release();
  });

  it('the search fills its bound calls within the budget: every call bounds more than half a batch', async () => {
    const { meta, runner, bounds, image } = await openSearch();
    const prop = { meta, reference: await runner.keypointsAt(image, [[1, 0]]), tolerance: 1 };
    const sizes: number[] = [];
    const bound = bounds.bounds.bind(bounds);
    bounds.bounds = (im, dims, boxes) => {
      sizes.push(boxes.length);
      return bound(im, dims, boxes);
    };
    const box = { alphaLo: 0.98, alphaHi: 1.02, betaLo: -0.02, betaHi: 0.02 };
    const { results, stats } = await certifyImage(bounds, runner, image, prop, box, [0, 1, 2, 3], { ms: 5000, boxes: 256 }, 1);
    assert.ok(stats.boundCalls > 1, 'the search split the box');
    assert.equal(sizes.length, stats.boundCalls);
    assert.equal(sizes[0], 8, 'the first call bounds a full batch of halves, not the box alone');
    assert.ok(sizes.every((n) => n > 4), `boxes per call: ${sizes}`);
    assert.equal(results.size, 4);
    // Filling a call never spends more than the sub-box budget.
    const onePass = await certifyImage(bounds, runner, image, prop, box, [0, 1, 2, 3], { ms: 5000, boxes: 1 }, 1);
    assert.equal(onePass.stats.boxesBounded, 1, 'a budget of one sub-box is one pass on the whole box');
    await bounds.release();
    await runner.release();
  });

  it('certifies PyTorch-exported keypoint models given the metadata flags', () => {
    for (const fixture of ['misc_op17', 'resnet_op11']) {
      const path = fileURLToPath(new URL(`../fixtures/pytorch/${fixture}.onnx`, import.meta.url));
      const r = luxcert('certify', '--model', path, '--data', data, '--limit', '3', '--head', 'regression', '--keypoints', 'a,b,c,d', '--reference', 'prediction', '--tolerance', '0.5', '--brightness', '0.01', '--contrast', '0.01', '--budget-ms', '300', '--check', '100', '--json');
      assert.equal(r.code, 0, r.stderr);
      const s = (JSON.parse(r.stdout) as Report).settings[0]!;
      assert.equal(s.pairs, 12);
      assert.equal(s.soundness.violations, 0);
    }
  });

  it('bad input gets a one-line error', () => {
    const cases: [string[], RegExp][] = [
      [['--contrast', '1.5'], /--contrast must be in \[0, 1\)/],
      [['--brightness', '-0.1'], /--brightness must be a number ≥ 0/],
      [['--brightness', '1e9'], /--brightness must be at most 1 \(pixels lie in \[0, 1\]\), got 1000000000/],
      [['--tolerance', '-1'], /--tolerance must be a number ≥ 0/],
      // The bound graph's batch: 10⁸ sub-boxes per call ended in an internal error allocating it.
      [['--boxes-per-call', '100000000'], /--boxes-per-call must be at most 1024, got '100000000'/],
      // Every sample's keypoints are held at once: 10⁹ ended the process.
      [['--check', '1000000000'], /--check must be at most 100000, got '1000000000'/],
      [['--head', 'heatmap', '--grid', '16'], /needs \[N,4,16,16\].*keypoint count does not match the model head/],
      [['--keypoints', 'a,b'], /keypoint count does not match the model head/],
      [['--mode', 'exact'], /--mode must be linear or ibp/],
      [['--backward', 'sideways'], /--backward must be none, dense, deep or a number of convolutions \(0–1000\), got 'sideways'/],
      [['--backward', '-1'], /--backward must be none, dense, deep or a number of convolutions/],
      [['--relu-lower', 'steep'], /--relu-lower must be parallel or adaptive/],
      [['--model', sigmoidModel()], /unsupported operator Sigmoid \(node 'gate'\)/],
    ];
    for (const [args, message] of cases) {
      const r = luxcert('certify', '--model', model, '--data', data, '--limit', '1', ...args); // a later --model wins
      assert.equal(r.code, 1, args.join(' '));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, message);
    }
  });
});
