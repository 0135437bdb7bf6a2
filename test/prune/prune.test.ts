import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { synthesize } from '../../src/data/synth.ts';
import { writeOnnxFile } from '../../src/onnx/write.ts';
import { openSession, runSession } from '../../src/onnx/ort.ts';
import { readOnnxFile } from '../../src/onnx/read.ts';
import { channelGroups } from '../../src/prune/groups.ts';
import { trainFolder, TRAIN_DEFAULTS } from '../../src/train/train-folder.ts';
import { buildZooModel } from '../../src/train/zoo.ts';
import { PAD_KEYPOINTS } from '../../src/data/scene.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('prune');
const data = join(root, 'data');
const dense = join(root, 'dense.onnx');

interface Report { channels: { before: number; after: number }; params: { before: number; after: number }; flops: { before: number; after: number }; rounds: { channels: number }[] }

describe('luxcert prune', () => {
  before(async () => {
    await synthesize({ out: data, count: 100, size: 48, seed: 41 });
    await trainFolder({ ...TRAIN_DEFAULTS, data, out: dense, epochs: 3, batchSize: 16, augment: true });
  });

  it('l1, two rounds with fine-tuning: a smaller valid model whose certificates pass --check', () => {
    const out = join(root, 'l1.onnx');
    const r = luxcert('prune', '--model', dense, '--data', data, '--method', 'l1', '--sparsity', '0.5', '--rounds', '2', '--epochs', '1', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.equal(rep.rounds.length, 2);
    assert.ok(rep.rounds[0]!.channels > rep.rounds[1]!.channels, 'progressive');
    assert.ok(Math.abs(rep.channels.after / rep.channels.before - 0.5) < 0.1);
    assert.ok(rep.params.after < rep.params.before * 0.6 && rep.flops.after < rep.flops.before);
    const before = channelGroups(readOnnxFile(dense)).filter((g) => !g.blocked).map((g) => g.channels);
    const after = channelGroups(readOnnxFile(out)).filter((g) => !g.blocked).map((g) => g.channels);
    after.forEach((c, i) => assert.equal(c, Math.max(2, Math.round(before[i]! * 0.5))));
    const c = luxcert('certify', '--model', out, '--data', data, '--limit', '5', '--reference', 'prediction', '--tolerance', '2', '--brightness', '0.05', '--contrast', '0.05', '--budget-ms', '300', '--check', '200', '--json');
    assert.equal(c.code, 0, c.stderr);
    const s = (JSON.parse(c.stdout) as { settings: { certified: number; soundness: { violations: number } }[] }).settings[0]!;
    assert.equal(s.soundness.violations, 0);
  });

  it('global scope: one ranking of all channels removes the same total, unevenly across groups, into a valid model', async () => {
    const out = join(root, 'l1-global.onnx');
    const r = luxcert('prune', '--model', dense, '--data', data, '--method', 'l1', '--sparsity', '0.5', '--rounds', '1', '--epochs', '0', '--scope', 'global', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    const before = channelGroups(readOnnxFile(dense)).filter((g) => !g.blocked).map((g) => g.channels);
    const after = channelGroups(readOnnxFile(out)).filter((g) => !g.blocked).map((g) => g.channels);
    assert.equal(rep.channels.after, Math.round(rep.channels.before * 0.5));
    assert.equal(after.reduce((a, b) => a + b, 0), rep.channels.after);
    assert.ok(after.every((c, i) => c >= 2 && c <= before[i]!));
    assert.ok(after.some((c, i) => c !== Math.round(before[i]! * 0.5)), `global widths ${after} are the per-layer ones`);
    assert.equal(readOnnxFile(out).metadata['luxcert.prune.scope'], 'global');
    const session = await openSession(out);
    const y = Object.values(await runSession(session, { image: { dims: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32).fill(0.5) } }))[0]!;
    assert.ok(y.data.every((v) => Number.isFinite(v)));
  });

  it('slimming prunes by BatchNorm scales (resnet, residual groups) and the result runs in onnxruntime', async () => {
    const resnet = join(root, 'resnet.onnx');
    writeOnnxFile(resnet, buildZooModel({ arch: 'resnet', head: 'regression', keypoints: PAD_KEYPOINTS, skeleton: [], inputSize: 32, cropPadding: 1.25, seed: 5 }));
    const out = join(root, 'slim.onnx');
    const r = luxcert('prune', '--model', resnet, '--data', data, '--method', 'slimming', '--sparsity', '0.3', '--rounds', '1', '--epochs', '0', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.ok(rep.params.after < rep.params.before);
    const session = await openSession(out);
    const y = Object.values(await runSession(session, { image: { dims: [1, 3, 32, 32], data: new Float32Array(3072).fill(0.5) } }))[0]!;
    assert.deepEqual(y.dims, [1, 4, 2]);
  });

  it('usn with the Wasserstein and ReLU-stability regularisers: channels ranked by USN under the box, fine-tuned with both', () => {
    const out = join(root, 'usn.onnx');
    const r = luxcert('--log-level', 'info', 'prune', '--model', dense, '--data', data, '--method', 'usn', '--sparsity', '0.4', '--rounds', '1', '--epochs', '1', '--wasserstein', '0.1', '--relu-stability', '3', '--usn-images', '16', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.ok(rep.channels.after < rep.channels.before && rep.params.after < rep.params.before);
    const meta = readOnnxFile(out).metadata;
    assert.deepEqual([meta['luxcert.prune.method'], meta['luxcert.prune.wasserstein'], meta['luxcert.prune.relu_stability']], ['usn', '0.1', '3']);
    const last = (rep as unknown as { rounds: { validation?: { meanError: number } }[] }).rounds[0]!.validation!;
    assert.ok(Number.isFinite(last.meanError), 'fine-tuning with the regularisers ran');
    const epochs = r.stderr.split('\n').filter((l) => l.includes('"epoch done"')).map((l) => JSON.parse(l) as { wasserstein?: number; reluStability?: number });
    assert.equal(epochs.length, 1);
    assert.ok(epochs[0]!.wasserstein! > 0 && epochs[0]!.reluStability! > 0, 'both terms are measured in every epoch');
  });

  it('nrs ranks by ReLU stability from certified bounds; the result certifies soundly', () => {
    const out = join(root, 'nrs.onnx');
    const r = luxcert('prune', '--model', dense, '--data', data, '--method', 'nrs', '--sparsity', '0.5', '--rounds', '1', '--epochs', '0', '--usn-images', '8', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.ok(rep.channels.after < rep.channels.before && rep.params.after < rep.params.before);
    const c = luxcert('certify', '--model', out, '--data', data, '--limit', '3', '--reference', 'prediction', '--tolerance', '2', '--brightness', '0.05', '--contrast', '0.05', '--budget-ms', '300', '--check', '200', '--json');
    assert.equal(c.code, 0, c.stderr);
    assert.equal((JSON.parse(c.stdout) as { settings: { soundness: { violations: number } }[] }).settings[0]!.soundness.violations, 0);
  });

  it('refuses what it cannot do, in one line', () => {
    const cases: [string[], RegExp][] = [
      [['--method', 'usn', '--sparsity', '0.5', '--usn-terms', 'bias,magic'], /--usn-terms: 'magic' is not one of bias, smoothness, bounds, stability/],
      [['--method', 'magic', '--sparsity', '0.5'], /unknown --method 'magic'/],
      [['--method', 'l1', '--sparsity', '1'], /--sparsity must be in \[0, 1\)/],
      [['--method', 'slimming', '--sparsity', '0.5'], /slimming needs BatchNorm scales/],
      [['--method', 'l1', '--sparsity', '0.5', '--scope', 'everywhere'], /--scope must be one of layer, global, got 'everywhere'/],
      [['--method', 'l1', '--sparsity', '0.5', '--relu-stability', 'lots'], /--relu-stability/],
      // Its g² sub-boxes go through onnxruntime at once: 100,000 ended the process before the bound.
      [['--method', 'nrs', '--sparsity', '0.5', '--bound-grid', '100000'], /--bound-grid must be at most 32, got '100000'/],
    ];
    for (const [args, message] of cases) {
      const r = luxcert('prune', '--model', dense, '--data', data, '--out', join(root, 'never.onnx'), '--epochs', '0', ...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr.trim(), message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});
