import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../../core/atomic-write.ts';
import { LuxcertError } from '../../core/errors.ts';
import { checkOutputDir, checkOutputFile } from '../../core/output-path.ts';
import { CERTIFIER } from '../../bounds/bound-graph.ts';
import { BoundComputer } from '../../bounds/bounds.ts';
import { CLAIM_RANGES } from '../../export/manifest.ts';
import { boxFromFlags } from '../../model/perturbation.ts';
import { certifySet, MAX_CHECK_SAMPLES, type Claim, type SettingSummary } from '../../certify/certify-set.ts';
import { ModelRunner } from '../../certify/model-runner.ts';
import { loadDataset } from '../../data/dataset.ts';
import { modelMeta } from '../../model/metadata.ts';
import { decodeOnnx, rawToGraph, readModelBytes } from '../../onnx/read.ts';
import { table } from '../format.ts';
import { addMetaFlags, type MetaFlagValues } from '../meta-flags.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';

/** `--backward` words and the bound graph's option for each (a number N is taken as is). */
const BACKWARD = { none: false, dense: 0, deep: Infinity } as const;

/** The bound graph's `backward` option for a `--backward` value: a word above, or a count of convolutions. */
function backwardOption(v: string): number | false {
  if (Object.hasOwn(BACKWARD, v)) return BACKWARD[v as keyof typeof BACKWARD];
  if (/^\d+$/.test(v) && Number(v) <= 1000) return Number(v);
  throw new LuxcertError(`--backward must be none, dense, deep or a number of convolutions (0–1000), got '${v}'`);
}

/** Defaults of `luxcert certify`: the documented default box and a 1 s budget per image. */
export const CERTIFY_DEFAULTS = { brightness: '0.1', contrast: '0.1', tolerance: '2', budgetMs: '1000', maxBoxes: '4096', boxesPerCall: '16', mode: 'linear', reference: 'truth', seed: '1', check: '0' } as const;

interface Flags extends MetaFlagValues {
  model: string; data: string; brightness: string; contrast: string; tolerance: string; reference: string; budgetMs: string; maxBoxes: string;
  boxesPerCall: string; mode: string; reluLower: string; backward: string; limit?: string; check: string; seed: string; json?: boolean; csv?: string; saveInputs?: string;
}

const list = (flag: string, v: string, opts: { min?: number } = {}) => v.split(',').map((s) => numberFlag(flag, s, opts));

/** Human summary of certification settings. */
export function formatSettings(settings: SettingSummary[]): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return table([
    ['contrast α', 'brightness β', 'τ px', 'pairs', 'certified', 'frames', 'falsified', 'unknown', 'ms/img median', 'p95', 'soundness'],
    ...settings.map((s) => [
      `[${s.box.alphaLo}, ${s.box.alphaHi}]`, `[${s.box.betaLo}, ${s.box.betaHi}]`, String(s.tolerance), String(s.pairs), pct(s.coverage), pct(s.frameCoverage), pct(s.falsifiedShare), pct(s.unknownShare),
      s.msPerImage.median.toFixed(0), s.msPerImage.p95.toFixed(0), s.soundness ? `${s.soundness.violations} violations in ${s.soundness.samples} samples` : 'not checked',
    ]),
  ]);
}

function csv(claims: Claim[]): string {
  const rows = claims.map((c) => [c.object, c.image, c.keypoint, c.verdict, c.reference[0], c.reference[1], c.tolerance, c.box.alphaLo, c.box.alphaHi, c.box.betaLo, c.box.betaHi, c.counterexample?.alpha ?? '', c.counterexample?.beta ?? ''].join(','));
  return ['object,image,keypoint,verdict,ref_x,ref_y,tolerance,alpha_lo,alpha_hi,beta_lo,beta_hi,cex_alpha,cex_beta', ...rows].join('\n') + '\n';
}

/** `luxcert certify`: verdicts per image and keypoint, certified coverage, and the soundness check. */
export function registerCertify(program: Command): void {
  const d = CERTIFY_DEFAULTS;
  const cmd = program
    .command('certify')
    .description('certify keypoints against brightness/contrast changes: certified / falsified / unknown per image and keypoint')
    .requiredOption('--model <path>', 'ONNX model')
    .requiredOption('--data <dir>', 'data set folder (annotations.json + images)')
    .option('--brightness <b[,b2…]>', 'β ∈ [−b, b]; several values give several boxes (paired with --contrast)', d.brightness)
    .option('--contrast <c[,c2…]>', 'α ∈ [1−c, 1+c]', d.contrast)
    .option('--tolerance <t[,t2…]>', 'pixels (L∞) a keypoint may move', d.tolerance)
    .option('--reference <r>', 'truth (certified accuracy) | prediction (certified stability)', d.reference)
    .option('--budget-ms <ms>', 'time budget per image', d.budgetMs)
    .option('--max-boxes <n>', 'sub-boxes bounded per image at most', d.maxBoxes)
    .option('--boxes-per-call <n>', 'sub-boxes per bound-graph call', d.boxesPerCall)
    .option('--mode <m>', 'linear (forward linear bounds) | ibp (intervals)', d.mode)
    .option('--relu-lower <s>', 'ReLU lower-line slope: parallel (to the chord) | adaptive (CROWN-Ada)', CERTIFIER.lowerSlope)
    .option('--backward <b>', 'backward bounds on the output (linear mode), crossing the dense layers and the last N convolutions: N | dense (0) | deep (all: fewest sub-boxes, dearest passes) | none', String(CERTIFIER.backward))
    .option('--limit <n>', 'certify only the first n objects')
    .option('--check <n>', 'run n sampled perturbations per certified claim in onnxruntime and report violations', d.check)
    .option('--seed <n>', 'seed of the sampled perturbations', d.seed)
    .option('--csv <path>', 'write one row per image and keypoint')
    .option('--save-inputs <dir>', 'write the exact preprocessed model inputs as .npy files named in the JSON')
    .option('--json', 'machine-readable output');
  addMetaFlags(cmd).action(
    action(async (f: Flags) => {
      const bs = list('--brightness', f.brightness, { min: 0 });
      const cs = list('--contrast', f.contrast, { min: 0 });
      if (bs.length !== cs.length && bs.length !== 1 && cs.length !== 1) throw new LuxcertError(`--brightness has ${bs.length} values and --contrast ${cs.length}: give the same number, or one`);
      const n = Math.max(bs.length, cs.length);
      const boxes = Array.from({ length: n }, (_, i) => boxFromFlags(bs[Math.min(i, bs.length - 1)]!, cs[Math.min(i, cs.length - 1)]!));
      if (f.reference !== 'truth' && f.reference !== 'prediction') throw new LuxcertError(`--reference must be truth or prediction, got '${f.reference}'`);
      if (f.mode !== 'linear' && f.mode !== 'ibp') throw new LuxcertError(`--mode must be linear or ibp, got '${f.mode}'`);
      if (f.reluLower !== 'parallel' && f.reluLower !== 'adaptive') throw new LuxcertError(`--relu-lower must be parallel or adaptive, got '${f.reluLower}'`);
      const backward = backwardOption(f.backward);
      if (f.csv) checkOutputFile(f.csv, '--csv', [f.model]);
      if (f.saveInputs) checkOutputDir(f.saveInputs, '--save-inputs', [f.data]);
      // One read: the graph that is bounded and the model that is sampled are the same bytes.
      const bytes = readModelBytes(f.model);
      const graph = rawToGraph(decodeOnnx(bytes, f.model));
      const meta = modelMeta(graph, f.model, f);
      const set = await loadDataset(f.data);
      const bounds = await BoundComputer.create(graph, { boxes: numberFlag('--boxes-per-call', f.boxesPerCall, { integer: true, positive: true, max: CLAIM_RANGES.boxesPerCall[1] }), mode: f.mode, engine: 'onnxruntime', lowerSlope: f.reluLower, backward });
      const runner = await ModelRunner.open(bytes, meta);
      if (f.saveInputs) mkdirSync(f.saveInputs, { recursive: true });
      const r = await certifySet(bounds, runner, meta, set, {
        boxes,
        tolerances: list('--tolerance', f.tolerance, { min: 0 }),
        reference: f.reference,
        budget: { ms: numberFlag('--budget-ms', f.budgetMs, { positive: true }), boxes: numberFlag('--max-boxes', f.maxBoxes, { integer: true, positive: true }) },
        seed: numberFlag('--seed', f.seed, { integer: true }),
        check: numberFlag('--check', f.check, { integer: true, min: 0, max: MAX_CHECK_SAMPLES }),
        ...(f.limit !== undefined ? { limit: numberFlag('--limit', f.limit, { integer: true, positive: true }) } : {}),
        ...(f.saveInputs ? { saveInputs: f.saveInputs } : {}),
      });
      await bounds.release();
      await runner.release();
      if (f.csv) writeFileAtomic(f.csv, csv(r.claims));
      emit(Boolean(f.json), { model: f.model, data: f.data, reference: f.reference, mode: f.mode, settings: r.settings, claims: r.claims }, () => formatSettings(r.settings));
      if (r.settings.some((s) => (s.soundness?.violations ?? 0) > 0)) process.exitCode = 2;
    }),
  );
}
