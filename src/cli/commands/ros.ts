import type { Command } from 'commander';
import { createRequire } from 'node:module';
import { LuxcertError } from '../../core/errors.ts';
import { action } from '../run-command.ts';

const HOW = 'see docs/ros.md: source ROS 2 (Humble or Jazzy) and the luxcert_msgs workspace, npm install rclnodejs@2, then npx generate-ros-messages';

/**
 * Refuses, in one line, a start that cannot work: rclnodejs needs a sourced ROS 2 (without one,
 * loading it starts a native build) and is not installed by `npm install`.
 */
function checkRosAvailable(): void {
  if (!process.env.ROS_DISTRO) throw new LuxcertError(`luxcert ros needs a sourced ROS 2 installation (ROS_DISTRO is not set); ${HOW}`);
  try {
    createRequire(import.meta.url).resolve('rclnodejs');
  } catch {
    throw new LuxcertError(`luxcert ros needs the optional package rclnodejs, which is not installed; ${HOW}`);
  }
}

/** `luxcert ros`: the ROS 2 lifecycle node; arguments after `ros` go to ROS (`--ros-args -p bundle:=… -r image:=…`). */
export function registerRos(program: Command): void {
  program
    .command('ros')
    .description('ROS 2 lifecycle node: subscribes images, publishes certified keypoints, annotations and diagnostics (needs ROS 2 and rclnodejs; see docs/ros.md)')
    .argument('[ros-args...]', 'ROS arguments, e.g. --ros-args -p bundle:=/path/to/bundle -r image:=/camera/image_raw')
    .allowUnknownOption()
    .helpOption('-h, --help', 'show this help (parameters: docs/ros.md)')
    .action(
      action(async () => {
        checkRosAvailable();
        const rosArgs = process.argv.slice(process.argv.indexOf('ros') + 1);
        // A computed specifier: the rclnodejs-facing module is type-checked on its own (tsconfig.ros.json).
        const node = (await import(new URL('../../ros/rcl/node.ts', import.meta.url).href)) as { runNode(argv: string[]): Promise<void> };
        await node.runNode(rosArgs);
      }),
    );
}
