import type { Command } from 'commander';
import { checkOutputDir } from '../../core/output-path.ts';
import { SYNTH_DEFAULTS, synthesize } from '../../data/synth.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';

/** `luxcert data synth`: the seeded synthetic landing-pad scene generator. */
export function registerData(program: Command): void {
  const data = program.command('data').description('data set commands');
  data
    .command('synth')
    .description('generate synthetic landing-pad scenes with 4 keypoints, in COCO-keypoints layout')
    .requiredOption('--out <dir>', 'output folder (images/ and annotations.json)')
    .option('--count <n>', 'number of scenes', String(SYNTH_DEFAULTS.count))
    .option('--size <s>', 'scene width and height in pixels', String(SYNTH_DEFAULTS.size))
    .option('--seed <n>', 'random seed', String(SYNTH_DEFAULTS.seed))
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { out: string; count: string; size: string; seed: string; json?: boolean }) => {
        checkOutputDir(o.out, '--out');
        const opts = { out: o.out, count: numberFlag('--count', o.count, { integer: true, positive: true }), size: numberFlag('--size', o.size, { integer: true, positive: true }), seed: numberFlag('--seed', o.seed, { integer: true }) };
        const t0 = performance.now();
        await synthesize(opts);
        const seconds = (performance.now() - t0) / 1000;
        emit(Boolean(o.json), { ...opts, seconds }, () => `wrote ${opts.count} scenes of ${opts.size}×${opts.size} px to ${opts.out} (seed ${opts.seed}) in ${seconds.toFixed(1)} s`);
      }),
    );
}
