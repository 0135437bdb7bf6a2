import type { Command } from 'commander';
import { loadDataset } from '../../data/dataset.ts';
import { modelMeta } from '../../model/metadata.ts';
import { readModelBytes, readOnnxFile } from '../../onnx/read.ts';
import { evaluateModel, type EvalResult } from '../../train/evaluate.ts';
import { PCK_THRESHOLDS } from '../../train/metrics.ts';
import { table } from '../format.ts';
import { action, emit } from '../run-command.ts';
import { addMetaFlags, type MetaFlagValues } from '../meta-flags.ts';

/** Human summary of an evaluation. */
export function formatEval(r: EvalResult): string {
  const f = (p: Record<string, number>) => PCK_THRESHOLDS.map((t) => p[t]!.toFixed(3));
  return table([
    ['keypoint', 'n', ...PCK_THRESHOLDS.map((t) => `PCK@${t}px`), 'mean err px'],
    ...r.perKeypoint.map((k) => [k.name, String(k.count), ...f(k.pck), k.meanError.toFixed(2)]),
    ['all', String(r.count), ...f(r.pck), r.meanError.toFixed(2)],
  ]) + `\n${r.objects} objects, onnxruntime ${r.imagesPerSec.toFixed(0)} images/s`;
}

/** `luxcert eval`: PCK and pixel error of an ONNX model on a data set, run in onnxruntime. */
export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('PCK at 1/2/4/8 px, mean pixel error and per-keypoint figures of a model on a data set (onnxruntime)')
    .requiredOption('--model <path>', 'ONNX model')
    .requiredOption('--data <dir>', 'data set folder (annotations.json + images)')
    .option('--json', 'machine-readable output');
  addMetaFlags(cmd).action(
    action(async (o: { model: string; data: string; json?: boolean } & MetaFlagValues) => {
      const graph = readOnnxFile(o.model);
      const meta = modelMeta(graph, o.model, o);
      const r = await evaluateModel(readModelBytes(o.model), meta, await loadDataset(o.data));
      emit(Boolean(o.json), { model: o.model, data: o.data, ...r }, () => formatEval(r));
    }),
  );
}
