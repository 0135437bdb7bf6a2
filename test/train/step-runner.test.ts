import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { it } from 'node:test';
import { evaluateGraph } from '../../src/graph/evaluate.ts';
import { modelMeta } from '../../src/model/metadata.ts';
import { nchwcBlock } from '../../src/onnx/nchwc.ts';
import { boxFromFlags } from '../../src/model/perturbation.ts';
import { BENCHMARK_REGULARISERS, channelRegularisers } from '../../src/prune/prune-model.ts';
import { onnx } from '../../src/onnx/proto.ts';
import { openSession } from '../../src/onnx/ort.ts';
import { CPU_ENGINE, DEFAULT_STEPS_PER_RUN, defaultStepsPerRun, engineSessionOptions } from '../../src/train/engine.ts';
import { scanSteps, stackFeeds } from '../../src/train/scan-steps.ts';
import { StepRunner, type StepLosses } from '../../src/train/step-runner.ts';
import { ADAM, adamScalars, buildTrainStep, nextName } from '../../src/train/train-step.ts';
import { buildZooModel } from '../../src/train/zoo.ts';
import { firstStepFeeds, randomBatch, StepProbe } from './step-check.ts';

const cnn7 = () => buildZooModel({ arch: 'cnn7', head: 'heatmap', keypoints: ['a', 'b'], skeleton: [], inputSize: 8, cropPadding: 1.25, seed: 3 });

it('one step is Adam\'s update of every weight from its gradient, and BatchNorm\'s running statistics move 10 % towards the batch\'s', async () => {
  const g = cnn7();
  const meta = modelMeta(g, 'cnn7');
  const batch = randomBatch(meta, 4, 1);
  // The runner's form of the step (blocked convolutions where the CPU has them): rounding differs between forms.
  const probe = await StepProbe.open(g, meta, batch, undefined, await nchwcBlock());
  const grads = StepProbe.gradients(await probe.run(), probe.step.params);
  await probe.release();
  const runner = new StepRunner(g, meta);
  const lr = 0.01;
  await runner.step(batch, lr);
  const after = runner.weights();
  const adam = runner.optimizerState();
  await runner.release();
  // Step 1: m̂ = g, v̂ = g², so each weight moves by lr·g / (|g| + ε); the moments, as checkpoints
  // save them, are (1 − β₁)·g and (1 − β₂)·g².
  assert.deepEqual([...adam.m.keys()].sort(), [...grads.keys()].sort());
  for (const [name, grad] of grads) {
    const before = g.initializers.get(name)!.data;
    const now = after.get(name)!.data;
    const [m, v] = [adam.m.get(name)!, adam.v.get(name)!];
    assert.deepEqual(m.dims, grad.dims);
    grad.data.forEach((gi, i) => {
      const expected = before[i]! - (lr * gi) / (Math.abs(gi) + ADAM.epsilon);
      assert.ok(Math.abs(now[i]! - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${name}[${i}]: ${now[i]} vs ${expected}`);
      assert.ok(Math.abs(m.data[i]! - (1 - ADAM.beta1) * gi) <= 1e-6 * Math.max(1e-3, Math.abs(gi)), `m of ${name}[${i}]`);
      assert.ok(Math.abs(v.data[i]! - (1 - ADAM.beta2) * gi * gi) <= 1e-6 * Math.max(1e-6, gi * gi), `v of ${name}[${i}]`);
    });
  }
  // conv1's BatchNorm sees conv1's output: its running mean moves to 0.9·old + 0.1·batch mean.
  const bn = g.nodes.find((n) => n.op === 'BatchNormalization')!;
  const x = evaluateGraph({ ...g, inputs: [{ name: 'image', shape: [4, 3, 8, 8] }], outputs: [{ name: bn.inputs[0]!, shape: [] }] }, { image: { dims: [4, 3, 8, 8], data: batch.x } })[bn.inputs[0]!]!;
  const c = x.dims[1]!;
  const plane = x.dims[2]! * x.dims[3]!;
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let n = 0; n < 4; n++) for (let j = 0; j < plane; j++) sum += x.data[(n * c + ch) * plane + j]!;
    const expected = 0.9 * g.initializers.get(bn.inputs[3]!)!.data[ch]! + 0.1 * (sum / (4 * plane));
    assert.ok(Math.abs(after.get(bn.inputs[3]!)!.data[ch]! - expected) < 1e-5, `running mean[${ch}]`);
  }
});

it('Adam\'s folded scalars give the textbook update lr·m̂ / (√v̂ + ε)', () => {
  for (const t of [1, 2, 10, 1000]) {
    const { lr_t, eps_t } = adamScalars(0.003, t);
    const m = 0.2;
    const v = 0.05;
    const textbook = (0.003 * (m / (1 - ADAM.beta1 ** t))) / (Math.sqrt(v / (1 - ADAM.beta2 ** t)) + ADAM.epsilon);
    assert.ok(Math.abs((lr_t * m) / (Math.sqrt(v) + eps_t) - textbook) < 1e-12);
  }
});

it('training is deterministic for a seed on the CPU: two runners from the same weights and batches agree bit for bit', async () => {
  const runs = await Promise.all([0, 1].map(async () => {
    const g = cnn7();
    const meta = modelMeta(g, 'cnn7');
    const runner = new StepRunner(g, meta);
    for (let i = 0; i < 3; i++) await runner.step(randomBatch(meta, i === 2 ? 3 : 4, i), 0.01);
    const w = runner.weights();
    await runner.release();
    return w;
  }));
  for (const [name, t] of runs[0]!) assert.deepEqual(t.data, runs[1]!.get(name)!.data, name);
});

it('a weight of more values than a state piece crosses in pieces, and trains and resumes bit for bit as it does whole', async () => {
  const pieceValues = 5_000;
  const g = cnn7();
  const meta = modelMeta(g, 'cnn7');
  const step = buildTrainStep({ model: g, meta, batch: 4, pieceValues });
  // Over four pieces' values: conv2's and head.conv's 36,864 weights cross as 8 flat pieces, conv3's 73,728 as 15; conv1's 1,728 and the biases whole.
  const counts = Object.fromEntries(Object.entries(step.pieces).map(([name, lengths]) => [name, lengths.length]));
  assert.deepEqual([counts['conv1.weight'], counts['conv2.weight'], counts['conv3.weight'], counts['head.conv.weight']], [1, 8, 15, 8]);
  for (const [name, lengths] of Object.entries(step.pieces)) {
    assert.equal(lengths.reduce((a, b) => a + b, 0), g.initializers.get(name)!.data.length, name);
    assert.ok(Math.max(...lengths) <= pieceValues, name);
  }
  const train = async (runner: StepRunner, from: number, to: number) => {
    for (let i = from; i < to; i++) await runner.step(randomBatch(meta, i === 2 ? 3 : 4, i), 0.01);
  };
  const whole = new StepRunner(cnn7(), meta);
  const pieced = new StepRunner(cnn7(), meta, { pieceValues });
  await train(whole, 0, 2);
  await train(pieced, 0, 2);
  const same = (a: Map<string, { data: Float32Array; dims: number[] }>, b: Map<string, { data: Float32Array; dims: number[] }>, what: string) => {
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [name, t] of a) {
      assert.deepEqual(b.get(name)!.dims, t.dims, `${what} ${name}`);
      assert.deepEqual(b.get(name)!.data, t.data, `${what} ${name}`);
    }
  };
  same(whole.weights(), pieced.weights(), 'weights');
  same(whole.optimizerState().m, pieced.optimizerState().m, 'm');
  same(whole.optimizerState().v, pieced.optimizerState().v, 'v');
  // A whole-state checkpoint resumes in pieces: the next step lands where the whole runner's does.
  const resumedModel = cnn7();
  for (const [name, t] of whole.weights()) resumedModel.initializers.set(name, t);
  const resumed = new StepRunner(resumedModel, meta, { pieceValues });
  resumed.resume(whole.optimizerState());
  await train(whole, 2, 3);
  await train(resumed, 2, 3);
  same(whole.weights(), resumed.weights(), 'resumed weights');
  same(whole.optimizerState().v, resumed.optimizerState().v, 'resumed v');
  await Promise.all([whole.release(), pieced.release(), resumed.release()]);
});

it('the runner\'s scanned step is the compiled step: one step equals a run of buildTrainStep\'s model, bit for bit', async () => {
  const g = cnn7();
  const meta = modelMeta(g, 'cnn7');
  const batch = randomBatch(meta, 4, 2);
  const step = buildTrainStep({ model: g, meta, batch: 4, convBlock: await nchwcBlock() });
  const session = await openSession(step.onnx, engineSessionOptions(CPU_ENGINE));
  const out = await session.run(firstStepFeeds(g, meta, step, batch, adamScalars(0.01, 1)));
  await session.release();
  const runner = new StepRunner(g, meta);
  const losses = await runner.step(batch, 0.01);
  assert.equal(losses.loss, out.loss!.data[0]);
  const weights = runner.weights();
  const adamState = runner.optimizerState();
  for (const p of step.params) {
    assert.deepEqual(weights.get(p)!.data, out[nextName(`p:${p}`)]!.data, p);
    assert.deepEqual(adamState.v.get(p)!.data, out[nextName(`v:${p}`)]!.data, `v of ${p}`);
  }
  for (const s of step.statistics) assert.deepEqual(weights.get(s)!.data, out[nextName(`s:${s}`)]!.data, s);
  await runner.release();
});

it('several steps in one run train bit for bit as single steps: weights, moments, statistics and each step\'s losses', async () => {
  const pieceValues = 5_000;
  const cases = [
    { name: 'cnn7 heatmap, weights in pieces', model: cnn7(), arch: 'cnn7', regularised: false },
    { name: 'resnet regression, regularised', model: buildZooModel({ arch: 'resnet', head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 5 }), arch: 'resnet', regularised: true },
  ];
  for (const c of cases) {
    const meta = modelMeta(c.model, c.arch);
    const opts = { pieceValues, ...(c.regularised ? { regularisers: channelRegularisers(c.model, { box: boxFromFlags(0.1, 0.1), ...BENCHMARK_REGULARISERS }) } : {}) };
    const copy = () => ({ ...c.model, initializers: new Map(c.model.initializers) });
    const batches = Array.from({ length: 6 }, (_, i) => randomBatch(meta, 4, 10 + i));
    const single = new StepRunner(copy(), meta, opts);
    const grouped = new StepRunner(copy(), meta, opts);
    const alone: StepLosses[] = [];
    for (const b of batches) alone.push(await single.step(b, 0.01));
    // Four in one run, then the remaining two in a shorter one, as the trainer runs an epoch's remainder.
    const together = [...(await grouped.runSteps(batches.slice(0, 4), 0.01)), ...(await grouped.runSteps(batches.slice(4), 0.01))];
    assert.deepEqual(together, alone, `${c.name}: losses`);
    if (c.regularised) assert.ok(alone.every((l) => l.wasserstein !== undefined && l.reluStability !== undefined), `${c.name}: regularisers' terms`);
    assert.equal(grouped.steps, 6);
    for (const [what, a, b] of [['weights', single.weights(), grouped.weights()], ['m', single.optimizerState().m, grouped.optimizerState().m], ['v', single.optimizerState().v, grouped.optimizerState().v]] as const) {
      for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, `${c.name}: ${what} ${name}`);
    }
    await Promise.all([single.release(), grouped.release()]);
  }
});

it('a scanned step keeps the state\'s names and takes every other input and output stacked along a first axis of steps', () => {
  const g = cnn7();
  const step = buildTrainStep({ model: g, meta: modelMeta(g, 'cnn7'), batch: 2 });
  const scanned = scanSteps(step);
  assert.equal(scanned.scanned, true);
  assert.deepEqual(scanned.inputs, step.inputs);
  assert.deepEqual(scanned.params, step.params);
  const graph = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph!;
  const [before, after] = [graph(step.onnx), graph(scanned.onnx)];
  assert.deepEqual(after.node!.map((n) => n.opType), ['Scan']);
  const dims = (v: { type?: { tensorType?: { shape?: { dim?: { dimValue?: unknown; dimParam?: string | null }[] | null } | null } | null } | null }) =>
    v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
  for (const i of before.input!) {
    const outer = after.input!.find((o) => o.name === i.name)!;
    assert.deepEqual(dims(outer), i.name! in step.inputs ? ['steps', ...dims(i)] : dims(i), i.name!);
  }
  assert.deepEqual(after.output!.map((o) => o.name).sort(), before.output!.map((o) => o.name).sort());
  assert.throws(() => scanSteps(scanned), /single step/);
  const one = (dims: number[]) => ({ image: new ort.Tensor('float32', new Float32Array(dims.reduce((p, d) => p * d, 1)), dims) });
  assert.deepEqual(stackFeeds([one([2, 3]), one([2, 3])]).image!.dims, [2, 2, 3]);
  assert.throws(() => stackFeeds([one([2, 3]), one([3, 2])]), /differ in their 'image'/);
});

it('trains several steps per run by default, one where the weights and both moments exceed 64 MiB (a run of several holds two more copies of them)', () => {
  const zoo = (arch: 'tiny' | 'cnn7', size: number) => buildZooModel({ arch, head: 'regression', keypoints: ['a', 'b', 'c', 'd'], skeleton: [], inputSize: size, cropPadding: 1.25, seed: 1 });
  assert.equal(defaultStepsPerRun(zoo('tiny', 64)), DEFAULT_STEPS_PER_RUN);
  // 4.6 M weights: 55 MB of state; 17.2 M: 206 MB.
  assert.equal(defaultStepsPerRun(zoo('cnn7', 32)), DEFAULT_STEPS_PER_RUN);
  assert.equal(defaultStepsPerRun(zoo('cnn7', 64)), 1);
  assert.ok(DEFAULT_STEPS_PER_RUN > 1);
});
