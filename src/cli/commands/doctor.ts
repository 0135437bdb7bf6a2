import type { Command } from 'commander';
import { runChecks } from '../../ros/doctor.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';

/** `luxcert doctor`: is this machine ready to run a bundle? One line per check; exit 1 when one fails. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check this machine: Node, onnxruntime and its providers, ROS 2 and rclnodejs, cameras, and a bundle\'s integrity and frame rate')
    .option('--bundle <dir>', 'also verify this bundle and measure its frame rate here')
    .option('--trust <pubkey>', 'require the bundle to be signed by this Ed25519 public key (repeat for several)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--frames <n>', 'frames timed for the frame rate', '30')
    .option('--json', 'machine-readable output')
    .action(
      action(async (f: { bundle?: string; trust: string[]; frames: string; json?: boolean }) => {
        const checks = await runChecks({ ...(f.bundle !== undefined ? { bundle: f.bundle } : {}), trust: f.trust, frames: numberFlag('--frames', f.frames, { integer: true, positive: true }) });
        emit(Boolean(f.json), { checks }, () => checks.map((c) => `${c.status.toUpperCase().padEnd(4)} ${c.name.padEnd(11)} ${c.detail}`).join('\n'));
        if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
      }),
    );
}
