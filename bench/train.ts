// Training throughput and peak memory of every zoo architecture, luxcert beside PyTorch: the same
// graph, loss (smooth-L1 / cell cross-entropy), Adam and batch, each configuration run in its own
// process (so peak memory is its own), luxcert and PyTorch interleaved so machine drift hits both:
// each configuration runs in rounds, alternating which side goes first (ABBA), and each side's best
// round is reported (the round least disturbed by whatever else the machine did), with every
// round's ratio beside it.
// PyTorch is Debian's python3-torch (apt-get install python3-torch), run when a python3 has it.
// Also onnxruntime's inference throughput on the same model and batch (the practical ceiling a
// training step, about three forward passes, can approach), and PyTorch's training against its own
// inference on the same graph (running statistics, no autograd) for comparison.
// Also what moving the training state across the JavaScript boundary costs per step.
// --regularisers: the step `prune` fine-tunes with instead — the Wasserstein (λ = 30) and ReLU-stability
// (μ = 10) regularisers on the prunable channels, one (α, β) per image from brightness ±0.1 × contrast ±0.1.
// Usage: npm run bench:train [-- --sizes 32,64 --batch 32 --archs tiny,cnn7,resnet --heads regression,heatmap --seconds 3 --threads 2 --rounds 2 --regularisers]
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/random.ts';
import { sizeOf } from '../src/core/tensor.ts';
import type { Graph } from '../src/graph/graph.ts';
import { modelMeta } from '../src/model/metadata.ts';
import { boxFromFlags } from '../src/model/perturbation.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { encodeOnnx } from '../src/onnx/write.ts';
import { OnnxEmitter } from '../src/onnx/emit.ts';
import { BENCHMARK_REGULARISERS, channelRegularisers } from '../src/prune/prune-model.ts';
import { weightRoles } from '../src/train/grad/tape.ts';
import type { PerturbationRegularisers } from '../src/train/regularisers.ts';
import { StepRunner } from '../src/train/step-runner.ts';
import { pieceLengths, STATE_PIECE_VALUES, stateSlots } from '../src/train/train-step.ts';
import { ARCHS, buildZooModel, type Arch } from '../src/train/zoo.ts';
import { perSecond } from './timing.ts';
import { findTorch } from './torch.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '32,64' }, batch: { type: 'string', default: '32' }, archs: { type: 'string', default: ARCHS.join(',') },
    heads: { type: 'string', default: 'regression,heatmap' }, seconds: { type: 'string', default: '3' }, threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' }, regularisers: { type: 'boolean', default: false }, one: { type: 'string' },
  },
});
if (!Number.isInteger(Number(values.rounds)) || Number(values.rounds) < 1) throw new Error(`--rounds must be a whole number ≥ 1, not '${values.rounds}'`);
const KEYPOINTS = ['a', 'b', 'c', 'd'];

/** One configuration of the bench. */
interface Config { arch: Arch; head: 'regression' | 'heatmap'; size: number; batch: number; seconds: number; regularised: boolean }
/** What one side measured for a configuration. */
interface Measured { imagesPerSecond: number; peakMiB: number }
/** PyTorch's side also measures its own inference on the graph. */
interface PyTorchMeasured extends Measured { inferImagesPerSecond: number; torch: string }

const modelOf = (c: Config): Graph => buildZooModel({ arch: c.arch, head: c.head, keypoints: KEYPOINTS, skeleton: [], inputSize: c.size, cropPadding: 1.25, seed: 1 });

/** The box the regularised step perturbs within: brightness ±0.1 × contrast ±0.1, the benchmark's pruning box. */
const BOX = boxFromFlags(0.1, 0.1);

/** The regularisers `prune` fine-tunes with on the model's prunable channels (the experiment's "rs" setting), or none. */
const regularisersOf = (c: Config, g: Graph): PerturbationRegularisers | undefined =>
  c.regularised ? channelRegularisers(g, { box: BOX, ...BENCHMARK_REGULARISERS }) : undefined;

/** One (α, β) per image, uniform in the box, the same on both sides. */
function perturbations(c: Config): { alpha: Float32Array; beta: Float32Array } {
  const rng = new Rng(2);
  return { alpha: Float32Array.from({ length: c.batch }, () => rng.uniform(BOX.alphaLo, BOX.alphaHi)), beta: Float32Array.from({ length: c.batch }, () => rng.uniform(BOX.betaLo, BOX.betaHi)) };
}

/** luxcert's side, in this (child) process: training steps, then onnxruntime inference on the same batch. */
async function luxcertSide(c: Config): Promise<Measured & { ort: number; crossingMs: number; stepMs: number }> {
  const rng = new Rng(1);
  const g = modelOf(c);
  const meta = modelMeta(g, c.arch);
  const n = c.batch;
  const data = Float32Array.from({ length: n * 3 * c.size * c.size }, () => rng.next());
  const batch = { n, x: data, keypoints: Float32Array.from({ length: n * KEYPOINTS.length * 2 }, () => rng.uniform(0, c.size)), mask: new Float32Array(n * KEYPOINTS.length).fill(1), ...(c.regularised ? perturbations(c) : {}) };
  const regularisers = regularisersOf(c, g);
  const runner = new StepRunner(g, meta, { engine: { device: 'cpu', threads: Number(values.threads) }, ...(regularisers ? { regularisers } : {}) });
  const train = await perSecond(c.seconds, async () => {
    await runner.step(batch, 1e-3);
    return n;
  });
  // Peak memory of training alone: read before the other sessions allocate.
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  await runner.release();
  const session = await openSession(encodeOnnx(g), { intraOpNumThreads: Number(values.threads) });
  const ort = await perSecond(2, async () => {
    await runSession(session, { image: { dims: [n, 3, c.size, c.size], data } });
    return n;
  });
  return { imagesPerSecond: train, peakMiB, ort, stepMs: (1000 * n) / train, crossingMs: await crossingCost(g) };
}

/**
 * What moving the training state (weights, Adam's moments, statistics) into and out of onnxruntime
 * costs per step: a session that only passes the same tensors through (Identity), timed.
 */
async function crossingCost(g: Graph): Promise<number> {
  const { params, statistics } = weightRoles(g);
  const e = new OnnxEmitter('crossing');
  const feeds: Record<string, ort.Tensor> = {};
  const pass = (name: string, dims: number[]) => {
    e.output(e.op('Identity', [e.input(name, dims)]), `out:${name}`);
    feeds[name] = new ort.Tensor('float32', new Float32Array(sizeOf(dims)), dims);
  };
  // The step's own layout: weights and moments whole or in pieces.
  for (const p of params) {
    const dims = g.initializers.get(p)!.dims;
    const lengths = pieceLengths(sizeOf(dims), STATE_PIECE_VALUES);
    for (const kind of ['p', 'm', 'v'] as const) for (const slot of stateSlots(kind, p, dims, lengths)) pass(slot.key, slot.dims);
  }
  for (const s of statistics) pass(`s:${s}`, g.initializers.get(s)!.dims);
  const session = await ort.InferenceSession.create(e.encode(), { intraOpNumThreads: Number(values.threads), logSeverityLevel: 3 });
  const calls = 20;
  await session.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await session.run(feeds);
  const ms = (performance.now() - t0) / calls;
  await session.release();
  return ms;
}

/** PyTorch's side: the graph as JSON for bench/pytorch-train.py, run by a python3 that has torch. */
function pytorchSide(python: string, c: Config, dir: string): PyTorchMeasured {
  const g = modelOf(c);
  const trainable = weightRoles(g).params;
  const spec = {
    threads: Number(values.threads), batch: c.batch, size: c.size, keypoints: KEYPOINTS.length, head: c.head, seconds: c.seconds,
    ...(c.head === 'heatmap' ? { grid: modelMeta(g, c.arch).grid } : {}),
    input: g.inputs[0]!.name, output: g.outputs[0]!.name, trainable,
    ...(c.regularised ? { regularisers: regularisersOf(c, g), ...Object.fromEntries(Object.entries(perturbations(c)).map(([k, v]) => [k, [...v]])) } : {}),
    nodes: g.nodes.map((n) => ({ op: n.op, inputs: n.inputs, outputs: n.outputs, attrs: n.attrs })),
    initializers: Object.fromEntries([...g.initializers].map(([k, t]) => [k, { dims: t.dims, data: [...t.data] }])),
  };
  const file = join(dir, `${c.arch}-${c.head}-${c.size}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const r = spawnSync(python, [new URL('./pytorch-train.py', import.meta.url).pathname, file], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: values.threads } });
  if (r.status !== 0) throw new Error(`pytorch-train.py failed on ${c.arch}/${c.head}/${c.size}: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PyTorchMeasured;
}

/** luxcert's side of one round, in a child process of its own (so its peak memory is its own). */
function luxcertChild(c: Config): Awaited<ReturnType<typeof luxcertSide>> {
  const child = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--one', JSON.stringify(c), '--threads', values.threads!], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`luxcert side failed on ${c.arch}/${c.head}/${c.size}: ${child.stderr.trim().split('\n').pop()}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as Awaited<ReturnType<typeof luxcertSide>>;
}

if (values.one !== undefined) {
  console.log(JSON.stringify(await luxcertSide(JSON.parse(values.one) as Config)));
} else {
  const python = findTorch();
  const dir = mkdtempSync(join(tmpdir(), 'luxcert-bench-train-'));
  const rows: string[][] = [['arch', 'head', 'size', 'params', 'luxcert img/s', 'PyTorch img/s', 'luxcert / PyTorch', 'per round', 'luxcert peak MiB', 'PyTorch peak MiB', 'peak ratio', 'onnxruntime infer img/s', 'train / infer', 'PyTorch infer img/s', 'PyTorch train / its infer', 'state crossing ms / step ms']];
  let torchVersion = 'not installed';
  try {
    for (const size of values.sizes!.split(',').map(Number)) {
      for (const arch of values.archs!.split(',') as Arch[]) {
        for (const head of values.heads!.split(',') as Config['head'][]) {
          const c: Config = { arch, head, size, batch: Number(values.batch), seconds: Number(values.seconds), regularised: values.regularisers! };
          const lxRounds: Awaited<ReturnType<typeof luxcertSide>>[] = [];
          const ptRounds: PyTorchMeasured[] = [];
          for (let r = 0; r < Number(values.rounds); r++) {
            const sides = [() => { lxRounds.push(luxcertChild(c)); }, ...(python ? [() => { ptRounds.push(pytorchSide(python, c, dir)); }] : [])];
            for (const side of r % 2 === 0 ? sides : sides.reverse()) side();
          }
          const best = <T extends Measured>(ms: T[]) => ms.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
          const peak = (ms: Measured[]) => Math.max(...ms.map((m) => m.peakMiB));
          const lx = { ...best(lxRounds), peakMiB: peak(lxRounds) };
          const pt = ptRounds.length > 0 ? { ...best(ptRounds), peakMiB: peak(ptRounds) } : undefined;
          if (pt) torchVersion = pt.torch;
          const perRound = pt ? lxRounds.map((l, i) => (l.imagesPerSecond / ptRounds[i]!.imagesPerSecond).toFixed(2)).join(', ') : '—';
          const params = [...modelOf(c).initializers.values()].reduce((a, t) => a + t.data.length, 0);
          rows.push([arch, head, String(size), String(params), lx.imagesPerSecond.toFixed(1), pt ? pt.imagesPerSecond.toFixed(1) : '—', pt ? (lx.imagesPerSecond / pt.imagesPerSecond).toFixed(2) : '—', perRound, lx.peakMiB.toFixed(0), pt ? pt.peakMiB.toFixed(0) : '—', pt ? (lx.peakMiB / pt.peakMiB).toFixed(2) : '—', lx.ort.toFixed(0), (lx.imagesPerSecond / lx.ort).toFixed(3), pt ? pt.inferImagesPerSecond.toFixed(0) : '—', pt ? (pt.imagesPerSecond / pt.inferImagesPerSecond).toFixed(3) : '—', `${lx.crossingMs.toFixed(2)} / ${lx.stepMs.toFixed(1)}`]);
          console.error(`${arch}/${head}/${size} done`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`bench:train${values.regularisers ? ' --regularisers (prune\'s fine-tuning step: W λ = 30, RS μ = 10, brightness ±0.1 × contrast ±0.1)' : ''} — batch ${values.batch}, ${values.threads} threads for PyTorch, ≥ ${values.seconds} s per measurement, best of ${values.rounds} alternating rounds; luxcert on onnxruntime-cpu (${values.threads} threads), PyTorch ${torchVersion}, Node ${process.version}`);
  console.log(`| ${rows[0]!.join(' | ')} |`);
  console.log(`|${rows[0]!.map(() => '---|').join('')}`);
  for (const r of rows.slice(1)) console.log(`| ${r.join(' | ')} |`);
}
