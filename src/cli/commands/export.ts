import type { Command } from 'commander';
import { LuxcertError } from '../../core/errors.ts';
import { checkOutputDir } from '../../core/output-path.ts';
import { readPrivateKey } from '../../export/signing.ts';
import { boxFromFlags } from '../../model/perturbation.ts';
import { exportBundle } from '../../export/bundle.ts';
import { modelMeta } from '../../model/metadata.ts';
import { readOnnxFile } from '../../onnx/read.ts';
import { addMetaFlags, type MetaFlagValues } from '../meta-flags.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';

/** Defaults of a bundle: the maximum box and tolerance the runtime certifies against, and its search. */
export const EXPORT_DEFAULTS = { brightness: '0.1', contrast: '0.1', tolerance: '2', boxesPerCall: '8', budgetMs: '20', split: '1' } as const;

/** `luxcert export`: model + certifier + manifest, ready for `luxcert run` on the device. */
export function registerExport(program: Command): void {
  const d = EXPORT_DEFAULTS;
  const cmd = program
    .command('export')
    .description('bundle a model with its certifier (ONNX bound graph) and a manifest for the device')
    .requiredOption('--model <path>', 'ONNX model')
    .requiredOption('--out <dir>', 'bundle folder: new, empty, or a bundle (replaced atomically); any other folder is refused')
    .option('--brightness <b>', 'maximum box: β ∈ [−b, b]', d.brightness)
    .option('--contrast <c>', 'maximum box: α ∈ [1−c, 1+c]', d.contrast)
    .option('--tolerance <t>', 'pixels (L∞) a keypoint may move', d.tolerance)
    .option('--boxes-per-call <n>', 'candidate boxes per certifier call', d.boxesPerCall)
    .option('--budget-ms <ms>', 'default per-frame certification budget', d.budgetMs)
    .option('--split <g>', 'start the per-frame search from the maximum box cut into g × g sub-boxes', d.split)
    .option('--sign <key>', 'sign the manifest with this Ed25519 private key (PEM; luxcert keygen)')
    .option('--signer <name>', 'who signs, recorded (and signed) in the manifest')
    .option('--json', 'machine-readable output');
  addMetaFlags(cmd).action(
    action((f: MetaFlagValues & { model: string; out: string; brightness: string; contrast: string; tolerance: string; boxesPerCall: string; budgetMs: string; split: string; sign?: string; signer?: string; json?: boolean }) => {
      checkOutputDir(f.out, '--out', [f.model]);
      if (f.signer !== undefined && f.sign === undefined) throw new LuxcertError('--signer needs --sign KEY');
      const key = f.sign !== undefined ? readPrivateKey(f.sign) : undefined;
      const graph = readOnnxFile(f.model);
      const meta = modelMeta(graph, f.model, f);
      const m = exportBundle(graph, meta, f.out, {
        maxBox: boxFromFlags(numberFlag('--brightness', f.brightness, { min: 0 }), numberFlag('--contrast', f.contrast, { min: 0 })),
        tolerance: numberFlag('--tolerance', f.tolerance, { min: 0 }),
        boxesPerCall: numberFlag('--boxes-per-call', f.boxesPerCall, { integer: true, positive: true }),
        budgetMs: numberFlag('--budget-ms', f.budgetMs, { positive: true }),
        grid: numberFlag('--split', f.split, { integer: true, positive: true }),
        ...(key ? { sign: { key, ...(f.signer !== undefined ? { signer: f.signer } : {}) } } : {}),
      });
      emit(Boolean(f.json), { bundle: f.out, manifest: m }, () => `wrote bundle ${f.out}: model.onnx, certifier.onnx (${m.search.boxesPerCall} boxes per call), manifest.json${m.signature ? ` signed by ${m.signature.keyId}` : ''}; max box α [${m.maxBox.alphaLo}, ${m.maxBox.alphaHi}] × β [${m.maxBox.betaLo}, ${m.maxBox.betaHi}], τ = ${m.tolerance} px`);
    }),
  );
}
