import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { makeBatch } from '../../src/data/batch.ts';
import { loadDataset, splitIndices, type LoadedSet } from '../../src/data/dataset.ts';
import { synthesize } from '../../src/data/synth.ts';
import { modelMeta } from '../../src/model/metadata.ts';
import { boxFromFlags } from '../../src/model/perturbation.ts';
import { channelRegularisers } from '../../src/prune/prune-model.ts';
import type { Graph } from '../../src/graph/graph.ts';
import { decodeOnnx, rawToGraph, readModelBytes, readOnnxFile } from '../../src/onnx/read.ts';
import { writeOnnxFile } from '../../src/onnx/write.ts';
import { openSession } from '../../src/onnx/ort.ts';
import { evaluateModel, predictKeypoints } from '../../src/train/evaluate.ts';
import { DEFAULT_STEPS_PER_RUN } from '../../src/train/engine.ts';
import { keypointMetrics } from '../../src/train/metrics.ts';
import { checkpointPath } from '../../src/train/trainer.ts';
import { trainFolder, TRAIN_DEFAULTS } from '../../src/train/train-folder.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('train');
/** A checkpoint as a graph with every initializer it holds (reading a model drops those no node reads: Adam's moments). */
function fullCheckpoint(model: string): Graph {
  const raw = decodeOnnx(readModelBytes(checkpointPath(model)), model);
  const g = rawToGraph(raw, { simplify: false });
  for (const [k, t] of raw.initializers) if (k.startsWith('luxcert.adam.')) g.initializers.set(k, { dims: t.dims, data: t.values as Float32Array });
  return g;
}
const cudaInstalled = readdirSync(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin'), { recursive: true }).some((f) => String(f).endsWith('libonnxruntime_providers_cuda.so'));
const data = join(root, 'data');
let set: LoadedSet;

const base = { ...TRAIN_DEFAULTS, data, batchSize: 16, augment: true };

describe('training', () => {
  before(async () => {
    await synthesize({ out: data, count: 120, size: 64, seed: 9 });
    set = await loadDataset(data);
  });

  it('lowers the loss, writes the best model with metadata and a checkpoint, and resumes', async () => {
    const out = join(root, 'tiny.onnx');
    const r = await trainFolder({ ...base, out, epochs: 3, patience: 5 }, set);
    const losses = r.result.epochs.map((e) => e.loss);
    assert.equal(losses.length, 3);
    assert.ok(losses[2]! < losses[0]!, `loss ${losses.join(' → ')}`);
    assert.ok(existsSync(out) && existsSync(checkpointPath(out)));
    const written = readOnnxFile(out);
    const meta = modelMeta(written, out);
    assert.equal(meta.head, 'regression');
    assert.deepEqual(meta.keypoints, set.keypointNames);
    assert.equal(written.metadata['luxcert.train.backend'], r.result.backend);
    // The file holds the best epoch's weights: onnxruntime reproduces the validation figures' scale.
    const e = await evaluateModel(out, meta, set);
    assert.ok(Number.isFinite(e.meanError) && e.count > 0);
    // The validation figures (one session, fed each epoch's weights) are the written model's in a session of its own.
    const { val } = splitIndices(set.objects.length, base.valFraction, base.seed);
    const valBatch = makeBatch(set, val, meta.inputSize, meta.cropPadding);
    const session = await openSession(out);
    const own = keypointMetrics(await predictKeypoints(session, meta, valBatch), valBatch.keypoints, valBatch.mask, meta.keypoints);
    await session.release();
    assert.ok(Math.abs(own.meanError - r.result.best.meanError) <= 1e-5 * own.meanError, `${own.meanError} vs ${r.result.best.meanError}`);
    assert.equal(own.count, r.result.best.count);
    const resumed = await trainFolder({ ...base, out, epochs: 4, patience: 5, resume: true }, set);
    assert.deepEqual(resumed.result.epochs.map((x) => x.epoch), [4]);
  });

  it('a checkpoint that cannot be written fails the run with its path, and touches nothing of the user\'s', async () => {
    const dir = join(root, 'blocked');
    const out = join(dir, 'tiny.onnx');
    // A folder where the checkpoint goes: its rename fails after the first epoch, while the second trains.
    mkdirSync(checkpointPath(out), { recursive: true });
    writeFileSync(join(checkpointPath(out), 'notes.txt'), 'user');
    await assert.rejects(trainFolder({ ...base, out, epochs: 3, patience: 5 }, set), (e: Error) => e.message.includes(checkpointPath(out)));
    assert.deepEqual(readdirSync(dir).sort(), ['tiny.ckpt.onnx', 'tiny.onnx']);
    assert.equal(readFileSync(join(checkpointPath(out), 'notes.txt'), 'utf8'), 'user');
  });

  it('an interrupted run resumed from its checkpoint ends with the weights an uninterrupted run has, bit for bit (Adam\'s state included)', async () => {
    const whole = join(root, 'whole.onnx');
    const parts = join(root, 'parts.onnx');
    const opts = { ...base, epochs: 3, patience: 5, head: 'heatmap', grid: 8, arch: 'resnet', inputSize: 16 } as const;
    await trainFolder({ ...opts, out: whole }, set);
    await trainFolder({ ...opts, out: parts, stopAfter: 2 }, set);
    const resumed = await trainFolder({ ...opts, out: parts, resume: true }, set);
    assert.deepEqual(resumed.result.epochs.map((e) => e.epoch), [3]);
    const a = fullCheckpoint(whole);
    const b = fullCheckpoint(parts);
    assert.ok([...a.initializers.keys()].some((k) => k.startsWith('luxcert.adam.m:')), 'the checkpoint keeps Adam\'s moments');
    for (const [k, t] of a.initializers) assert.deepEqual(b.initializers.get(k)!.data, t.data, k);
    assert.equal(b.metadata['luxcert.train.adam_step'], a.metadata['luxcert.train.adam_step']);
  });

  it('trains to the same weights, bit for bit, one step per run as several (the default), with its batches made on the main thread or a worker thread', async () => {
    const opts = { ...base, epochs: 2, patience: 5 } as const;
    const [single, worker, grouped] = [join(root, 'single.onnx'), join(root, 'worker.onnx'), join(root, 'grouped.onnx')];
    await trainFolder({ ...opts, out: single, batchWorker: false, engine: { device: 'cpu', stepsPerRun: 1 } }, set);
    assert.ok(DEFAULT_STEPS_PER_RUN > 1, 'the default groups steps, so the runs below take several');
    // 102 training scenes in batches of 16: at 4 per run a run of 4 steps, a run of 2, then the short last batch;
    // the worker keeps a run's worth of batches in the making.
    await trainFolder({ ...opts, out: worker, batchWorker: true }, set);
    const run = await trainFolder({ ...opts, out: grouped, batchWorker: false }, set);
    const a = fullCheckpoint(single);
    for (const other of [worker, grouped]) {
      const b = fullCheckpoint(other);
      for (const [k, t] of a.initializers) assert.deepEqual(b.initializers.get(k)!.data, t.data, `${other}: ${k}`);
    }
    assert.equal(run.result.epochs.length, 2);
  });

  it('refuses a checkpoint whose training state or Adam moments are damaged, naming the file and field', async () => {
    const out = join(root, 'damaged.onnx');
    await trainFolder({ ...base, out, epochs: 1, patience: 5 }, set);
    const cases: [(g: Graph) => void, RegExp][] = [
      [(g) => (g.metadata['luxcert.train.epoch'] = 'NaN'), /metadata luxcert\.train\.epoch is 'NaN'/],
      [(g) => (g.metadata['luxcert.train.adam_step'] = '-3'), /metadata luxcert\.train\.adam_step is '-3'/],
      [(g) => g.initializers.get('luxcert.adam.v:fc1.weight')!.data.fill(-1, 0, 1), /second moment of weight 'fc1\.weight' holds a negative/],
      [(g) => g.initializers.delete('luxcert.adam.m:conv1.weight'), /first moment of weight 'conv1\.weight' is missing/],
    ];
    const pristine = readFileSync(checkpointPath(out));
    for (const [damage, message] of cases) {
      writeFileSync(checkpointPath(out), pristine);
      const g = fullCheckpoint(out);
      damage(g);
      writeOnnxFile(checkpointPath(out), g);
      await assert.rejects(trainFolder({ ...base, out, epochs: 2, patience: 5, resume: true }, set), (e: Error) => message.test(e.message) && e.message.includes(checkpointPath(out)));
    }
  });

  it('refuses to resume under other settings than the checkpoint recorded, naming the setting; more epochs are allowed', async () => {
    const out = join(root, 'settings.onnx');
    await trainFolder({ ...base, out, epochs: 2, patience: 5, stopAfter: 1 }, set);
    const cases: [Partial<Parameters<typeof trainFolder>[0]>, RegExp][] = [
      [{ lr: 1e-3 }, /the checkpoint's run has lr 0\.003, this one 0\.001/],
      [{ batchSize: 8 }, /has batch_size 16, this one 8/],
      [{ seed: 2 }, /has seed 1, this one 2/],
      [{ augment: false }, /has augment \{.*, this one none/],
      [{ regularisers: (g) => channelRegularisers(g, { box: boxFromFlags(0.1, 0.1), wasserstein: 30, reluStability: 0 }) }, /has regularisers none, this one \{/],
    ];
    for (const [change, message] of cases) {
      await assert.rejects(trainFolder({ ...base, out, epochs: 2, patience: 5, resume: true, ...change }, set), (e: Error) => message.test(e.message) && e.message.startsWith(checkpointPath(out)), String(message));
    }
    // A checkpoint's value is untrusted: shown on the one line, control characters replaced.
    const pristine = readFileSync(checkpointPath(out));
    const g = fullCheckpoint(out);
    g.metadata['luxcert.train.setting.lr'] = '0.003\nluxcert: all is well';
    writeOnnxFile(checkpointPath(out), g);
    await assert.rejects(trainFolder({ ...base, out, epochs: 2, patience: 5, resume: true }, set), (e: Error) => !e.message.includes('\n') && e.message.includes("has lr 0.003?luxcert: all is well, this one 0.003"));
    writeFileSync(checkpointPath(out), pristine);
    const longer = await trainFolder({ ...base, out, epochs: 3, patience: 5, resume: true }, set);
    assert.deepEqual(longer.result.epochs.map((e) => e.epoch), [2, 3]);
  });

  it('trains a heatmap head (cross-entropy over cells)', async () => {
    const out = join(root, 'heat.onnx');
    const r = await trainFolder({ ...base, out, head: 'heatmap', grid: 8, epochs: 2, patience: 5 }, set);
    assert.equal(r.meta.grid, 8);
    assert.ok(r.result.epochs.every((e) => Number.isFinite(e.loss)));
    assert.ok(r.result.epochs[1]!.loss < r.result.epochs[0]!.loss);
  });

  it('trains from scratch under the Wasserstein and ReLU-stability regularisers when asked, and records their weights', () => {
    type Summary = { epochs: { loss: number; wasserstein?: number; reluStability?: number }[] };
    const run = (name: string, ...flags: string[]) => {
      const out = join(root, `${name}.onnx`);
      const r = luxcert('train', '--data', data, '--out', out, '--epochs', '2', '--batch-size', '16', '--json', ...flags);
      assert.equal(r.code, 0, r.stderr);
      return { summary: JSON.parse(r.stdout) as Summary, model: readOnnxFile(out) };
    };
    const plain = run('plain');
    const both = run('regularised', '--wasserstein', '30', '--relu-stability', '10', '--brightness', '0.2', '--contrast', '0.2');
    const onlyW = run('wasserstein', '--wasserstein', '30');
    assert.ok(plain.summary.epochs.every((e) => e.wasserstein === undefined && e.reluStability === undefined));
    assert.deepEqual([plain.model.metadata['luxcert.train.wasserstein'], plain.model.metadata['luxcert.train.relu_stability']], ['0', '0']);
    assert.deepEqual([both.model.metadata['luxcert.train.wasserstein'], both.model.metadata['luxcert.train.relu_stability']], ['30', '10']);
    for (const e of both.summary.epochs) assert.ok(e.wasserstein! > 0 && e.reluStability! > 0 && Number.isFinite(e.wasserstein! + e.reluStability!), JSON.stringify(e));
    assert.ok(onlyW.summary.epochs.every((e) => e.wasserstein! > 0 && e.reluStability === undefined));
    // Same seed, batches and initial weights: only the regularisers' gradients can set the weights apart.
    const differs = (a: Graph, b: Graph) => [...a.initializers].some(([k, t]) => t.data.some((v, i) => v !== b.initializers.get(k)!.data[i]));
    assert.ok(differs(plain.model, both.model) && differs(plain.model, onlyW.model));
    const bad = luxcert('train', '--data', data, '--out', join(root, 'never-reg.onnx'), '--epochs', '1', '--wasserstein', '-1');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--wasserstein must be/);
  });

  it('refuses an unknown training device, bad thread and step counts, an input size past the tensor bound and a CUDA provider that is not installed, in one line', () => {
    const out = join(root, 'never.onnx');
    for (const [flags, message] of [
      [['--device', 'tpu'], /unknown training device 'tpu' \(cpu, cuda\)/],
      // Before its weights are drawn: 8e11 of them would otherwise end the process with an internal error.
      [['--input-size', '100000'], /input size 100000: tiny's regression head would hold 960000000000 weights in one layer, over the 67108864/],
      [['--input-size', '132', '--arch', 'cnn7'], /input size 132: cnn7's regression head would hold 71368704 weights/],
      [['--input-size', '4096', '--head', 'heatmap'], /input size 4096: tiny's value 'conv1' has shape \[batch,8,4096,4096\]: over 67108864 elements per image/],
      [['--threads', '0'], /--threads must be an integer > 0/],
      [['--threads', '1000000'], /--threads must be at most 64/],
      [['--grid', '4'], /a grid \(4\) is for the heatmap head; the regression head has none/],
      [['--steps-per-run', '0'], /--steps-per-run must be an integer > 0/],
      [['--steps-per-run', '17'], /--steps-per-run must be at most 16/],
      // Only where onnxruntime-node was installed without its CUDA provider (CI, this repository's .npmrc).
      ...(cudaInstalled ? [] : [[['--device', 'cuda'], /onnxruntime-cuda could not open the training step/]] as const),
    ] as const) {
      const r = luxcert('train', '--data', data, '--out', out, '--epochs', '1', ...flags);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('luxcert:')).length, 1);
    }
    assert.ok(!existsSync(out), 'nothing is written');
  });

  it('a resumed run\'s summary counts its epochs from the run\'s start', () => {
    const out = join(root, 'sliced.onnx');
    const first = luxcert('train', '--data', data, '--out', out, '--epochs', '2', '--stop-after', '1', '--batch-size', '16');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^best epoch 1 of 1: /m);
    const second = luxcert('train', '--data', data, '--out', out, '--epochs', '2', '--resume', '--batch-size', '16');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^best epoch [12] of 2: /m);
  });

  it('refuses a data set whose keypoint count does not match the model head', () => {
    const r = luxcert('eval', '--model', join(root, 'tiny.onnx'), '--data', data, '--keypoints', 'a,b,c');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /keypoint count does not match the model head/);
  });
});

describe('`luxcert demo --quick`', () => {
  it('synthesises, trains, prunes, evaluates and certifies dense and pruned on held-out scenes, and runs the pruned bundle', () => {
    const out = join(root, 'demo');
    const r = luxcert('demo', '--quick', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    interface Assessed { accuracy: { objects: number; pck: Record<string, number> }; certification: { pairs: number; certified: number; falsified: number; unknown: number; soundness: { violations: number } }; params: number }
    const s = JSON.parse(r.stdout) as { model: string; dense: Assessed; prunedModel: Assessed; backend: string; runtime: { processed: number; fps: number } };
    assert.equal(s.dense.accuracy.objects, 40);
    for (const m of [s.dense, s.prunedModel]) {
      const c = m.certification;
      assert.ok(c.pairs > 0 && c.certified + c.falsified + c.unknown === c.pairs);
      assert.equal(c.soundness.violations, 0);
    }
    assert.ok(s.prunedModel.params < s.dense.params, 'the pruned model is smaller');
    const pruneMeta = readOnnxFile(join(out, 'pruned.onnx')).metadata;
    assert.deepEqual([pruneMeta['luxcert.prune.method'], pruneMeta['luxcert.prune.wasserstein'], pruneMeta['luxcert.prune.relu_stability']], ['usn', '30', '10'], 'USN under both regularisers');
    assert.equal(s.runtime.processed, 10);
    assert.ok(s.runtime.fps > 0);
    assert.ok(existsSync(join(out, 'bundle', 'manifest.json')) && existsSync(join(out, 'results.jsonl')));

    assert.ok(existsSync(join(out, 'model.onnx')) && existsSync(join(out, 'summary.json')));
    const ev = luxcert('eval', '--model', join(out, 'model.onnx'), '--data', join(out, 'data', 'test'), '--json');
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal((JSON.parse(ev.stdout) as { objects: number }).objects, 40);
  });
});
