import type { Command } from 'commander';
import { LuxcertError } from '../../core/errors.ts';
import { checkOutputFile } from '../../core/output-path.ts';
import { loadDataset } from '../../data/dataset.ts';
import { modelMeta } from '../../model/metadata.ts';
import { readOnnxFile } from '../../onnx/read.ts';
import { writeOnnxFile } from '../../onnx/write.ts';
import { PRUNE_SCOPES, pruneScope } from '../../prune/allocate.ts';
import { MAX_BOUND_GRID } from '../../prune/bound-terms.ts';
import { pruneMetadata, pruneModel, PRUNE_DEFAULTS as D, PRUNE_METHODS, type PruneMethod, type PruneOptions } from '../../prune/prune-model.ts';
import { MAX_USN_PERTURBATIONS, USN_COMPONENTS, USN_DEFAULT_COMPONENTS, type UsnComponent } from '../../prune/usn.ts';
import { compact } from '../format.ts';
import { addEngineFlags, engineFromFlags, type EngineFlagValues } from '../engine-flags.ts';
import { addMetaFlags, type MetaFlagValues } from '../meta-flags.ts';
import { numberFlag } from '../options.ts';
import { addRegulariserFlags, regulariserWeights, type RegulariserFlagValues } from '../regulariser-flags.ts';
import { action, emit } from '../run-command.ts';

interface Flags extends MetaFlagValues, EngineFlagValues, RegulariserFlagValues {
  model: string; data: string; method: string; sparsity: string; out: string; rounds: string; usnImages: string; usnPerturbations: string; usnTerms: string; boundGrid: string; scope: string; epochs: string; minWidth: string; seed: string; lr: string; batchSize: string; json?: boolean;
}

/** `luxcert prune`: structured, physical pruning with fine-tuning between rounds. */
export function registerPrune(program: Command): void {
  const cmd = program
    .command('prune')
    .description('structured pruning: remove whole channels (dependency groups), fine-tune between rounds')
    .requiredOption('--model <path>', 'ONNX model (luxcert-trained, or with the metadata flags)')
    .requiredOption('--data <dir>', 'data set folder for fine-tuning')
    .requiredOption('--method <m>', PRUNE_METHODS.join(' | '))
    .requiredOption('--sparsity <s>', 'fraction of the prunable channels to remove, in [0, 1)')
    .requiredOption('--out <path>', 'pruned ONNX model (written once, when pruning is done)')
    .option('--usn-terms <list>', `USN: its terms, comma-separated (${USN_COMPONENTS.join(', ')})`, USN_DEFAULT_COMPONENTS.join(','))
    .option('--min-width <n>', 'channels every group keeps at least', String(D.minWidth))
    .option('--scope <s>', `${PRUNE_SCOPES.join(' | ')}: every group loses the same share, or one ranking of all channels decides`, D.scope)
    .option('--lr <x>', 'fine-tuning learning rate', String(D.lr))
    .option('--batch-size <n>', 'fine-tuning batch size', String(D.batchSize))
    .option('--seed <n>', 'random seed', '1')
    .option('--json', 'machine-readable output');
  addEngineFlags(addMetaFlags(addScheduleFlags(addRegulariserFlags(cmd, 'during fine-tuning', 'USN, NRS and the regularisers', D)))).action(
    action(async (f: Flags) => {
      if (!(PRUNE_METHODS as readonly string[]).includes(f.method)) throw new LuxcertError(`unknown --method '${f.method}' (${PRUNE_METHODS.join(', ')})`);
      checkOutputFile(f.out, '--out', [f.model]);
      // BatchNorm stays as nodes: slimming reads its scales and fine-tuning trains it.
      const graph = readOnnxFile(f.model, { simplify: false });
      const meta = modelMeta(graph, f.model, f);
      const set = await loadDataset(f.data);
      const sparsity = numberFlag('--sparsity', f.sparsity, { min: 0 });
      const options: PruneOptions = {
        method: f.method as PruneMethod,
        ...regulariserWeights(f),
        usnImages: numberFlag('--usn-images', f.usnImages, { integer: true, positive: true }),
        usnPerturbations: numberFlag('--usn-perturbations', f.usnPerturbations, { integer: true, positive: true, max: MAX_USN_PERTURBATIONS }),
        usnComponents: usnComponents(f.usnTerms),
        boundGrid: numberFlag('--bound-grid', f.boundGrid, { integer: true, positive: true, max: MAX_BOUND_GRID }),
        sparsity,
        rounds: numberFlag('--rounds', f.rounds, { integer: true, positive: true }),
        epochs: numberFlag('--epochs', f.epochs, { integer: true, min: 0 }),
        minWidth: numberFlag('--min-width', f.minWidth, { integer: true, positive: true }),
        scope: pruneScope(f.scope),
        seed: numberFlag('--seed', f.seed, { integer: true }),
        lr: numberFlag('--lr', f.lr, { positive: true }),
        batchSize: numberFlag('--batch-size', f.batchSize, { integer: true, positive: true }),
        engine: engineFromFlags(f),
      };
      const report = await pruneModel(graph, meta, set, options);
      Object.assign(graph.metadata, pruneMetadata(options, report));
      writeOnnxFile(f.out, graph);
      const last = report.rounds[report.rounds.length - 1]!.validation;
      emit(Boolean(f.json), { model: f.model, out: f.out, method: f.method, sparsity, ...report }, () =>
        [
          `wrote ${f.out} (${f.method}, ${f.scope} scope, ${report.rounds.length} round(s))`,
          `channels ${report.channels.before} → ${report.channels.after}, parameters ${compact(report.params.before)} → ${compact(report.params.after)}, FLOPs ${compact(report.flops.before)} → ${compact(report.flops.after)}`,
          last ? `validation after fine-tuning: PCK@2px ${last.pck['2']!.toFixed(3)}, mean error ${last.meanError.toFixed(2)} px` : 'not fine-tuned (--epochs 0)',
        ].join('\n'),
      );
    }),
  );
}

/** Parses a non-empty comma-separated subset of USN's penalty terms (`flag` names it in errors). */
export function usnComponents(list: string, flag = '--usn-terms'): UsnComponent[] {
  const terms = list.split(',').map((t) => t.trim()).filter(Boolean);
  const bad = terms.find((t) => !(USN_COMPONENTS as readonly string[]).includes(t));
  if (bad !== undefined || terms.length === 0) throw new LuxcertError(`${flag}: '${bad ?? list}' is not one of ${USN_COMPONENTS.join(', ')}`);
  return [...new Set(terms)] as UsnComponent[];
}

/** The progressive schedule and measurement flags that `prune` and `experiment` share. */
export function addScheduleFlags(cmd: Command): Command {
  return cmd
    .option('--rounds <r>', 'progressive rounds', String(D.rounds))
    .option('--epochs <e>', 'fine-tuning epochs after each round', String(D.epochs))
    .option('--usn-images <n>', 'USN and NRS: images sampled', String(D.usnImages))
    .option('--usn-perturbations <n>', 'USN: perturbations per image (4 corners, then uniform)', String(D.usnPerturbations))
    .option('--bound-grid <g>', 'USN bounds term and NRS: certified bounds on g × g sub-boxes of the box', String(D.boundGrid));
}
