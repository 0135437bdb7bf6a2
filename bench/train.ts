// Training throughput and peak memory of every zoo architecture, luxcert beside PyTorch: the same
// graph, loss (smooth-L1 / cell cross-entropy), Adam and batch, each side of each configuration in a
// process of its own (so peak memory is its own), the two taking turns in short slots (bench/slots.ts),
// alternating which goes first (ABBA), so that the machine's drift slows both alike. A PyTorch process
// here also runs at one of two speeds for its whole life (docs/training-measurements.md), so each
// configuration runs in rounds of fresh processes. Each side's rate is its images over its slots' time in all rounds; beside it the
// median and range of the slot pairs' ratios, and each round's.
// PyTorch is Debian's python3-torch (apt-get install python3-torch), run when a python3 has it.
// Also onnxruntime's inference throughput on the same model and batch (the practical ceiling a
// training step, about three forward passes, can approach), and PyTorch's training against its own
// inference on the same graph (running statistics, no autograd) for comparison.
// Also what moving the training state across the JavaScript boundary costs per step (once per run of --steps-per-run steps).
// --regularisers: the step `prune` fine-tunes with instead — the Wasserstein (λ = 30) and ReLU-stability
// (μ = 10) regularisers on the prunable channels, one (α, β) per image from brightness ±0.1 × contrast ±0.1.
// --steps-per-run K: luxcert's steps per onnxruntime run (scanSteps; default auto: `luxcert train`'s, defaultStepsPerRun).
// Usage: npm run bench:train [-- --sizes 32,64 --batch 32 --archs tiny,cnn7,resnet --heads regression,heatmap --rounds 2 --seconds 3 --slots 6 --threads 2 --steps-per-run auto --regularisers]
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../src/core/quantile.ts';
import { Rng } from '../src/core/random.ts';
import { sizeOf } from '../src/core/tensor.ts';
import type { Graph } from '../src/graph/graph.ts';
import { modelMeta } from '../src/model/metadata.ts';
import { boxFromFlags } from '../src/model/perturbation.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { encodeOnnx } from '../src/onnx/write.ts';
import { OnnxEmitter } from '../src/onnx/emit.ts';
import { BENCHMARK_REGULARISERS, channelRegularisers } from '../src/prune/prune-model.ts';
import { DEFAULT_STEPS_PER_RUN, defaultStepsPerRun, SEVERAL_STEPS_MAX_STATE_BYTES } from '../src/train/engine.ts';
import { weightRoles } from '../src/train/grad/tape.ts';
import type { PerturbationRegularisers } from '../src/train/regularisers.ts';
import { StepRunner } from '../src/train/step-runner.ts';
import { pieceLengths, STATE_PIECE_VALUES, stateSlots } from '../src/train/train-step.ts';
import { ARCHS, buildZooModel, type Arch } from '../src/train/zoo.ts';
import { writePytorchSpec } from './pytorch-spec.ts';
import { slotRate, serveSlots, SlotChild, type Slot } from './slots.ts';
import { perSecond } from './timing.ts';
import { findTorch } from './torch.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '32,64' }, batch: { type: 'string', default: '32' }, archs: { type: 'string', default: ARCHS.join(',') },
    heads: { type: 'string', default: 'regression,heatmap' }, seconds: { type: 'string', default: '3' }, slots: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' }, threads: { type: 'string', default: '2' }, regularisers: { type: 'boolean', default: false }, serve: { type: 'string' },
    'steps-per-run': { type: 'string', default: 'auto' },
  },
});
const whole = (v: string | undefined) => Number.isInteger(Number(v)) && Number(v) >= 1;
for (const flag of ['rounds', 'slots'] as const) if (!whole(values[flag])) throw new Error(`--${flag} must be a whole number ≥ 1, not '${values[flag]}'`);
if (values['steps-per-run'] !== 'auto' && !whole(values['steps-per-run'])) throw new Error(`--steps-per-run must be 'auto' or a whole number ≥ 1, not '${values['steps-per-run']}'`);
if (!(Number(values.seconds) > 0)) throw new Error(`--seconds must be a positive number, not '${values.seconds}'`);
const KEYPOINTS = ['a', 'b', 'c', 'd'];
/** luxcert's steps per onnxruntime run on a model (`luxcert train --steps-per-run`, or its default). */
const stepsPerRun = (g: Graph): number => (values['steps-per-run'] === 'auto' ? defaultStepsPerRun(g) : Number(values['steps-per-run']));

/** One configuration of the bench. */
interface Config { arch: Arch; head: 'regression' | 'heatmap'; size: number; batch: number; regularised: boolean }
/** What a side reports when it finishes: its peak memory while training (max RSS). */
interface Finished { peakMiB: number }
/** luxcert's side also measures onnxruntime's inference and what crossing the state costs. */
interface LuxcertFinished extends Finished { ort: number; crossingMs: number; stepsPerRun: number }
/** PyTorch's side also measures its own inference on the graph. */
interface PyTorchFinished extends Finished { inferImagesPerSecond: number; torch: string }

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

/** luxcert's side, in this (child) process: training steps in slots, then onnxruntime inference on the same batch. */
async function luxcertSide(c: Config): Promise<void> {
  const rng = new Rng(1);
  const g = modelOf(c);
  const meta = modelMeta(g, c.arch);
  const n = c.batch;
  const data = Float32Array.from({ length: n * 3 * c.size * c.size }, () => rng.next());
  const batch = { n, x: data, keypoints: Float32Array.from({ length: n * KEYPOINTS.length * 2 }, () => rng.uniform(0, c.size)), mask: new Float32Array(n * KEYPOINTS.length).fill(1), ...(c.regularised ? perturbations(c) : {}) };
  const regularisers = regularisersOf(c, g);
  const runner = new StepRunner(g, meta, { engine: { device: 'cpu', threads: Number(values.threads) }, ...(regularisers ? { regularisers } : {}) });
  const k = stepsPerRun(g);
  await serveSlots(
    async () => {
      await runner.runSteps(Array.from({ length: k }, () => batch), 1e-3);
      return n * k;
    },
    async (): Promise<LuxcertFinished> => {
      // Peak memory of training alone: read before the other sessions allocate.
      const peakMiB = process.resourceUsage().maxRSS / 1024;
      await runner.release();
      const session = await openSession(encodeOnnx(g), { intraOpNumThreads: Number(values.threads) });
      const ort = await perSecond(2, async () => {
        await runSession(session, { image: { dims: [n, 3, c.size, c.size], data } });
        return n;
      });
      return { peakMiB, ort, crossingMs: await crossingCost(g), stepsPerRun: k };
    },
  );
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

/** PyTorch's side: the graph for bench/pytorch-train.py (`writePytorchSpec`), run by a python3 that has torch. */
function pytorchSide(python: string, c: Config, dir: string): Promise<SlotChild> {
  const g = modelOf(c);
  const file = join(dir, `${c.arch}-${c.head}-${c.size}.json`);
  writePytorchSpec(file, g, modelMeta(g, c.arch), {
    threads: Number(values.threads), batch: c.batch, keypoints: KEYPOINTS.length,
    ...(c.regularised ? { regularisers: regularisersOf(c, g), ...Object.fromEntries(Object.entries(perturbations(c)).map(([k, v]) => [k, [...v]])) } : {}),
  });
  return SlotChild.start(`pytorch-train.py on ${c.arch}/${c.head}/${c.size}`, python, [new URL('./pytorch-train.py', import.meta.url).pathname, file], { ...process.env, OMP_NUM_THREADS: values.threads });
}

/** luxcert's side of a configuration, in a child process of its own (so its peak memory is its own). */
const luxcertChild = (c: Config): Promise<SlotChild> =>
  SlotChild.start(`luxcert on ${c.arch}/${c.head}/${c.size}`, process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', JSON.stringify(c), '--threads', values.threads!, '--steps-per-run', values['steps-per-run']!]);

/** The median and range of ratios. */
function spread(ratios: number[]): string {
  return `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Waits before each slot until the side that trained last has gone quiet: onnxruntime's threads spin
 * for a while after a step, so luxcert's child used ~29 ms of CPU in the first 100 ms after a slot
 * (~5 in the next 900; PyTorch's ≤ 10 ms in a second), time taken from the other side's slot.
 */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

/** The two sides of the bench. */
type Side = 'luxcert' | 'pytorch';

/** One round of a configuration: a fresh process per side (PyTorch's where a python3 has torch), taking turns in slots (ABBA), then each side's final figures. */
async function round(c: Config, python: string | undefined, dir: string, first: Side) {
  const start = async (side: Side) => (side === 'luxcert' ? luxcertChild(c) : python ? pytorchSide(python, c, dir) : undefined);
  const order: Side[] = first === 'luxcert' ? ['luxcert', 'pytorch'] : ['pytorch', 'luxcert'];
  const children = new Map<Side, SlotChild>();
  for (const side of order) {
    const child = await start(side);
    if (child) children.set(side, child);
  }
  const slots: Record<Side, Slot[]> = { luxcert: [], pytorch: [] };
  const slotSeconds = Number(values.seconds) / Number(values.slots);
  for (let i = 0; i < Number(values.slots); i++) {
    for (const side of i % 2 === 0 ? order : [...order].reverse()) {
      const child = children.get(side);
      if (!child) continue;
      await settle();
      slots[side].push(await child.train(slotSeconds));
    }
  }
  return { slots, luxcert: await children.get('luxcert')!.finish<LuxcertFinished>(), pytorch: await children.get('pytorch')?.finish<PyTorchFinished>() };
}

if (values.serve !== undefined) {
  await luxcertSide(JSON.parse(values.serve) as Config);
} else {
  const python = findTorch();
  const dir = mkdtempSync(join(tmpdir(), 'luxcert-bench-train-'));
  // Each row is printed as its configuration finishes, so a run cut short keeps what it measured.
  const header = ['arch', 'head', 'size', 'params', 'luxcert img/s', 'PyTorch img/s', 'luxcert / PyTorch', 'slot pairs: median (range)', 'per round', 'luxcert peak MiB', 'PyTorch peak MiB', 'peak ratio', 'onnxruntime infer img/s', 'train / infer', 'PyTorch infer img/s', 'PyTorch train / its infer', 'state crossing ms / step ms', 'steps per run'];
  const printRow = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
  printRow(header);
  console.log(`|${header.map(() => '---|').join('')}`);
  let torchVersion = 'not installed';
  try {
    for (const size of values.sizes!.split(',').map(Number)) {
      for (const arch of values.archs!.split(',') as Arch[]) {
        for (const head of values.heads!.split(',') as Config['head'][]) {
          const c: Config = { arch, head, size, batch: Number(values.batch), regularised: values.regularisers! };
          const rounds = [];
          for (let r = 0; r < Number(values.rounds); r++) rounds.push(await round(c, python, dir, r % 2 === 0 ? 'luxcert' : 'pytorch'));
          const lxSlots = rounds.flatMap((r) => r.slots.luxcert);
          const ptSlots = rounds.flatMap((r) => r.slots.pytorch);
          const lxRate = slotRate(lxSlots);
          const lxEnd = { peakMiB: Math.max(...rounds.map((r) => r.luxcert.peakMiB)), ort: mean(rounds.map((r) => r.luxcert.ort)), crossingMs: mean(rounds.map((r) => r.luxcert.crossingMs)), stepsPerRun: rounds[0]!.luxcert.stepsPerRun };
          const pts = rounds.flatMap((r) => (r.pytorch ? [r.pytorch] : []));
          const ptEnd = pts.length > 0 ? { peakMiB: Math.max(...pts.map((p) => p.peakMiB)), inferImagesPerSecond: mean(pts.map((p) => p.inferImagesPerSecond)) } : undefined;
          const ptRate = ptEnd ? slotRate(ptSlots) : NaN;
          if (pts[0]) torchVersion = pts[0].torch;
          const pairs = ptEnd ? spread(lxSlots.map((l, i) => slotRate([l]) / slotRate([ptSlots[i]!]))) : '—';
          const perRound = ptEnd ? rounds.map((r) => (slotRate(r.slots.luxcert) / slotRate(r.slots.pytorch)).toFixed(2)).join(', ') : '—';
          const params = [...modelOf(c).initializers.values()].reduce((a, t) => a + t.data.length, 0);
          printRow([arch, head, String(size), String(params), lxRate.toFixed(1), ptEnd ? ptRate.toFixed(1) : '—', ptEnd ? (lxRate / ptRate).toFixed(2) : '—', pairs, perRound, lxEnd.peakMiB.toFixed(0), ptEnd ? ptEnd.peakMiB.toFixed(0) : '—', ptEnd ? (lxEnd.peakMiB / ptEnd.peakMiB).toFixed(2) : '—', lxEnd.ort.toFixed(0), (lxRate / lxEnd.ort).toFixed(3), ptEnd ? ptEnd.inferImagesPerSecond.toFixed(0) : '—', ptEnd ? (ptRate / ptEnd.inferImagesPerSecond).toFixed(3) : '—', `${(lxEnd.crossingMs / lxEnd.stepsPerRun).toFixed(2)} / ${((1000 * c.batch) / lxRate).toFixed(1)}`, String(lxEnd.stepsPerRun)]);
          console.error(`${arch}/${head}/${size} done`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`bench:train${values.regularisers ? ' --regularisers (prune\'s fine-tuning step: W λ = 30, RS μ = 10, brightness ±0.1 × contrast ±0.1)' : ''} — batch ${values.batch}, ${values.rounds} rounds of fresh processes, each side training ${values.seconds} s a round in ${values.slots} slots taking turns (ABBA); luxcert on onnxruntime-cpu (steps per run: ${values['steps-per-run'] === 'auto' ? `${DEFAULT_STEPS_PER_RUN}, or 1 where the state exceeds ${SEVERAL_STEPS_MAX_STATE_BYTES / 2 ** 20} MiB` : values['steps-per-run']}) and PyTorch ${torchVersion}, ${values.threads} threads each, Node ${process.version}`);
}
