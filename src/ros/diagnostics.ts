import { quantile } from '../core/quantile.ts';
import type { FrameRecord } from '../runtime/stream.ts';
import type { Header } from './messages.ts';

/** The levels of diagnostic_msgs/DiagnosticStatus. */
export const LEVEL = { ok: 0, warn: 1, error: 2, stale: 3 } as const;

/** When the status turns WARN or STALE. */
export interface DiagnosticsThresholds {
  /** WARN below this many processed frames per second. */
  minFps: number;
  /** WARN when the 99th-percentile frame latency exceeds this. */
  maxP99Ms: number;
  /** WARN when fewer processed frames than this share get a certified box larger than the identity point. */
  minCertifiedShare: number;
  /** STALE when no frame has arrived for this long. */
  staleAfterS: number;
}

/** Default thresholds (parameters of the node and of `run`). */
export const DIAGNOSTICS_DEFAULTS: DiagnosticsThresholds = { minFps: 5, maxP99Ms: 200, minCertifiedShare: 0.5, staleAfterS: 2 };

interface Sample { at: number; ok: boolean; latency: number; extent: number }

/**
 * Frame statistics over a sliding window, turned into one diagnostic_msgs/DiagnosticStatus:
 * ERROR when the bundle failed or every frame of the window failed, STALE when frames stopped
 * arriving, WARN when a threshold is crossed, else OK.
 */
export class DiagnosticsAggregator {
  private samples: Sample[] = [];
  private dropped = 0;
  private lastFrameAt: number | undefined;
  private fatal: string | undefined;

  constructor(readonly thresholds: DiagnosticsThresholds = DIAGNOSTICS_DEFAULTS, readonly windowS = 5, readonly hardwareId = 'luxcert') {}

  /** Counts one frame's outcome at `atMs` (a monotonic clock). */
  record(rec: FrameRecord, atMs: number): void {
    this.lastFrameAt = atMs;
    this.samples.push(rec.ok ? { at: atMs, ok: true, latency: rec.latencyMs.total, extent: (rec.extent[0] + rec.extent[1] + rec.extent[2] + rec.extent[3]) / 4 } : { at: atMs, ok: false, latency: 0, extent: 0 });
  }

  /** Sets the total of frames dropped so far (backpressure). */
  setDropped(total: number): void {
    this.dropped = total;
  }

  /** Marks the node as failed (a bundle that did not load): ERROR until cleared with undefined. */
  setFatal(reason: string | undefined): void {
    this.fatal = reason;
  }

  /** The status at `nowMs`, with its figures as key/value pairs. */
  status(nowMs: number, provider: string): { level: number; name: string; message: string; hardware_id: string; values: { key: string; value: string }[] } {
    this.samples = this.samples.filter((s) => s.at > nowMs - this.windowS * 1000);
    const ok = this.samples.filter((s) => s.ok);
    // n frames span n − 1 intervals; a single frame counts over the whole window.
    const fps = ok.length > 1 ? (ok.length - 1) / Math.max(1e-3, (ok[ok.length - 1]!.at - ok[0]!.at) / 1000) : ok.length / this.windowS;
    const lat = ok.map((s) => s.latency);
    const p50 = lat.length ? quantile(lat, 0.5) : NaN;
    const p99 = lat.length ? quantile(lat, 0.99) : NaN;
    const certifiedShare = ok.length ? ok.filter((s) => s.extent > 0).length / ok.length : 0;
    const meanExtent = ok.length ? ok.reduce((a, s) => a + s.extent, 0) / ok.length : 0;
    const t = this.thresholds;
    let level: number = LEVEL.ok;
    let message = 'certifying';
    const warn = (why: string) => {
      if (level === LEVEL.ok) [level, message] = [LEVEL.warn, why];
    };
    if (this.fatal !== undefined) [level, message] = [LEVEL.error, this.fatal];
    else if (this.lastFrameAt === undefined || nowMs - this.lastFrameAt > t.staleAfterS * 1000) [level, message] = [LEVEL.stale, `no image for over ${t.staleAfterS} s`];
    else if (ok.length === 0) [level, message] = [LEVEL.error, 'every frame of the last window failed'];
    else {
      if (fps < t.minFps) warn(`${fps.toFixed(1)} frames/s is below ${t.minFps}`);
      if (p99 > t.maxP99Ms) warn(`p99 latency ${p99.toFixed(1)} ms is above ${t.maxP99Ms} ms`);
      if (certifiedShare < t.minCertifiedShare) warn(`only ${(100 * certifiedShare).toFixed(0)} % of frames certified beyond the identity`);
    }
    const values = Object.entries({
      'frames/s': fps.toFixed(2), 'latency p50 ms': p50.toFixed(2), 'latency p99 ms': p99.toFixed(2), 'frames dropped': String(this.dropped),
      'frames failed': String(this.samples.length - ok.length), 'certified share': certifiedShare.toFixed(3), 'mean certified extent': meanExtent.toFixed(3), provider,
    }).map(([key, value]) => ({ key, value }));
    return { level, name: 'luxcert: certified keypoints', message, hardware_id: this.hardwareId, values };
  }
}

/** diagnostic_msgs/DiagnosticArray with one status. */
export function diagnosticsMessage(header: Header, status: ReturnType<DiagnosticsAggregator['status']>): Record<string, unknown> {
  return { header, status: [status] };
}
