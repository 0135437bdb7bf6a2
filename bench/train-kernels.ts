// Where a training step's time goes, layer by layer, beside PyTorch's own kernels: for every distinct
// Conv (forward, input gradient, weight gradient), BatchNormalization and Relu (each forward and
// backward) of the zoo models at the bench's sizes, luxcert's gradient rules — the very ones the
// training step compiles — run alone in onnxruntime, and PyTorch's ATen kernels on the same shapes
// (bench/pytorch-kernels.py; Debian's python3-torch, run when a python3 has it). Both sides run in
// rounds that alternate which goes first; each kernel's best round is reported. Per model, the sum
// over its layers shows which part of the step (bench:train) is behind and by how much.
// Usage: npm run bench:train-kernels [-- --sizes 32,64 --batch 32 --archs tiny,cnn7,resnet --threads 2 --seconds 0.3 --rounds 2]
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/random.ts';
import { window2d } from '../src/graph/ops/spatial.ts';
import { intAttr } from '../src/graph/attrs.ts';
import type { Node } from '../src/graph/graph.ts';
import { OnnxEmitter } from '../src/onnx/emit.ts';
import { openSession } from '../src/onnx/ort.ts';
import { engineSessionOptions } from '../src/train/engine.ts';
import { nchwcBlock } from '../src/onnx/nchwc.ts';
import { GRAD_RULES } from '../src/train/grad/index.ts';
import { weightRoles } from '../src/train/grad/tape.ts';
import type { GradContext } from '../src/train/grad/rule.ts';
import { staticShapes } from '../src/train/train-step.ts';
import { ARCHS, buildZooModel, type Arch } from '../src/train/zoo.ts';
import { perSecond } from './timing.ts';
import { findTorch } from './torch.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '32,64' }, batch: { type: 'string', default: '32' }, archs: { type: 'string', default: ARCHS.join(',') },
    threads: { type: 'string', default: '2' }, seconds: { type: 'string', default: '0.3' }, rounds: { type: 'string', default: '2' },
  },
});
if (!Number.isInteger(Number(values.rounds)) || Number(values.rounds) < 1) throw new Error(`--rounds must be a whole number ≥ 1, not '${values.rounds}'`);
const threads = Number(values.threads);
const seconds = Number(values.seconds);

/** What of a layer is timed. */
type Part = 'forward' | 'input gradient' | 'weight gradient' | 'forward + backward';
/** One timed kernel: a layer's operator on static shapes, and the models (arch/head/size) holding it, with multiplicity. */
interface Kernel { op: 'Conv' | 'BatchNormalization' | 'Relu'; part: Part; input: number[]; weight?: number[]; output: number[]; stride: number; pad: number; uses: string[] }

/** The distinct kernels of every zoo model at the bench's sizes (both heads), in first-seen order. */
function collectKernels(): Kernel[] {
  const byKey = new Map<string, Kernel>();
  for (const size of values.sizes!.split(',').map(Number)) {
    for (const arch of values.archs!.split(',') as Arch[]) {
      for (const head of ['regression', 'heatmap'] as const) {
        const model = buildZooModel({ arch, head, keypoints: ['a', 'b', 'c', 'd'], skeleton: [], inputSize: size, cropPadding: 1.25, seed: 1 });
        const shapes = staticShapes(model, Number(values.batch));
        const use = `${arch}/${head}/${size}`;
        // Values that depend on a trained weight: the only ones a step differentiates with respect to.
        const requires = new Set(weightRoles(model).params);
        for (const node of model.nodes) {
          if (node.inputs.some((i) => requires.has(i))) requires.add(node.outputs[0]!);
          const input = shapes.get(node.inputs[0]!)!;
          const output = shapes.get(node.outputs[0]!)!;
          const add = (k: Omit<Kernel, 'uses'>) => {
            const key = JSON.stringify(k);
            if (!byKey.has(key)) byKey.set(key, { ...k, uses: [] });
            byKey.get(key)!.uses.push(use);
          };
          if (node.op === 'Conv' && input.length === 4 && intAttr(node, 'group', 1) === 1) {
            const { strides, pads, dilations } = window2d(node, input[2]!, input[3]!, shapes.get(node.inputs[1]!)!.slice(2));
            // One stride and padding for both axes, no dilation: what the zoo's convolutions use and the bench passes to PyTorch.
            if (new Set(pads).size !== 1 || strides[0] !== strides[1] || dilations.some((d) => d !== 1)) continue;
            for (const part of ['forward', 'input gradient', 'weight gradient'] as const) {
              if (part === 'input gradient' && !requires.has(node.inputs[0]!)) continue;
              add({ op: 'Conv', part, input, weight: shapes.get(node.inputs[1]!)!, output, stride: strides[0], pad: pads[0]! });
            }
          } else if (node.op === 'BatchNormalization' || node.op === 'Relu') {
            add({ op: node.op, part: 'forward + backward', input, output, stride: 1, pad: 0 });
          }
        }
      }
    }
  }
  return [...byKey.values()];
}

/** The kernel as an ONNX graph built by luxcert's gradient rule, with random feeds. */
function kernelGraph(k: Kernel, convBlock: number): { onnx: Uint8Array; feeds: Record<string, ort.Tensor> } {
  const e = new OnnxEmitter('kernel');
  const rng = new Rng(3);
  const feeds: Record<string, ort.Tensor> = {};
  const input = (name: string, dims: number[], lo = -1, hi = 1) => {
    feeds[name] = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.uniform(lo, hi)), dims);
    return e.input(name, dims);
  };
  const c = k.input[1]!;
  const ins = k.op === 'Conv' ? [input('x', k.input), input('w', k.weight!)]
    : k.op === 'BatchNormalization' ? [input('x', k.input), input('scale', [c], 0.5, 1.5), input('bias', [c]), input('mean', [c]), input('var', [c], 0.5, 1.5)]
    : [input('x', k.input)];
  const attrs: Node['attrs'] = k.op === 'Conv' ? { kernel_shape: k.weight!.slice(2), strides: [k.stride, k.stride], pads: [k.pad, k.pad, k.pad, k.pad] } : k.op === 'BatchNormalization' ? { epsilon: 1e-5 } : {};
  const node: Node = { name: 'k', op: k.op, inputs: ins, outputs: ['y'], attrs };
  const ctx: GradContext = { e, node, ins, inShapes: ins.map((i) => [...feeds[i]!.dims]), outShape: k.output, convBlock };
  const rule = GRAD_RULES[k.op]!;
  const gradientOnly = k.part === 'input gradient' || k.part === 'weight gradient';
  // A Conv's gradients do not read its forward's output, and onnxruntime would run a forward left unused.
  const fwd = gradientOnly ? { out: 'y' } : rule.forward ? rule.forward(ctx) : { out: e.irNode(node, ins) };
  const outs = k.part === 'forward' ? [fwd.out]
    : (() => {
        const dy = input('dy', k.output);
        const needs = ins.map((_, i) => (k.part === 'input gradient' ? i === 0 : k.part === 'weight gradient' ? i === 1 : i <= 2));
        // forward + backward: the forward's output and running statistics are kept, as the step keeps them.
        return [...(k.part === 'forward + backward' ? [fwd.out, ...(fwd.updates?.values() ?? [])] : []), ...rule.backward(ctx, fwd, dy, needs).filter((g): g is string => g !== undefined)];
      })();
  // Each result's first element only: copying whole results out to JavaScript would be timed too, and a step keeps them inside.
  outs.forEach((o, i) => e.output(e.op('Slice', [e.op('Reshape', [o, e.ints([-1])]), e.ints([0]), e.ints([1])]), `out${i}`));
  return { onnx: e.encode(), feeds };
}

/** luxcert's side: every kernel's milliseconds, each in a session opened as the training step opens its own. */
async function luxcertRound(kernels: Kernel[], convBlock: number): Promise<number[]> {
  const ms: number[] = [];
  for (const k of kernels) {
    const { onnx, feeds } = kernelGraph(k, convBlock);
    const session = await openSession(onnx, engineSessionOptions({ device: 'cpu', threads }));
    await session.run(feeds);
    ms.push(1000 / (await perSecond(seconds, async () => { await session.run(feeds); return 1; })));
    await session.release();
  }
  return ms;
}

/** PyTorch's side: bench/pytorch-kernels.py on the same kernels. */
function pytorchRound(python: string, kernels: Kernel[], file: string): { torch: string; ms: number[] } {
  writeFileSync(file, JSON.stringify({ threads, seconds, kernels }));
  const r = spawnSync(python, [new URL('./pytorch-kernels.py', import.meta.url).pathname, file], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  if (r.status !== 0) throw new Error(`pytorch-kernels.py failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; ms: number[] };
}

const kernels = collectKernels();
const convBlock = await nchwcBlock();
const python = findTorch();
const dir = mkdtempSync(join(tmpdir(), 'luxcert-bench-kernels-'));
const lx: number[][] = [];
const pt: number[][] = [];
let torchVersion = 'not installed';
try {
  for (let r = 0; r < Number(values.rounds); r++) {
    const sides = [async () => { lx.push(await luxcertRound(kernels, convBlock)); }, ...(python ? [async () => {
      const p = pytorchRound(python, kernels, join(dir, 'kernels.json'));
      torchVersion = p.torch;
      pt.push(p.ms);
    }] : [])];
    for (const side of r % 2 === 0 ? sides : sides.reverse()) await side();
    console.error(`round ${r + 1} done`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const best = (rounds: number[][], i: number) => Math.min(...rounds.map((ms) => ms[i]!));
const lxMs = kernels.map((_, i) => best(lx, i));
const ptMs = python ? kernels.map((_, i) => best(pt, i)) : undefined;
const f = (ms: number) => ms.toFixed(ms < 1 ? 3 : 2);

console.log(`bench:train-kernels — batch ${values.batch}, ${threads} threads each, ≥ ${seconds} s per kernel, best of ${values.rounds} alternating rounds; luxcert's gradient rules on onnxruntime-cpu (NCHWc block ${convBlock}), PyTorch ${torchVersion}, Node ${process.version}`);
console.log('| operator | part | input | weight | stride | luxcert ms | PyTorch ms | PyTorch / luxcert | used by |');
console.log('|---|---|---|---|---|---|---|---|---|');
kernels.forEach((k, i) => {
  const models = [...new Set(k.uses)].map((u) => { const n = k.uses.filter((v) => v === u).length; return n > 1 ? `${u} ×${n}` : u; });
  console.log(`| ${k.op} | ${k.part} | ${k.input.join('×')} | ${k.weight?.join('×') ?? ''} | ${k.op === 'Conv' ? k.stride : ''} | ${f(lxMs[i]!)} | ${ptMs ? f(ptMs[i]!) : '—'} | ${ptMs ? (ptMs[i]! / lxMs[i]!).toFixed(2) : '—'} | ${models.join(', ')} |`);
});

// Per model, each part summed over its layers: where its step is behind.
const parts = ['Conv forward', 'Conv input gradient', 'Conv weight gradient', 'BatchNormalization forward + backward', 'Relu forward + backward'];
const models = values.sizes!.split(',').flatMap((size) => values.archs!.split(',').flatMap((arch) => ['regression', 'heatmap'].map((head) => `${arch}/${head}/${size}`)));
console.log('');
console.log(`| model | ${parts.map((p) => `${p}: luxcert / PyTorch ms`).join(' | ')} |`);
console.log(`|---|${parts.map(() => '---|').join('')}`);
for (const m of models) {
  const cells = parts.map((p) => {
    let [l, t] = [0, 0];
    kernels.forEach((k, i) => {
      if (`${k.op} ${k.part}` !== p) return;
      const n = k.uses.filter((u) => u === m).length;
      l += n * lxMs[i]!;
      t += n * (ptMs?.[i] ?? 0);
    });
    return l === 0 ? '' : `${f(l)} / ${ptMs ? f(t) : '—'}`;
  });
  console.log(`| ${m} | ${cells.join(' | ')} |`);
}
