import type { Command } from 'commander';
import { runChecks } from '../../ros/doctor.ts';
import { checkDeviceId, parseProviders } from '../../runtime/providers.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';

interface Flags { config?: string; bundle?: string; trust: string[]; providers?: string; gpuDevice?: string; frames: string; json?: boolean }

/** `luxcert doctor`: is this machine ready to run a bundle? One line per check; exit 1 when one fails. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check this machine: Node, onnxruntime and its providers, ROS 2 and rclnodejs, cameras, the node\'s parameter file, and a bundle\'s integrity, frame rate and GPU-vs-CPU agreement')
    .option('--config <file>', 'the node\'s ROS 2 parameter file (the service\'s config, e.g. /etc/luxcert/luxcert.yaml): validated as ROS 2 will read it; its bundle, keys and providers are used unless given here')
    .option('--bundle <dir>', 'also verify this bundle and measure its frame rate here')
    .option('--trust <pubkey>', 'require the bundle to be signed by this Ed25519 public key (repeat for several)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--providers <list>', 'execution providers for the model, best first (default: the config\'s, else every one installed)')
    .option('--gpu-device <n>', 'CUDA device for the tensorrt/cuda providers')
    .option('--frames <n>', 'frames timed for the frame rate (0: check files only, as before a service starts)', '30')
    .option('--json', 'machine-readable output')
    .action(
      action(async (f: Flags) => {
        const checks = await runChecks({
          ...(f.config !== undefined ? { config: f.config } : {}),
          ...(f.bundle !== undefined ? { bundle: f.bundle } : {}),
          trust: f.trust,
          ...(f.providers !== undefined ? { providers: parseProviders(f.providers.split(',').map((s) => s.trim()).filter(Boolean)) } : {}),
          ...(f.gpuDevice !== undefined ? { gpu: { deviceId: checkDeviceId(numberFlag('--gpu-device', f.gpuDevice, { integer: true, min: 0 })) } } : {}),
          frames: numberFlag('--frames', f.frames, { integer: true, min: 0 }),
        });
        emit(Boolean(f.json), { checks }, () => checks.map((c) => `${c.status.toUpperCase().padEnd(4)} ${c.name.padEnd(11)} ${c.detail}`).join('\n'));
        if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
      }),
    );
}
