import type { Command } from 'commander';
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { log } from '../../core/logger.ts';
import { loadBundle } from '../../export/bundle.ts';
import { annotateFrame } from '../../runtime/annotate.ts';
import { openSource } from '../../runtime/frames.ts';
import { Runtime } from '../../runtime/runtime.ts';
import { runStream } from '../../runtime/stream.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';

interface Flags { bundle: string; input: string; out?: string; annotate?: string; budgetMs?: string; fps?: string; limit?: string; providers: string; threads?: string; json?: boolean }

/** `luxcert run`: keypoints and the certified brightness/contrast box for every frame. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a bundle on an image folder: keypoints plus the certified brightness/contrast box per frame')
    .requiredOption('--bundle <dir>', 'bundle folder from luxcert export')
    .requiredOption('--input <src>', 'image folder, video file, camera:N (V4L2) or gst:PIPELINE (the last three need the optional @u4/opencv4nodejs)')
    .option('--out <path>', 'results.jsonl: one JSON line per frame')
    .option('--annotate <dir>', 'write each frame with keypoints, tolerance squares coloured by verdict and the certified box')
    .option('--budget-ms <ms>', 'per-frame certification budget (default: the bundle\'s)')
    .option('--fps <n>', 'feed frames at this rate; frames that arrive while the certifier is busy are dropped and counted')
    .option('--limit <n>', 'stop after n frames')
    .option('--providers <list>', 'onnxruntime execution providers to try, best first', 'cuda,cpu')
    .option('--threads <n>', 'onnxruntime intra-op threads')
    .option('--json', 'machine-readable summary')
    .action(
      action(async (f: Flags) => {
        const bundle = loadBundle(f.bundle);
        const runtime = await Runtime.open(bundle, {
          providers: f.providers.split(',').map((s) => s.trim()).filter(Boolean),
          ...(f.threads ? { threads: numberFlag('--threads', f.threads, { integer: true, positive: true }) } : {}),
          ...(f.budgetMs ? { budgetMs: numberFlag('--budget-ms', f.budgetMs, { positive: true }) } : {}),
        });
        const source = openSource(f.input);
        let fd: number | undefined;
        const tmp = f.out ? `${f.out}.tmp-${process.pid}` : undefined;
        if (f.out) {
          mkdirSync(dirname(f.out), { recursive: true });
          fd = openSync(tmp!, 'w');
        }
        const boxes: number[] = [];
        const stats = await runStream(runtime, source, {
          ...(f.fps ? { fps: numberFlag('--fps', f.fps, { positive: true }) } : {}),
          ...(f.limit ? { limit: numberFlag('--limit', f.limit, { integer: true, positive: true }) } : {}),
          onRecord: async (r, frame) => {
            if (!r.ok) log.warn({ frame: r.frame, source: r.source, error: r.error }, 'frame skipped');
            else {
              boxes.push((r.extent[0] + r.extent[1] + r.extent[2] + r.extent[3]) / 4);
              if (f.annotate) await annotateFrame(frame.image!, r, bundle.manifest.meta, join(f.annotate, `frame-${String(r.frame).padStart(6, '0')}.png`));
            }
            if (fd !== undefined) writeSync(fd, `${JSON.stringify(r)}\n`);
          },
        });
        if (fd !== undefined) {
          closeSync(fd);
          renameSync(tmp!, f.out!);
        }
        await runtime.release();
        const meanExtent = boxes.reduce((a, b) => a + b, 0) / Math.max(1, boxes.length);
        const summary = { bundle: f.bundle, input: f.input, provider: runtime.provider, ...stats, meanExtent };
        emit(Boolean(f.json), summary, () =>
          `${stats.processed} frames certified (${stats.errors} bad, ${stats.dropped} dropped) at ${stats.fps.toFixed(1)} fps on ${runtime.provider}; latency p50 ${stats.latencyMs.p50.toFixed(1)} ms, p99 ${stats.latencyMs.p99.toFixed(1)} ms; mean certified extent ${(100 * meanExtent).toFixed(0)}% of the maximum box${f.out ? `; results in ${f.out}` : ''}`,
        );
      }),
    );
}
