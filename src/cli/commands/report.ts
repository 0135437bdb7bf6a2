import type { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../../core/atomic-write.ts';
import { LuxcertError } from '../../core/errors.ts';
import { checkOutputFile } from '../../core/output-path.ts';
import { readMcap } from '../../ros/mcap-reader.ts';
import { fieldReport } from '../../ros/report.ts';
import { action, emit } from '../run-command.ts';

/** Recordings larger than this are refused (a report reads the whole file). */
const MAX_RECORDING_BYTES = 2 ** 31 - 1;

/** `luxcert report RUN.mcap`: a self-contained HTML report of a recorded run. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('HTML report of a recording from luxcert run --record: frames/s, latency, certified box, drops, load, temperatures and power over time')
    .argument('<recording>', 'MCAP file (a cut-off .partial file works too: every complete chunk is read)')
    .option('--out <path>', 'HTML file (default: the recording with .html)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (recording: string, f: { out?: string; json?: boolean }) => {
        let size: number;
        try {
          size = statSync(recording).size;
        } catch {
          throw new LuxcertError(`${recording}: no such file`);
        }
        if (size > MAX_RECORDING_BYTES) throw new LuxcertError(`${recording}: ${size} bytes is over the ${MAX_RECORDING_BYTES}-byte limit of a report`);
        const out = f.out ?? `${recording.replace(/\.(mcap|partial)$/, '').replace(/\.mcap$/, '')}.html`;
        checkOutputFile(out, '--out', [recording]);
        const messages = await readMcap(new Uint8Array(readFileSync(recording)));
        if (messages.length === 0) throw new LuxcertError(`${recording}: no message could be read${messages.error ? ` (${messages.error})` : ''}`);
        writeFileAtomic(out, fieldReport(messages, recording));
        emit(Boolean(f.json), { recording, out, messages: messages.length, ...(messages.error ? { stoppedAt: messages.error } : {}) }, () => `wrote ${out} from ${messages.length} messages${messages.error ? ` (the recording ends early: ${messages.error})` : ''}`);
      }),
    );
}
