import type { Command } from 'commander';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/atomic-write.ts';
import { log } from '../../core/logger.ts';
import { loadDataset } from '../../data/dataset.ts';
import { synthesize, SYNTH_DEFAULTS } from '../../data/synth.ts';
import { evaluateModel } from '../../train/evaluate.ts';
import { TRAIN_DEFAULTS, trainFolder } from '../../train/train-folder.ts';
import { encodeOnnx } from '../../onnx/write.ts';
import { action, emit } from '../run-command.ts';
import { formatSettings } from './certify.ts';
import { EXPORT_DEFAULTS } from './export.ts';
import { writeCropFrames } from '../../data/write-crops.ts';
import { exportBundle, loadBundle } from '../../export/bundle.ts';
import { openSource } from '../../runtime/frames.ts';
import { Runtime } from '../../runtime/runtime.ts';
import { runStream } from '../../runtime/stream.ts';
import { BoundComputer } from '../../certify/bounds.ts';
import { boxFromFlags } from '../../certify/box.ts';
import { certifySet } from '../../certify/certify-set.ts';
import { ModelRunner } from '../../certify/model-runner.ts';
import { formatEval } from './eval.ts';

/** Sizes of the full demo and of `--quick` (for tests: seconds, not minutes). */
const PLANS = {
  full: { train: SYNTH_DEFAULTS.count, test: 400, epochs: 30, certify: 100, budgetMs: 1000, check: 100, frames: 300 },
  quick: { train: 120, test: 40, epochs: 2, certify: 8, budgetMs: 200, check: 20, frames: 10 },
} as const;

/** The documented default property: brightness ±0.1, contrast ±0.1, τ = 2 px. */
const DEMO_BOX = boxFromFlags(0.1, 0.1);
const DEMO_TOLERANCE = 2;

/** `luxcert demo`: synthesise → train → evaluate and certify on a held-out split → export, on built-in defaults. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the pipeline on synthetic data: generate scenes, train, evaluate and certify on held-out scenes, export a bundle and run it')
    .option('--out <dir>', 'working folder', 'luxcert-demo')
    .option('--quick', 'a few-second version (tests)')
    .option('--json', 'machine-readable summary')
    .action(
      action(async (o: { out: string; quick?: boolean; json?: boolean }) => {
        const plan = o.quick ? PLANS.quick : PLANS.full;
        const t0 = performance.now();
        const trainDir = join(o.out, 'data', 'train');
        const testDir = join(o.out, 'data', 'test');
        log.info({ out: o.out, ...plan }, 'demo: synthesising scenes');
        // Different seeds: the test scenes are never seen in training or validation.
        await synthesize({ out: trainDir, count: plan.train, size: SYNTH_DEFAULTS.size, seed: 1 });
        await synthesize({ out: testDir, count: plan.test, size: SYNTH_DEFAULTS.size, seed: 2 });
        const model = join(o.out, 'model.onnx');
        log.info('demo: training');
        const { graph, meta, result } = await trainFolder({ ...TRAIN_DEFAULTS, epochs: plan.epochs, data: trainDir, out: model, augment: true });
        log.info('demo: evaluating on the held-out test scenes (onnxruntime)');
        const bytes = encodeOnnx(graph);
        const testSet = await loadDataset(testDir);
        const test = await evaluateModel(bytes, meta, testSet);
        log.info({ objects: plan.certify }, 'demo: certifying the held-out test scenes (brightness ±0.1, contrast ±0.1, τ = 2 px)');
        const bounds = await BoundComputer.create(graph, { boxes: 16, mode: 'linear', engine: 'onnxruntime' });
        const runner = await ModelRunner.open(bytes, meta);
        const cert = await certifySet(bounds, runner, meta, testSet, { boxes: [DEMO_BOX], tolerances: [DEMO_TOLERANCE], reference: 'truth', budget: { ms: plan.budgetMs, boxes: 4096 }, seed: 1, check: plan.check, limit: plan.certify });
        await bounds.release();
        await runner.release();
        log.info({ frames: plan.frames }, 'demo: exporting the bundle and running it on a synthetic frame sequence');
        const frameDir = join(o.out, 'frames');
        await writeCropFrames(testSet, testSet.objects.map((_, i) => i).slice(0, plan.frames), meta.inputSize, meta.cropPadding, frameDir);
        const bundleDir = join(o.out, 'bundle');
        const d = EXPORT_DEFAULTS;
        exportBundle(graph, meta, bundleDir, { maxBox: boxFromFlags(Number(d.brightness), Number(d.contrast)), tolerance: Number(d.tolerance), boxesPerCall: Number(d.boxesPerCall), budgetMs: Number(d.budgetMs), grid: Number(d.split) });
        const runtime = await Runtime.open(loadBundle(bundleDir), { providers: ['cuda', 'cpu'] });
        const lines: string[] = [];
        let extent = 0;
        const stream = await runStream(runtime, openSource(frameDir), {
          onRecord: (r) => {
            lines.push(JSON.stringify(r));
            if (r.ok) extent += r.extent.reduce((a, c) => a + c, 0) / 4;
          },
        });
        await runtime.release();
        writeFileAtomic(join(o.out, 'results.jsonl'), `${lines.join('\n')}\n`);
        const run = { bundle: bundleDir, provider: runtime.provider, ...stream, meanExtent: extent / Math.max(1, stream.processed) };
        const summary = {
          model,
          arch: TRAIN_DEFAULTS.arch,
          head: meta.head,
          inputSize: meta.inputSize,
          backend: result.backend,
          epochs: result.epochs.length,
          bestEpoch: result.bestEpoch,
          trainImagesPerSec: result.epochs.reduce((a, e) => a + e.imagesPerSec, 0) / Math.max(1, result.epochs.length),
          test,
          certification: cert.settings[0]!,
          runtime: run,
          seconds: (performance.now() - t0) / 1000,
        };
        writeFileAtomic(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2));
        emit(Boolean(o.json), summary, () =>
          [
            `luxcert demo — ${summary.seconds.toFixed(0)} s, backend ${summary.backend}`,
            `model ${model}: ${summary.arch}, ${meta.head} head, input ${meta.inputSize.join('×')}, best epoch ${summary.bestEpoch}/${summary.epochs}, training ${summary.trainImagesPerSec.toFixed(0)} images/s`,
            `held-out test scenes (${testDir}):`,
            formatEval(test),
            `certified against brightness ±0.1 and contrast ±0.1 at τ = ${DEMO_TOLERANCE} px (first ${plan.certify} test scenes, ground truth as reference):`,
            formatSettings(cert.settings),
            `runtime (bundle ${bundleDir}, ${run.processed} frames, ${run.provider}): ${run.fps.toFixed(1)} frames/s with a certified box per frame, latency p50 ${run.latencyMs.p50.toFixed(1)} ms, p99 ${run.latencyMs.p99.toFixed(1)} ms; mean certified box ${(100 * run.meanExtent).toFixed(0)}% of brightness ±0.1 × contrast ±0.1 at τ = 2 px (results.jsonl)`,
            `summary: ${join(o.out, 'summary.json')}`,
          ].join('\n'),
        );
      }),
    );
}
