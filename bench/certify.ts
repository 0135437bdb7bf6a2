// Certification cost and tightness on a trained model (default: the demo's), for each way of
// bounding: intervals (IBP), the forward linear pass alone, and with the backward tail through the
// dense layers, the last convolution (the default) or every convolution, with either ReLU lower slope.
// Usage: npm run bench:certify [-- --model luxcert-demo/model.onnx --data luxcert-demo/data/test --images 100]
import { parseArgs } from 'node:util';
import { loadTrainedModel } from './trained-model.ts';
import { CERTIFIER } from '../src/bounds/bound-graph.ts';
import { BoundComputer, type BoundComputerOptions } from '../src/bounds/bounds.ts';
import { boxFromFlags } from '../src/model/perturbation.ts';
import { certifySet } from '../src/certify/certify-set.ts';
import { ModelRunner } from '../src/certify/model-runner.ts';
import { samplePoints } from '../src/certify/samples.ts';
import { Rng } from '../src/core/random.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { encodeOnnx } from '../src/onnx/write.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'luxcert-demo/model.onnx' }, data: { type: 'string', default: 'luxcert-demo/data/test' }, images: { type: 'string', default: '100' }, brightness: { type: 'string', default: '0.1' }, contrast: { type: 'string', default: '0.1' }, tolerance: { type: 'string', default: '2' } } });
const { graph, meta, set, n, image, dims } = await loadTrainedModel(values.model, values.data, Number(values.images));
const box = boxFromFlags(Number(values.brightness), Number(values.contrast));
/** The bound configurations compared, each a BoundComputer's options. */
const CONFIGS: { label: string; opts: Omit<BoundComputerOptions, 'boxes' | 'engine'> }[] = [
  { label: 'ibp', opts: { mode: 'ibp' } },
  { label: 'linear, no backward tail', opts: { mode: 'linear', backward: false } },
  { label: 'linear + dense tail, parallel', opts: { mode: 'linear', backward: 0, lowerSlope: 'parallel' } },
  { label: 'linear + dense tail, adaptive', opts: { mode: 'linear', backward: 0, lowerSlope: 'adaptive' } },
  { label: 'linear + tail through 1 conv, adaptive (default)', opts: { mode: 'linear', backward: CERTIFIER.backward, lowerSlope: CERTIFIER.lowerSlope } },
  { label: 'linear + tail through every conv (deep), adaptive', opts: { mode: 'linear', backward: Infinity, lowerSlope: 'adaptive' } },
];

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 5; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

console.log(`bench:certify — ${values.model} (${meta.arch ?? '?'}, ${meta.head}), ${n} images from ${values.data}, box α [${box.alphaLo}, ${box.alphaHi}] × β [${box.betaLo}, ${box.betaHi}], τ = ${values.tolerance} px, Node ${process.version}, onnxruntime CPU`);
const session = await openSession(encodeOnnx(graph));
const inferMs = await median(200, () => runSession(session, { [graph.inputs[0]!.name]: { dims: [1, ...dims], data: image(0) } }));
console.log(`\none plain inference (batch 1): ${inferMs.toFixed(3)} ms`);
for (const c of CONFIGS) {
  for (const boxes of [1, 16]) {
    const bc = await BoundComputer.create(graph, { ...c.opts, boxes, engine: 'onnxruntime' });
    const list = new Array(boxes).fill(box);
    const ms = await median(100, () => bc.bounds(image(0), dims, list));
    console.log(`one ${c.label} bound pass, ${String(boxes).padStart(2)} box(es) per call: ${ms.toFixed(3)} ms  = ${(ms / inferMs).toFixed(1)}× one inference  (${(ms / boxes).toFixed(3)} ms per box)`);
    await bc.release();
  }
}

// Tightness of one pass: certified output interval vs the range seen over 200 sampled points, on
// the whole box and on the sub-box scaled by 1/16 around the identity (the size proofs happen at).
const runner = await ModelRunner.open(encodeOnnx(graph), meta);
const small = { alphaLo: 1 - (1 - box.alphaLo) / 16, alphaHi: 1 + (box.alphaHi - 1) / 16, betaLo: box.betaLo / 16, betaHi: box.betaHi / 16 };
console.log('\ntightness of a single pass (mean over images and outputs of certified width / sampled width):');
for (const c of CONFIGS) {
  const bc = await BoundComputer.create(graph, { ...c.opts, boxes: 1, engine: 'onnxruntime' });
  const widths: string[] = [];
  for (const [name, b0] of [['whole box', box], ['box / 16', small]] as const) {
    let ratio = 0;
    let count = 0;
    for (let i = 0; i < Math.min(n, 20); i++) {
      const [b] = await bc.bounds(image(i), dims, [b0]);
      const pts = samplePoints(b0, 10, 95, new Rng(i));
      const kp = await runner.keypointsAt(image(i), pts);
      const m = b!.lower.length;
      for (let o = 0; o < m; o++) {
        let lo = Infinity;
        let hi = -Infinity;
        for (let p = 0; p < pts.length; p++) {
          lo = Math.min(lo, kp[p * m + o]!);
          hi = Math.max(hi, kp[p * m + o]!);
        }
        if (hi - lo > 1e-6) {
          ratio += (b!.upper[o]! - b!.lower[o]!) / (hi - lo);
          count++;
        }
      }
    }
    widths.push(`${name} ${(ratio / count).toFixed(1)}×`);
  }
  console.log(`  ${c.label}: ${widths.join(', ')} the sampled range`);
  await bc.release();
}

console.log('\ncertification (reference: ground truth):');
console.log('| bounds | search | certified | frames | falsified | unknown | sub-boxes/img | ms/img median | p95 |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const c of CONFIGS) {
  for (const [label, budget] of [['one pass', { ms: 1000, boxes: 1 }], ['branch-and-bound, 1 s', { ms: 1000, boxes: 4096 }]] as const) {
    const bc = await BoundComputer.create(graph, { ...c.opts, boxes: 16, engine: 'onnxruntime' });
    const r = await certifySet(bc, runner, meta, set, { boxes: [box], tolerances: [Number(values.tolerance)], reference: 'truth', budget, seed: 1, check: 0, limit: n });
    const s = r.settings[0]!;
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);
    console.log(`| ${c.label} | ${label} | ${pct(s.coverage)} | ${pct(s.frameCoverage)} | ${pct(s.falsifiedShare)} | ${pct(s.unknownShare)} | ${s.boxesBoundedPerImage.toFixed(1)} | ${s.msPerImage.median.toFixed(0)} | ${s.msPerImage.p95.toFixed(0)} |`);
    await bc.release();
  }
}
await runner.release();
