import type { Frame } from './frames.ts';
import type { FrameResult, Runtime } from './runtime.ts';
import { LuxcertError } from '../core/errors.ts';
import { quantile } from '../core/quantile.ts';

/** One line of results.jsonl. */
export type FrameRecord = { frame: number; source: string; timestamp: number } & ({ ok: true } & FrameResult | { ok: false; error: string });

/** Counts and timings of a run. */
export interface StreamStats {
  frames: number;
  processed: number;
  dropped: number;
  errors: number;
  seconds: number;
  fps: number;
  latencyMs: { p50: number; p99: number };
  /** Whether the run was stopped by its signal before the source ended. */
  interrupted: boolean;
}

/**
 * Runs frames through the runtime. With `fps`, frames arrive on a clock and wait in a one-frame
 * mailbox: a frame that arrives while another is still waiting replaces it and is counted as
 * dropped, so a slow certifier never builds an unbounded queue. Without `fps`, every frame is
 * processed in turn. Bad frames, and frames the model has no finite output for, are reported and skipped.
 * When `signal` aborts, the run ends after the frame in hand.
 */
export async function runStream(runtime: Runtime, source: AsyncIterable<Frame>, o: { fps?: number; limit?: number; signal?: AbortSignal; onRecord: (r: FrameRecord, frame: Frame, counts: { dropped: number }) => Promise<void> | void }): Promise<StreamStats> {
  const t0 = performance.now();
  const latencies: number[] = [];
  const stats = { frames: 0, processed: 0, dropped: 0, errors: 0 };
  let size: [number, number] | undefined;

  const process = async (f: Frame) => {
    const base = { frame: f.id, source: f.source, timestamp: f.timestamp };
    let error = f.error;
    if (!error && f.image) {
      size ??= [f.image.width, f.image.height];
      if (f.image.width !== size[0] || f.image.height !== size[1]) error = `frame is ${f.image.width}×${f.image.height}, the stream is ${size[0]}×${size[1]}`;
    }
    if (error || !f.image) {
      stats.errors++;
      await o.onRecord({ ...base, ok: false, error: error ?? 'no image' }, f, stats);
      return;
    }
    let r;
    try {
      r = await runtime.processFrame(f.image);
    } catch (e) {
      if (!(e instanceof LuxcertError)) throw e;
      stats.errors++;
      await o.onRecord({ ...base, ok: false, error: e.message }, f, stats);
      return;
    }
    latencies.push(r.latencyMs.total);
    stats.processed++;
    await o.onRecord({ ...base, ok: true, ...r }, f, stats);
  };

  const iterator = source[Symbol.asyncIterator]();
  const next = async (): Promise<Frame | undefined> => {
    if (o.signal?.aborted || (o.limit !== undefined && stats.frames >= o.limit)) return undefined;
    const r = await iterator.next();
    if (r.done || o.signal?.aborted) return undefined;
    stats.frames++;
    return r.value;
  };

  if (!o.fps) {
    for (let f = await next(); f; f = await next()) await process(f);
  } else {
    let mailbox: Frame | undefined;
    let ended = false;
    let wake: (() => void) | undefined;
    const period = 1000 / o.fps;
    const producer = (async () => {
      const start = performance.now();
      for (let i = 0; ; i++) {
        const wait = start + i * period - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const f = await next();
        if (!f) break;
        f.timestamp = Date.now();
        if (mailbox) stats.dropped++;
        mailbox = f;
        wake?.();
      }
      ended = true;
      wake?.();
    })();
    for (;;) {
      if (!mailbox) {
        if (ended) break;
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const f = mailbox;
      mailbox = undefined;
      await process(f);
    }
    await producer;
  }
  // Releases the source (a camera, a video file) whatever stopped the run.
  await iterator.return?.();
  const seconds = (performance.now() - t0) / 1000;
  return { ...stats, seconds, fps: stats.processed / seconds, latencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) }, interrupted: Boolean(o.signal?.aborted) };
}
