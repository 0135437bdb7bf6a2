// The training loop end to end — batches made (crop, resample, augment) and the step run — with the
// batches made on the main thread between steps or on a worker thread while the step runs
// (`BatchPrefetcher`), at onnxruntime thread counts of your choice. The trainer uses the worker where
// the step leaves a core free (`leavesACore`: fewer threads than cores, or CUDA); this bench measures
// both ways at every thread count, so that rule can be checked on another machine.
// Each configuration runs in rounds, alternating which way goes first (ABBA); images/s are the mean of
// each run's epochs after the first (which builds the step and starts the worker), best round reported.
// Usage: npm run bench:train-loop [-- --archs tiny --heads regression,heatmap --sizes 32,64 --threads 1,2 --epochs 3 --rounds 3 --scenes 1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_AUGMENT } from '../src/data/batch.ts';
import { loadDataset } from '../src/data/dataset.ts';
import { synthesize } from '../src/data/synth.ts';
import { modelMeta } from '../src/model/metadata.ts';
import { trainModel } from '../src/train/trainer.ts';
import { buildZooModel, type Arch } from '../src/train/zoo.ts';

const { values } = parseArgs({
  options: {
    archs: { type: 'string', default: 'tiny' }, heads: { type: 'string', default: 'regression,heatmap' }, sizes: { type: 'string', default: '32,64' },
    threads: { type: 'string', default: '1,2' }, epochs: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, scenes: { type: 'string', default: '1000' },
  },
});
const whole = (name: keyof typeof values, min: number) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be a whole number ≥ ${min}, not '${values[name]}'`);
  return v;
};
const [epochs, rounds, scenes] = [whole('epochs', 2), whole('rounds', 1), whole('scenes', 64)];
const list = (name: keyof typeof values) => String(values[name]).split(',');

const dir = mkdtempSync(join(tmpdir(), 'luxcert-bench-train-loop-'));
try {
  await synthesize({ out: join(dir, 'scenes'), count: scenes, size: 96, seed: 1 });
  const set = await loadDataset(join(dir, 'scenes'));
  const rows = [['arch', 'head', 'size', 'threads', 'main thread img/s', 'worker img/s', 'worker / main', 'per round', 'trainer uses']];
  for (const arch of list('archs') as Arch[]) {
    for (const head of list('heads') as ('regression' | 'heatmap')[]) {
      for (const size of list('sizes').map(Number)) {
        for (const threads of list('threads').map(Number)) {
          const run = async (batchWorker: boolean): Promise<number> => {
            const g = buildZooModel({ arch, head, keypoints: set.keypointNames, skeleton: set.skeleton, inputSize: size, cropPadding: 1.25, seed: 1 });
            const r = await trainModel(g, modelMeta(g, arch), set, {
              epochs, batchSize: 32, lr: 1e-3, valFraction: 0.15, patience: epochs, seed: 1, augment: DEFAULT_AUGMENT,
              out: join(dir, 'model.onnx'), engine: { device: 'cpu', threads }, batchWorker,
            });
            const later = r.epochs.slice(1).map((e) => e.imagesPerSec);
            return later.reduce((a, b) => a + b, 0) / later.length;
          };
          const main: number[] = [];
          const worker: number[] = [];
          for (let k = 0; k < rounds; k++) {
            // ABBA: which way goes first alternates, so a drifting machine favours neither.
            if (k % 2 === 0) {
              main.push(await run(false));
              worker.push(await run(true));
            } else {
              worker.push(await run(true));
              main.push(await run(false));
            }
          }
          const [m, w] = [Math.max(...main), Math.max(...worker)];
          const uses = threads < availableParallelism() ? 'worker' : 'main thread';
          rows.push([arch, head, String(size), String(threads), m.toFixed(0), w.toFixed(0), (w / m).toFixed(2), main.map((x, k) => (worker[k]! / x).toFixed(2)).join(', '), uses]);
          console.error(`${arch}/${head}/${size}/${threads} threads done`);
        }
      }
    }
  }
  console.log(`bench:train-loop — batch 32, ${scenes} synthetic scenes (${Math.round(scenes * 0.85)} trained per epoch), ${epochs} epochs a run (images/s: mean of epochs 2–${epochs}), best of ${rounds} alternating rounds; ${availableParallelism()} cores, Node ${process.version}`);
  console.log(rows.map((r, i) => `| ${r.join(' | ')} |${i === 0 ? `\n|${r.map(() => '---').join('|')}|` : ''}`).join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
