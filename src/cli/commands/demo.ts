import type { Command } from 'commander';
import { join } from 'node:path';
import { boxFromFlags } from '../../model/perturbation.ts';
import type { SettingSummary } from '../../certify/certify-set.ts';
import { assessModel, type Assessment } from '../../experiment/assess.ts';
import { writeFileAtomic } from '../../core/atomic-write.ts';
import { log } from '../../core/logger.ts';
import { loadDataset, type LoadedSet } from '../../data/dataset.ts';
import { synthesize, SYNTH_DEFAULTS } from '../../data/synth.ts';
import { writeCropFrames } from '../../data/write-crops.ts';
import { exportBundle, loadBundle } from '../../export/bundle.ts';
import type { Graph } from '../../graph/graph.ts';
import type { ModelMeta } from '../../model/metadata.ts';
import { readOnnxFile } from '../../onnx/read.ts';
import { writeOnnxFile } from '../../onnx/write.ts';
import { BENCHMARK_REGULARISERS, PRUNE_DEFAULTS, pruneMetadata, pruneModel } from '../../prune/prune-model.ts';
import { openSource } from '../../runtime/frames.ts';
import { Runtime } from '../../runtime/runtime.ts';
import { runStream } from '../../runtime/stream.ts';
import { TRAIN_DEFAULTS, trainFolder } from '../../train/train-folder.ts';
import { compact, table } from '../format.ts';
import { action, emit } from '../run-command.ts';
import { formatSettings } from './certify.ts';
import { formatEval } from './eval.ts';
import { EXPORT_DEFAULTS } from './export.ts';
import { checkOutputDir } from '../../core/output-path.ts';

/** Sizes of the full demo and of `--quick` (for tests: seconds, not minutes). */
const PLANS = {
  full: { train: SYNTH_DEFAULTS.count, test: 400, epochs: TRAIN_DEFAULTS.epochs, pruneRounds: PRUNE_DEFAULTS.rounds, pruneEpochs: PRUNE_DEFAULTS.epochs, certify: 100, budgetMs: 1000, check: 100, frames: 300 },
  quick: { train: 120, test: 40, epochs: 2, pruneRounds: 1, pruneEpochs: 1, certify: 8, budgetMs: 200, check: 20, frames: 10 },
} as const;
type Plan = (typeof PLANS)[keyof typeof PLANS];

/** The documented default property: brightness ±0.1, contrast ±0.1, τ = 2 px; pruning removes half the channels. */
const DEMO_BOX = boxFromFlags(0.1, 0.1);
const DEMO_TOLERANCE = 2;
const DEMO_SPARSITY = 0.5;

/** Accuracy in onnxruntime and certification of the held-out scenes at the demo's property, for one model. */
async function assess(graph: Graph, meta: ModelMeta, test: LoadedSet, plan: Plan): Promise<Omit<Assessment, 'certification'> & { certification: SettingSummary }> {
  const a = await assessModel(graph, meta, test, { boxes: [DEMO_BOX], tolerance: DEMO_TOLERANCE, certify: plan.certify, budget: { ms: plan.budgetMs, boxes: 4096 }, check: plan.check, seed: 1 });
  return { ...a, certification: a.certification[0]! };
}

/** `luxcert demo`: synthesise → train → USN-prune → evaluate and certify both → export → run, on built-in defaults. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the pipeline on synthetic data: scenes, training, USN pruning, evaluation and certification of dense vs pruned, a bundle and a run')
    .option('--out <dir>', 'working folder', 'luxcert-demo')
    .option('--quick', 'a few-second version (tests)')
    .option('--json', 'machine-readable summary')
    .action(
      action(async (o: { out: string; quick?: boolean; json?: boolean }) => {
        checkOutputDir(o.out, '--out');
        const plan = o.quick ? PLANS.quick : PLANS.full;
        const t0 = performance.now();
        const trainDir = join(o.out, 'data', 'train');
        const testDir = join(o.out, 'data', 'test');
        log.info({ out: o.out, ...plan }, 'demo: synthesising scenes');
        // Different seeds: the test scenes are never seen in training or validation.
        await synthesize({ out: trainDir, count: plan.train, size: SYNTH_DEFAULTS.size, seed: 1 });
        await synthesize({ out: testDir, count: plan.test, size: SYNTH_DEFAULTS.size, seed: 2 });
        const trainSet = await loadDataset(trainDir);
        const testSet = await loadDataset(testDir);

        const model = join(o.out, 'model.onnx');
        log.info('demo: training');
        const { graph, meta, result } = await trainFolder({ ...TRAIN_DEFAULTS, epochs: plan.epochs, data: trainDir, out: model, augment: true }, trainSet);
        log.info('demo: evaluating and certifying the dense model on held-out scenes');
        const dense = await assess(graph, meta, testSet, plan);

        const prunedPath = join(o.out, 'pruned.onnx');
        log.info({ sparsity: DEMO_SPARSITY, ...BENCHMARK_REGULARISERS }, 'demo: USN pruning with fine-tuning under the Wasserstein and ReLU-stability regularisers');
        const pruned = readOnnxFile(model, { simplify: false });
        const pruneOptions = { ...PRUNE_DEFAULTS, method: 'usn', box: DEMO_BOX, sparsity: DEMO_SPARSITY, rounds: plan.pruneRounds, epochs: plan.pruneEpochs, ...BENCHMARK_REGULARISERS, seed: 1 } as const;
        const pruneReport = await pruneModel(pruned, meta, trainSet, pruneOptions);
        Object.assign(pruned.metadata, pruneMetadata(pruneOptions, pruneReport));
        writeOnnxFile(prunedPath, pruned);
        log.info('demo: evaluating and certifying the pruned model on held-out scenes');
        const small = await assess(pruned, meta, testSet, plan);

        log.info({ frames: plan.frames }, 'demo: exporting the pruned model and running it on a synthetic frame sequence');
        const frameDir = join(o.out, 'frames');
        await writeCropFrames(testSet, testSet.objects.map((_, i) => i).slice(0, plan.frames), meta.inputSize, meta.cropPadding, frameDir);
        const bundleDir = join(o.out, 'bundle');
        const d = EXPORT_DEFAULTS;
        exportBundle(pruned, meta, bundleDir, { maxBox: DEMO_BOX, tolerance: Number(d.tolerance), boxesPerCall: Number(d.boxesPerCall), budgetMs: Number(d.budgetMs), grid: Number(d.split) });
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
          pruned: prunedPath,
          arch: TRAIN_DEFAULTS.arch,
          head: meta.head,
          inputSize: meta.inputSize,
          backend: result.backend,
          epochs: result.epochs.length,
          bestEpoch: result.bestEpoch,
          trainImagesPerSec: result.epochs.reduce((a, e) => a + e.imagesPerSec, 0) / Math.max(1, result.epochs.length),
          dense,
          prunedModel: { ...small, channels: pruneReport.channels },
          runtime: run,
          seconds: (performance.now() - t0) / 1000,
        };
        writeFileAtomic(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2));
        const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
        const row = (name: string, m: typeof dense) => [name, compact(m.params), compact(m.flops), m.accuracy.pck['2']!.toFixed(3), m.accuracy.meanError.toFixed(2), pct(m.certification.coverage), pct(m.certification.falsifiedShare), pct(m.certification.unknownShare), m.certification.msPerImage.median.toFixed(0), String(m.certification.soundness?.violations ?? '-')];
        emit(Boolean(o.json), summary, () =>
          [
            `luxcert demo — ${summary.seconds.toFixed(0)} s, backend ${summary.backend}`,
            `dense model ${model}: ${summary.arch}, ${meta.head} head, input ${meta.inputSize.join('×')}, best epoch ${summary.bestEpoch}/${summary.epochs}, training ${summary.trainImagesPerSec.toFixed(0)} images/s`,
            `held-out test scenes (${testDir}), dense model:`,
            formatEval(dense.accuracy),
            `certification at brightness ±0.1, contrast ±0.1, τ = ${DEMO_TOLERANCE} px (first ${plan.certify} test scenes, ground truth as reference), dense model:`,
            formatSettings([dense.certification]),
            `dense vs USN-pruned (${pruneReport.channels.before} → ${pruneReport.channels.after} channels, ${plan.pruneRounds} round(s) of fine-tuning):`,
            table([['model', 'params', 'FLOPs', 'PCK@2px', 'err px', 'certified', 'falsified', 'unknown', 'ms/img', 'violations'], row('dense', dense), row('pruned', small)]),
            `runtime (pruned bundle ${bundleDir}, ${run.processed} frames, ${run.provider}): ${run.fps.toFixed(1)} frames/s with a certified box per frame, latency p50 ${run.latencyMs.p50.toFixed(1)} ms, p99 ${run.latencyMs.p99.toFixed(1)} ms; mean certified box ${(100 * run.meanExtent).toFixed(0)}% of brightness ±0.1 × contrast ±0.1 at τ = 2 px (results.jsonl)`,
            `summary: ${join(o.out, 'summary.json')}`,
          ].join('\n'),
        );
      }),
    );
}
