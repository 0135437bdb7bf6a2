import type { Command } from 'commander';
import { LuxcertError } from '../../core/errors.ts';
import { LUXCERT_VERSION } from '../../core/version.ts';
import { action } from '../run-command.ts';

/** A command of the CLI contract (design brief §5) whose stage is not in this version yet. */
interface Planned {
  name: string;
  description: string;
  options: [flags: string, help: string][];
}

const PLANNED: Planned[] = [
  { name: 'experiment', description: 'the paper\'s pruning × certification sweep, with a report', options: [] },
];

/** Registers the contract's commands that are not implemented yet: each says so and exits 1. */
export function registerPlanned(program: Command): void {
  const groups = new Map<string, Command>();
  for (const p of PLANNED) {
    const [group, sub] = p.name.split(' ') as [string, string | undefined];
    let parent = program;
    if (sub) {
      parent = groups.get(group) ?? program.command(group).description(`${group} commands`);
      groups.set(group, parent);
    }
    const cmd = parent.command(sub ?? group).description(`${p.description} (not implemented yet)`).allowUnknownOption();
    for (const [flags, help] of p.options) cmd.option(flags, help);
    cmd.action(
      action(() => {
        throw new LuxcertError(`'${p.name}' is not implemented in luxcert ${LUXCERT_VERSION} yet`);
      }),
    );
  }
}
