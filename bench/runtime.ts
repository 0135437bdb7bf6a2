// Runtime throughput: inference only vs with per-frame certified boxes, and box size vs budget, on
// independent held-out crops and on a video (a slowly panning, zooming camera over the same scenes),
// where each frame's search may start from the sub-boxes the previous frames failed on.
// Usage: npm run bench:runtime [-- --model M.onnx --data TEST_SET_DIR --frames 200]
// Default: exports the demo's pruned model (luxcert-demo/pruned.onnx) to a temporary bundle and runs it on the demo's test crops.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/core/atomic-write.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { boxFromFlags } from '../src/model/perturbation.ts';
import { loadDataset, makeBatch } from '../src/data/dataset.ts';
import { sampleWindow, windowFromBbox } from '../src/data/crop.ts';
import { exportBundle, loadBundle } from '../src/export/bundle.ts';
import { modelMeta } from '../src/model/metadata.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { SearchMemory, searchCertifiedBox } from '../src/runtime/certified-box.ts';
import { BoundComputer } from '../src/bounds/bounds.ts';
import { decodeKeypoints } from '../src/model/heads.ts';
import { decodeOnnx, rawToGraph, readOnnxFile } from '../src/onnx/read.ts';
import { quantile } from '../src/core/quantile.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'luxcert-demo/pruned.onnx' }, data: { type: 'string', default: 'luxcert-demo/data/test' }, frames: { type: 'string', default: '200' } } });
if (!existsSync(values.model)) {
  console.error(`${values.model} not found: run \`npx luxcert demo\` first, or pass --model and --data`);
  process.exit(1);
}
const graph = readOnnxFile(values.model);
const meta = modelMeta(graph, values.model);
const dir = join(mkdtempSync(join(tmpdir(), 'luxcert-bench-')), 'bundle');
exportBundle(graph, meta, dir, { maxBox: boxFromFlags(0.1, 0.1), tolerance: 2, boxesPerCall: 8, budgetMs: 20, grid: 1 });
const bundle = loadBundle(dir);
const set = await loadDataset(values.data);
const n = Math.min(Number(values.frames), set.objects.length);
const batch = makeBatch(set, Array.from({ length: n }, (_, i) => i), meta.inputSize, meta.cropPadding);
const plane = 3 * meta.inputSize[0] * meta.inputSize[1];
const frames = Array.from({ length: n }, (_, i) => batch.x.subarray(i * plane, (i + 1) * plane));
const dims = [3, ...meta.inputSize];
const session = await openSession(bundle.model);

console.log(`bench:runtime — ${values.model} (${meta.arch ?? '?'}, ${meta.head}), ${n} frames (held-out crops), max box α [0.9, 1.1] × β [−0.1, 0.1], τ = 2 px, onnxruntime CPU, Node ${process.version}`);
const infer = async (x: Float32Array) => decodeKeypoints(meta, Object.values(await runSession(session, { image: { dims: [1, ...dims], data: x } }))[0]!.data, 1);
{
  for (const x of frames.slice(0, 10)) await infer(x);
  const lat: number[] = [];
  const t0 = performance.now();
  for (const x of frames) {
    const t = performance.now();
    await infer(x);
    lat.push(performance.now() - t);
  }
  console.log(`inference only: ${(n / ((performance.now() - t0) / 1000)).toFixed(0)} frames/s, p50 ${quantile(lat, 0.5).toFixed(2)} ms, p99 ${quantile(lat, 0.99).toFixed(2)} ms`);
}
const certifier = rawToGraph(decodeOnnx(bundle.certifier, 'certifier.onnx'));
// The offline-maximal extent of each frame: the same search run to convergence (a 1 s budget),
// cached beside the model by its and the certifier's hashes, so every budget below is compared with
// what is provable.
const cacheFile = `${values.model}.maximal-extent.json`;
const cacheKey = `${bundle.manifest.files.model.sha256}:${bundle.manifest.files.certifier.sha256}:${n}:${values.data}`;
let maximal: number[] = existsSync(cacheFile) ? ((JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string; extents: number[] }).key === cacheKey ? (JSON.parse(readFileSync(cacheFile, 'utf8')) as { extents: number[] }).extents : []) : [];
if (maximal.length !== n) {
  const bc = await BoundComputer.open(certifier, 'onnxruntime');
  const t = performance.now();
  maximal = [];
  for (const x of frames) {
    const r = await searchCertifiedBox(bc, x, dims, { meta, reference: await infer(x), tolerance: 2 }, bundle.manifest.maxBox, 1000);
    maximal.push(r.extent.reduce((a, c) => a + c, 0) / 4);
  }
  await bc.release();
  writeFileAtomic(cacheFile, JSON.stringify({ key: cacheKey, extents: maximal }));
  console.log(`offline-maximal extents computed in ${((performance.now() - t) / 1000).toFixed(0)} s (cached in ${cacheFile})`);
}
const maximalMean = maximal.reduce((a, b) => a + b, 0) / n;
console.log(`\noffline-maximal mean extent: ${(100 * maximalMean).toFixed(1)}% (${maximal.filter((e) => e >= 1).length}/${n} frames certified on the whole maximum box)`);
console.log('\nwith per-frame certified boxes (preprocessed frames; `luxcert run` adds image decoding):');
console.log('budget ms  boxes/call  split  frames/s  p50 ms  p99 ms  mean extent  × maximal  mean box α × β');
for (const [budget, boxes, grid] of [[5, 8, 1], [10, 8, 1], [20, 8, 1], [30, 8, 1], [40, 8, 1], [20, 16, 1], [40, 16, 1]] as const) {
  const bc = boxes === bundle.manifest.search.boxesPerCall ? await BoundComputer.open(certifier, 'onnxruntime') : await BoundComputer.create(graph, { boxes, mode: 'linear', engine: 'onnxruntime' });
  const lat: number[] = [];
  let extent = 0;
  let aw = 0;
  let bw = 0;
  // As the runtime does: a memory between frames, unused here while the keypoints jump (independent scenes).
  const memory = new SearchMemory();
  const t0 = performance.now();
  for (const x of frames) {
    const t = performance.now();
    const kp = await infer(x);
    const r = await searchCertifiedBox(bc, x, dims, { meta, reference: kp, tolerance: 2 }, bundle.manifest.maxBox, budget, grid, memory.start(kp, 2));
    memory.record(kp, r.failures);
    lat.push(performance.now() - t);
    extent += r.extent.reduce((a, c) => a + c, 0) / 4;
    aw += r.box.alphaHi - r.box.alphaLo;
    bw += r.box.betaHi - r.box.betaLo;
  }
  const fps = n / ((performance.now() - t0) / 1000);
  console.log(`${String(budget).padStart(9)}  ${String(boxes).padStart(10)}  ${String(grid).padStart(5)}  ${fps.toFixed(1).padStart(8)}  ${quantile(lat, 0.5).toFixed(1).padStart(6)}  ${quantile(lat, 0.99).toFixed(1).padStart(6)}  ${(100 * extent / n).toFixed(1).padStart(10)}%  ${(extent / n / maximalMean).toFixed(3).padStart(9)}  ±${(aw / n / 2).toFixed(4)} × ±${(bw / n / 2).toFixed(4)}`);
  await bc.release();
}

// A video: 30 frames per scene, the camera panning ±5 % of the window and zooming ±3 % over them
// (≈ 0.2 px per frame at the model's input), cut to the next scene every 30 frames.
const SCENE = 30;
const scenes = Math.max(1, Math.floor(n / SCENE));
const video: Float32Array[] = [];
for (let s = 0; s < scenes; s++) {
  const o = set.objects[s]!;
  for (let t = 0; t < SCENE; t++) {
    const win = windowFromBbox(o.bbox, meta.cropPadding);
    const phase = (2 * Math.PI * t) / SCENE;
    win.cx += 0.05 * win.side * Math.sin(phase);
    win.cy += 0.03 * win.side * Math.sin(2 * phase);
    win.side *= 1 + 0.03 * Math.sin(phase);
    const x = new Float32Array(plane);
    sampleWindow(set.images[s]!, win, meta.inputSize, 1 / 255, x);
    video.push(x);
  }
}
const bcVideo = await BoundComputer.open(certifier, 'onnxruntime');
const videoMaximal: number[] = [];
for (const x of video) {
  const r = await searchCertifiedBox(bcVideo, x, dims, { meta, reference: await infer(x), tolerance: 2 }, bundle.manifest.maxBox, 1000);
  videoMaximal.push(r.extent.reduce((a, c) => a + c, 0) / 4);
}
const videoMaximalMean = videoMaximal.reduce((a, b) => a + b, 0) / video.length;
console.log(`\nvideo: ${video.length} frames (${scenes} scenes × ${SCENE}, panning and zooming), offline-maximal mean extent ${(100 * videoMaximalMean).toFixed(1)}%`);
console.log('budget ms  from previous  frames/s  p50 ms  p99 ms  mean extent  × maximal  sub-boxes/frame');
for (const budget of [5, 10, 20, 30]) {
  for (const reuse of [false, true]) {
    const lat: number[] = [];
    let extent = 0;
    let boxes = 0;
    const memory = new SearchMemory();
    const t0 = performance.now();
    for (const x of video) {
      const t = performance.now();
      const kp = await infer(x);
      const r = await searchCertifiedBox(bcVideo, x, dims, { meta, reference: kp, tolerance: 2 }, bundle.manifest.maxBox, budget, 1, reuse ? memory.start(kp, 2) : []);
      memory.record(kp, r.failures);
      lat.push(performance.now() - t);
      extent += r.extent.reduce((a, c) => a + c, 0) / 4;
      boxes += r.boxesBounded;
    }
    const fps = video.length / ((performance.now() - t0) / 1000);
    console.log(`${String(budget).padStart(9)}  ${(reuse ? 'yes' : 'no').padStart(12)}  ${fps.toFixed(1).padStart(8)}  ${quantile(lat, 0.5).toFixed(1).padStart(6)}  ${quantile(lat, 0.99).toFixed(1).padStart(6)}  ${(100 * extent / video.length).toFixed(1).padStart(10)}%  ${(extent / video.length / videoMaximalMean).toFixed(3).padStart(9)}  ${(boxes / video.length).toFixed(1).padStart(15)}`);
  }
}
await bcVideo.release();
