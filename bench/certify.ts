// Certification cost and tightness on a trained model (default: the demo's).
// Usage: npm run bench:certify [-- --model luxcert-demo/model.onnx --data luxcert-demo/data/test --images 100]
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BoundComputer } from '../src/bounds/bounds.ts';
import { boxFromFlags } from '../src/model/perturbation.ts';
import { certifySet } from '../src/certify/certify-set.ts';
import { ModelRunner } from '../src/certify/model-runner.ts';
import { samplePoints } from '../src/certify/samples.ts';
import { Rng } from '../src/core/random.ts';
import { loadDataset, makeBatch } from '../src/data/dataset.ts';
import { modelMeta } from '../src/model/metadata.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { readOnnxFile } from '../src/onnx/read.ts';
import { encodeOnnx } from '../src/onnx/write.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'luxcert-demo/model.onnx' }, data: { type: 'string', default: 'luxcert-demo/data/test' }, images: { type: 'string', default: '100' }, brightness: { type: 'string', default: '0.1' }, contrast: { type: 'string', default: '0.1' }, tolerance: { type: 'string', default: '2' } } });
if (!existsSync(values.model)) {
  console.error(`${values.model} not found: run \`npx luxcert demo\` first, or pass --model and --data`);
  process.exit(1);
}
const graph = readOnnxFile(values.model);
const meta = modelMeta(graph, values.model);
const set = await loadDataset(values.data);
const n = Math.min(Number(values.images), set.objects.length);
const batch = makeBatch(set, set.objects.map((_, i) => i).slice(0, n), meta.inputSize, meta.cropPadding);
const plane = 3 * meta.inputSize[0] * meta.inputSize[1];
const image = (i: number) => batch.x.subarray(i * plane, (i + 1) * plane);
const box = boxFromFlags(Number(values.brightness), Number(values.contrast));
const dims = [3, ...meta.inputSize];

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
for (const mode of ['ibp', 'linear'] as const) {
  for (const boxes of [1, 16]) {
    const bc = await BoundComputer.create(graph, { boxes, mode, engine: 'onnxruntime' });
    const list = new Array(boxes).fill(box);
    const ms = await median(100, () => bc.bounds(image(0), dims, list));
    console.log(`one ${mode} bound pass, ${String(boxes).padStart(2)} box(es) per call: ${ms.toFixed(3)} ms  = ${(ms / inferMs).toFixed(1)}× one inference  (${(ms / boxes).toFixed(3)} ms per box)`);
    await bc.release();
  }
}

// Tightness: certified output interval on the whole box vs the range seen over 200 sampled points.
const runner = await ModelRunner.open(encodeOnnx(graph), meta);
console.log('\ntightness on the whole box (mean over images and outputs of certified width / sampled width):');
for (const mode of ['ibp', 'linear'] as const) {
  const bc = await BoundComputer.create(graph, { boxes: 1, mode, engine: 'onnxruntime' });
  let ratio = 0;
  let count = 0;
  for (let i = 0; i < Math.min(n, 20); i++) {
    const [b] = await bc.bounds(image(i), dims, [box]);
    const pts = samplePoints(box, 10, 95, new Rng(i));
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
  console.log(`  ${mode}: ${(ratio / count).toFixed(1)}× the sampled range`);
  await bc.release();
}

console.log('\ncertification (reference: ground truth):');
console.log('mode    search                  certified  frames  falsified  unknown  ms/img median  p95   ms/keypoint');
for (const mode of ['ibp', 'linear'] as const) {
  for (const [label, budget] of [['one pass, no splitting', { ms: 1000, boxes: 1 }], ['branch-and-bound, 1 s', { ms: 1000, boxes: 4096 }]] as const) {
    const bc = await BoundComputer.create(graph, { boxes: 16, mode, engine: 'onnxruntime' });
    const r = await certifySet(bc, runner, meta, set, { boxes: [box], tolerances: [Number(values.tolerance)], reference: 'truth', budget, seed: 1, check: 0, limit: n });
    const s = r.settings[0]!;
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);
    console.log(`${mode.padEnd(7)} ${label.padEnd(23)} ${pct(s.coverage)}     ${pct(s.frameCoverage)}  ${pct(s.falsifiedShare)}     ${pct(s.unknownShare)}   ${s.msPerImage.median.toFixed(0).padStart(6)}        ${s.msPerImage.p95.toFixed(0).padStart(5)}  ${(s.msPerImage.mean / meta.keypoints.length).toFixed(1)}`);
    await bc.release();
  }
}
await runner.release();
