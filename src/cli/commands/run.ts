import type { Command } from 'commander';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { log } from '../../core/logger.ts';
import { checkOutputDir, checkOutputFile } from '../../core/output-path.ts';
import { loadBundle } from '../../export/bundle.ts';
import { BUNDLE_FILES } from '../../export/manifest.ts';
import { readPublicKey } from '../../export/signing.ts';
import { MAX_ORT_THREADS } from '../../onnx/ort.ts';
import { annotateFrame } from '../../runtime/annotate.ts';
import { FoxgloveLive, parseListenAddress } from '../../ros/foxglove-server.ts';
import { McapRecorder } from '../../ros/mcap-recorder.ts';
import { FrameOutputs, type MessageSink } from '../../ros/outputs.ts';
import { openSource } from '../../runtime/frames.ts';
import { checkDeviceId, checkWorkspaceMb, parseProviders, type GpuOptions } from '../../runtime/providers.ts';
import { Runtime } from '../../runtime/runtime.ts';
import { runStream } from '../../runtime/stream.ts';
import { SystemMonitor } from '../../runtime/system-stats.ts';
import { numberFlag } from '../options.ts';
import { action, emit } from '../run-command.ts';

interface Flags { bundle: string; input: string; out?: string; record?: string; foxglove?: string; frameId: string; annotate?: string; budgetMs?: string; fps?: string; limit?: string; providers: string; gpuDevice?: string; trtCache?: string; trtWorkspaceMb?: string; threads?: string; trust: string[]; json?: boolean }

/**
 * results.jsonl as the run goes: each complete line is written to `<out>.partial` at once (so a
 * hard kill loses no processed frame), and the file is renamed onto `<out>` when the run ends —
 * normally, on SIGINT/SIGTERM, or on an error after some frames. Before that, `<out>` keeps
 * whatever it held.
 */
class ResultsFile {
  private readonly fd: number;
  private lines = 0;
  readonly partial: string;

  constructor(readonly path: string) {
    this.partial = `${path}.partial`;
    this.fd = openSync(this.partial, 'w');
  }

  write(line: string): void {
    writeSync(this.fd, `${line}\n`);
    this.lines++;
  }

  /** Flushes and renames the results into place; with no line written, the previous file stays. */
  finish(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    if (this.lines > 0) renameSync(this.partial, this.path);
    else rmSync(this.partial, { force: true });
  }
}

/** `luxcert run`: keypoints and the certified brightness/contrast box for every frame. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a bundle on an image folder: keypoints plus the certified brightness/contrast box per frame')
    .requiredOption('--bundle <dir>', 'bundle folder from luxcert export')
    .requiredOption('--input <src>', 'image folder, video file, camera:N (V4L2) or gst:PIPELINE (the last three need the optional @u4/opencv4nodejs)')
    .option('--out <path>', 'results.jsonl: one JSON line per frame, written as frames are processed (to <path>.partial until the run ends)')
    .option('--record <path>', 'MCAP recording (ros2 profile): keypoints, overlay, frames, diagnostics and machine readings, written to <path>.partial until the run ends')
    .option('--foxglove <[host:]port>', 'live Foxglove WebSocket server with the same channels (host 127.0.0.1 unless given)')
    .option('--frame-id <id>', 'frame_id of the published headers', 'camera')
    .option('--annotate <dir>', 'write each frame with keypoints, tolerance squares coloured by verdict and the certified box')
    .option('--budget-ms <ms>', 'per-frame certification budget (default: the bundle\'s)')
    .option('--fps <n>', 'feed frames at this rate; frames that arrive while the certifier is busy are dropped and counted')
    .option('--limit <n>', 'stop after n frames')
    .option('--providers <list>', 'execution providers to try for the model, best first: tensorrt, cuda, cpu (the certifier always runs in float32 on the CPU)', 'cuda,cpu')
    .option('--gpu-device <n>', 'CUDA device for the tensorrt/cuda providers', '0')
    .option('--trt-cache <dir>', 'TensorRT: keep built engines here and reuse them at the next start (needs the binding deploy/jetson/install.sh builds)')
    .option('--trt-workspace-mb <n>', 'TensorRT: builder workspace in MiB (default: onnxruntime\'s, 1024)')
    .option('--threads <n>', 'onnxruntime intra-op threads')
    .option('--trust <pubkey>', 'run only bundles signed by this Ed25519 public key (PEM; repeat for several)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--json', 'machine-readable summary')
    .action(
      action(async (f: Flags) => {
        if (f.out) checkOutputFile(f.out, '--out', [f.input, ...Object.values(BUNDLE_FILES).map((n) => join(f.bundle, n))]);
        if (f.annotate) checkOutputDir(f.annotate, '--annotate', [f.input, f.bundle]);
        if (f.record) checkOutputFile(f.record, '--record', [f.input, ...(f.out ? [f.out] : []), ...Object.values(BUNDLE_FILES).map((n) => join(f.bundle, n))]);
        const listen = f.foxglove !== undefined ? parseListenAddress(f.foxglove) : undefined;
        const providers = parseProviders(f.providers.split(',').map((s) => s.trim()).filter(Boolean));
        const gpu: GpuOptions = {
          deviceId: checkDeviceId(numberFlag('--gpu-device', f.gpuDevice, { integer: true, min: 0 })),
          ...(f.trtCache !== undefined ? { trtCacheDir: f.trtCache } : {}),
          ...(f.trtWorkspaceMb !== undefined ? { trtWorkspaceMb: checkWorkspaceMb(numberFlag('--trt-workspace-mb', f.trtWorkspaceMb, { integer: true, positive: true })) } : {}),
        };
        const tuning = {
          ...(f.threads ? { threads: numberFlag('--threads', f.threads, { integer: true, positive: true, max: MAX_ORT_THREADS }) } : {}),
          ...(f.budgetMs ? { budgetMs: numberFlag('--budget-ms', f.budgetMs, { positive: true }) } : {}),
        };
        const bundle = loadBundle(f.bundle, f.trust.length > 0 ? { trust: f.trust.map(readPublicKey) } : {});
        if (bundle.signedBy) log.info({ keyId: bundle.signedBy, signer: bundle.manifest.signature?.signer }, 'bundle signature verified');
        const runtime = await Runtime.open(bundle, { providers, gpu, ...tuning });
        const source = openSource(f.input);
        const sinks: MessageSink[] = [];
        // A recording is a field test: it carries the machine's load, temperatures and power too.
        const monitor = f.record ? SystemMonitor.start() : undefined;
        const outputs = new FrameOutputs(
          { meta: bundle.manifest.meta, modelName: basename(resolve(f.bundle)), modelSha256: bundle.manifest.files.model.sha256, maxBox: bundle.manifest.maxBox, tolerance: bundle.manifest.tolerance, frameId: f.frameId },
          sinks,
          runtime.provider,
          undefined,
          monitor,
        );
        const stop = new AbortController();
        const onSignal = (signal: NodeJS.Signals) => {
          log.warn({ signal }, 'stopping after the current frame (send it again to kill)');
          stop.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const boxes: number[] = [];
        let stats;
        let results: ResultsFile | undefined;
        let recorder: McapRecorder | undefined;
        let live: FoxgloveLive | undefined;
        try {
          // Each sink is closed in `finally` once it exists, whatever fails after it.
          if (listen) {
            live = await FoxgloveLive.start(listen.host, listen.port);
            sinks.push(live);
            log.info({ url: `ws://${listen.host}:${live.port}` }, 'Foxglove server listening');
          }
          if (f.record) {
            recorder = await McapRecorder.open(f.record);
            sinks.push(recorder);
          }
          results = f.out ? new ResultsFile(f.out) : undefined;
          stats = await runStream(runtime, source, {
            signal: stop.signal,
            ...(f.fps ? { fps: numberFlag('--fps', f.fps, { positive: true }) } : {}),
            ...(f.limit ? { limit: numberFlag('--limit', f.limit, { integer: true, positive: true }) } : {}),
            onRecord: async (r, frame, counts) => {
              if (!r.ok) log.warn({ frame: r.frame, source: r.source, error: r.error }, 'frame skipped');
              else {
                boxes.push((r.extent[0] + r.extent[1] + r.extent[2] + r.extent[3]) / 4);
                if (f.annotate) await annotateFrame(frame.image!, r, bundle.manifest.meta, join(f.annotate, `frame-${String(r.frame).padStart(6, '0')}.png`));
              }
              results?.write(JSON.stringify(r));
              if (sinks.length > 0) await outputs.frame(r, frame, counts.dropped);
            },
          });
        } finally {
          monitor?.stop();
          results?.finish();
          await outputs.close();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await runtime.release();
        }
        const meanExtent = boxes.reduce((a, b) => a + b, 0) / Math.max(1, boxes.length);
        const summary = {
          bundle: f.bundle, input: f.input, provider: runtime.provider, ...(bundle.signedBy ? { signedBy: bundle.signedBy } : {}), ...stats, meanExtent,
          ...(recorder ? { record: { path: f.record, messages: recorder.messages } } : {}), ...(live ? { foxglove: { port: live.port, droppedForSlowClients: live.dropped } } : {}),
        };
        emit(Boolean(f.json), summary, () =>
          `${stats.processed} frames certified (${stats.errors} bad, ${stats.dropped} dropped) at ${stats.fps.toFixed(1)} fps on ${runtime.provider}; latency p50 ${stats.latencyMs.p50.toFixed(1)} ms, p99 ${stats.latencyMs.p99.toFixed(1)} ms; mean certified extent ${(100 * meanExtent).toFixed(0)}% of the maximum box${f.out ? `; results in ${f.out}` : ''}${recorder ? `; recording ${f.record} (${recorder.messages} messages)` : ''}${stats.interrupted ? ' (stopped by a signal)' : ''}`,
        );
      }),
    );
}
