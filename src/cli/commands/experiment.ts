import type { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { MAX_CHECK_SAMPLES } from '../../certify/certify-set.ts';
import { writeFileAtomic } from '../../core/atomic-write.ts';
import { LuxcertError } from '../../core/errors.ts';
import { log } from '../../core/logger.ts';
import { loadDataset } from '../../data/dataset.ts';
import { synthesize, SYNTH_DEFAULTS } from '../../data/synth.ts';
import { acceptance, aggregateRuns, VERDICT_LABEL } from '../../experiment/aggregate.ts';
import { MAX_SEEDS, planRuns, REGULARISER_SETTINGS, type ExperimentConfig, type RegulariserSetting } from '../../experiment/plan.ts';
import { htmlReport, markdownReport, plotFiles } from '../../experiment/report.ts';
import { runExperiment } from '../../experiment/run-experiment.ts';
import { modelMeta } from '../../model/metadata.ts';
import { boxFromFlags } from '../../model/perturbation.ts';
import { readOnnxFile } from '../../onnx/read.ts';
import { PRUNE_SCOPES, pruneScope } from '../../prune/allocate.ts';
import { MAX_BOUND_GRID } from '../../prune/bound-terms.ts';
import { BENCHMARK_REGULARISERS, PRUNE_METHODS, type PruneMethod } from '../../prune/prune-model.ts';
import { MAX_USN_PERTURBATIONS } from '../../prune/usn.ts';
import { TRAIN_DEFAULTS, trainFolder } from '../../train/train-folder.ts';
import { addEngineFlags, engineFromFlags, type EngineFlagValues } from '../engine-flags.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';
import { addScheduleFlags, usnComponents } from './prune.ts';
import { checkOutputDir } from '../../core/output-path.ts';

interface Flags extends EngineFlagValues {
  out: string; data?: string; testData?: string; model?: string; methods: string; sparsities: string; headline: string; seeds: string; wasserstein: string; reluStability: string; regulariser: string; ablations: string; scope: string;
  rounds: string; epochs: string; usnImages: string; usnPerturbations: string; boundGrid: string; boxes: string; tolerance: string; certify: string; budgetBoxes: string; budgetMs: string; check: string; quick?: boolean; json?: boolean;
}

/** Settings of `--quick` (tests: a complete sweep in about a minute). */
const QUICK = { train: 120, test: 24, trainEpochs: 2, sparsities: '0.3,0.5', seeds: '2', ablations: 'bias', rounds: '1', epochs: '1', usnImages: '8', certify: '3', budgetBoxes: '64', check: '10' } as const;

const list = (flag: string, v: string) => v.split(',').map((s) => s.trim()).filter(Boolean).map((s) => numberFlag(flag, s, { positive: true }));

/** `luxcert experiment`: the pruning × certification sweep, with JSON, Markdown and HTML reports. */
export function registerExperiment(program: Command): void {
  const cmd = program
    .command('experiment')
    .description('prune with every method × sparsity × regulariser setting (seeds at the headline sparsity, USN ablations), assess each model, write JSON/Markdown/HTML reports')
    .option('--out <dir>', 'working folder (runs are cached there: a rerun resumes)', 'luxcert-experiment')
    .option('--data <dir>', 'training data (default: the synthetic benchmark, made in OUT/data)')
    .option('--test-data <dir>', 'held-out data (required with --data)')
    .option('--model <path>', 'dense model (default: train one on the training data, OUT/dense.onnx)')
    .option('--methods <list>', 'pruning methods', PRUNE_METHODS.join(','))
    .option('--sparsities <list>', 'channel sparsities', '0.3,0.5,0.7')
    .option('--headline <s>', 'the sparsity run with every seed, and the ablations', '0.5')
    .option('--seeds <n>', 'seeds at the headline sparsity (1, 2, …)', '3')
    .option('--wasserstein <λ>', 'weight of the Wasserstein regulariser when on', String(BENCHMARK_REGULARISERS.wasserstein))
    .option('--relu-stability <μ>', "weight of the ReLU-stability regulariser in the 'rs' setting", String(BENCHMARK_REGULARISERS.reluStability))
    .option('--regulariser <list>', 'regulariser settings swept: off (none), on (Wasserstein), rs (Wasserstein + ReLU stability)', 'on,off')
    .option('--ablations <list>', "USN term subsets, ';'-separated, each a comma list of bias, smoothness, bounds, stability ('none': no ablation)", 'bias;smoothness;bias,smoothness;bias,smoothness,bounds,stability')
    .option('--scope <s>', `${PRUNE_SCOPES.join(' | ')}: every group loses the same share, or one ranking of all channels decides (all runs)`, 'layer')
    .option('--boxes <list>', 'certified box sizes: b sets brightness ±b and contrast ±b; the largest is also the pruning box', '0.05,0.1')
    .option('--tolerance <px>', 'certified tolerance τ around the ground truth', '2')
    .option('--certify <n>', 'held-out scenes certified per model', '100')
    .option('--budget-boxes <n>', 'branch-and-bound budget per image and box, in sub-boxes bounded (so coverage does not depend on machine load)', '2048')
    .option('--budget-ms <ms>', 'wall-clock safety limit per image and box', '20000')
    .option('--check <n>', 'sampled perturbations per certified claim, run in onnxruntime', '50')
    .option('--quick', 'a minute-long version on tiny data (tests)')
    .option('--json', 'print the experiment JSON instead of the summary');
  addEngineFlags(addScheduleFlags(cmd)).action(
      action(async (f: Flags) => {
        checkOutputDir(f.out, '--out');
        const q = f.quick ? QUICK : undefined;
        // --quick sets the sizes a flag left at its default; a flag given on the command line wins.
        const flag = <K extends keyof typeof QUICK & keyof Flags>(key: K): string => (q && cmd.getOptionValueSource(key) !== 'cli' ? q[key] : f[key]);
        const methods = f.methods.split(',').map((m) => m.trim());
        const bad = methods.find((m) => !(PRUNE_METHODS as readonly string[]).includes(m));
        if (bad !== undefined) throw new LuxcertError(`--methods: unknown method '${bad}' (${PRUNE_METHODS.join(', ')})`);
        const regulariser = f.regulariser.split(',').map((s) => s.trim());
        if (regulariser.length === 0 || regulariser.some((s) => !(REGULARISER_SETTINGS as readonly string[]).includes(s))) throw new LuxcertError(`--regulariser must list some of ${REGULARISER_SETTINGS.join(', ')}, got '${f.regulariser}'`);
        const boxes = list('--boxes', f.boxes).sort((a, b) => a - b).map((b) => {
          if (!(b < 1)) throw new LuxcertError(`--boxes: ${b} must be below 1 (it is the contrast ±b as well as the brightness)`);
          return boxFromFlags(b, b);
        });
        if (boxes.length === 0) throw new LuxcertError('--boxes names no box');
        const seeds = numberFlag('--seeds', flag('seeds'), { integer: true, positive: true, max: MAX_SEEDS });
        const ablationText = flag('ablations');
        const cfg: ExperimentConfig = {
          methods: methods as PruneMethod[],
          sparsities: list('--sparsities', flag('sparsities')),
          headline: numberFlag('--headline', f.headline, { positive: true }),
          seeds: Array.from({ length: seeds }, (_, i) => i + 1),
          wasserstein: numberFlag('--wasserstein', f.wasserstein, { positive: true }),
          reluStability: numberFlag('--relu-stability', f.reluStability, { positive: true }),
          regulariser: regulariser as RegulariserSetting[],
          ablations: ablationText === 'none' ? [] : ablationText.split(';').map((a) => usnComponents(a, '--ablations')),
          scope: pruneScope(f.scope),
          rounds: numberFlag('--rounds', flag('rounds'), { integer: true, positive: true }),
          epochs: numberFlag('--epochs', flag('epochs'), { integer: true, min: 0 }),
          usnImages: numberFlag('--usn-images', flag('usnImages'), { integer: true, positive: true }),
          usnPerturbations: numberFlag('--usn-perturbations', f.usnPerturbations, { integer: true, positive: true, max: MAX_USN_PERTURBATIONS }),
          boundGrid: numberFlag('--bound-grid', f.boundGrid, { integer: true, positive: true, max: MAX_BOUND_GRID }),
          assess: {
            boxes,
            tolerance: numberFlag('--tolerance', f.tolerance, { min: 0 }),
            certify: numberFlag('--certify', flag('certify'), { integer: true, positive: true }),
            budget: { boxes: numberFlag('--budget-boxes', flag('budgetBoxes'), { integer: true, positive: true }), ms: numberFlag('--budget-ms', f.budgetMs, { positive: true }) },
            check: numberFlag('--check', flag('check'), { integer: true, min: 0, max: MAX_CHECK_SAMPLES }),
            seed: 1,
          },
        };
        // The plan is checked before any scene is made or model trained.
        planRuns(cfg);
        if (f.data && !f.testData) throw new LuxcertError('--data needs --test-data: held-out scenes the models never fine-tune on');
        const engine = engineFromFlags(f);

        const trainDir = f.data ?? join(f.out, 'data', 'train');
        const testDir = f.testData ?? join(f.out, 'data', 'test');
        if (!f.data) {
          // The default benchmark: the demo's synthetic scenes; seeds differ, so test scenes are never trained on.
          if (!existsSync(join(trainDir, 'annotations.json'))) await synthesize({ out: trainDir, count: q?.train ?? SYNTH_DEFAULTS.count, size: SYNTH_DEFAULTS.size, seed: 1 });
          if (!existsSync(join(testDir, 'annotations.json'))) await synthesize({ out: testDir, count: q?.test ?? 400, size: SYNTH_DEFAULTS.size, seed: 2 });
        }
        const train = await loadDataset(trainDir);
        const test = await loadDataset(testDir);
        let denseModel = f.model;
        if (!denseModel) {
          denseModel = join(f.out, 'dense.onnx');
          if (existsSync(denseModel)) log.info({ model: denseModel }, 'experiment: reusing the dense model (delete it to retrain)');
          else await trainFolder({ ...TRAIN_DEFAULTS, ...(q ? { epochs: q.trainEpochs } : {}), data: trainDir, out: denseModel, augment: true, engine }, train);
        }
        const meta = modelMeta(readOnnxFile(denseModel, { simplify: false }), denseModel);
        const result = await runExperiment(
          { out: f.out, denseModel, meta, train, test, pruneBox: boxes[boxes.length - 1]!, engine, command: `luxcert ${process.argv.slice(2).join(' ')}`, machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${process.platform} ${process.arch}, Node ${process.version}` },
          cfg,
        );
        writeFileAtomic(join(f.out, 'experiment.json'), JSON.stringify(result, null, 2));
        writeFileAtomic(join(f.out, 'report.md'), markdownReport(result));
        writeFileAtomic(join(f.out, 'report.html'), htmlReport(result));
        mkdirSync(join(f.out, 'plots'), { recursive: true });
        for (const [name, svg] of Object.entries(plotFiles(result))) writeFileAtomic(join(f.out, 'plots', `${name}.svg`), svg);
        emit(Boolean(f.json), result, () =>
          [
            `luxcert experiment — ${result.runs.length} runs, reports: ${join(f.out, 'report.md')}, ${join(f.out, 'report.html')}, ${join(f.out, 'experiment.json')}`,
            `acceptance at sparsity ${cfg.headline}:`,
            ...acceptance(result, aggregateRuns(result)).map((c) => `  ${VERDICT_LABEL[c.verdict]} ${c.text}: ${c.detail}`),
          ].join('\n'),
        );
      }),
    );
}
