// Training and inference throughput of every zoo architecture on the tfjs backend in use.
// Usage: npm run bench:train [-- --backend wasm] [--input-size 32]
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/random.ts';
import { modelMeta } from '../src/model/metadata.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { encodeOnnx } from '../src/onnx/write.ts';
import { initBackend } from '../src/train/backend.ts';
import { keypointLoss } from '../src/train/losses.ts';
import { TfGraph } from '../src/train/tf-graph.ts';
import { ARCHS, buildZooModel } from '../src/train/zoo.ts';

const { values } = parseArgs({ options: { backend: { type: 'string' }, 'input-size': { type: 'string', default: '32' } } });
const size = Number(values['input-size']);
const backend = await initBackend(values.backend);
const rng = new Rng(1);
const k = 4;
const rows: string[][] = [['arch', 'head', 'params', 'train img/s', `tfjs infer img/s`, 'onnxruntime img/s']];

async function timed(minSeconds: number, fn: () => Promise<number> | number): Promise<number> {
  await fn(); // warm-up
  let images = 0;
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < minSeconds) images += await fn();
  return images / ((performance.now() - t0) / 1000);
}

for (const arch of ARCHS) {
  for (const head of ['regression', 'heatmap'] as const) {
    const g = buildZooModel({ arch, head, keypoints: ['a', 'b', 'c', 'd'], skeleton: [], inputSize: size, cropPadding: 1.25, seed: 1 });
    const meta = modelMeta(g, arch);
    const tg = new TfGraph(g);
    const opt = tf.train.adam(1e-3);
    const n = arch === 'cnn7' ? 8 : 32;
    const x = tf.tensor4d(Float32Array.from({ length: n * 3 * size * size }, () => rng.next()), [n, 3, size, size]);
    const kp = Float32Array.from({ length: n * k * 2 }, () => rng.uniform(0, size));
    const mask = new Float32Array(n * k).fill(1);
    const train = await timed(3, () => {
      tf.tidy(() => {
        opt.minimize(() => keypointLoss(meta, tg.forward(x, true).output, kp, mask, n), false, [...tg.params.values()]);
      });
      return n;
    });
    const infer = await timed(2, () => {
      tf.tidy(() => tg.forward(x).output.dataSync());
      return n;
    });
    const session = await openSession(encodeOnnx(g));
    const feeds = { image: { dims: [n, 3, size, size], data: x.dataSync() as Float32Array } };
    const ort = await timed(2, async () => {
      await runSession(session, feeds);
      return n;
    });
    const params = [...g.initializers.values()].reduce((a, t) => a + t.data.length, 0);
    rows.push([arch, head, String(params), train.toFixed(1), infer.toFixed(0), ort.toFixed(0)]);
    tg.dispose();
    x.dispose();
    console.error(`${arch}/${head} done`);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`bench:train — tfjs backend ${backend}, input ${size}×${size}, batch 32 (cnn7: 8), Node ${process.version}`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
