import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { encodePng } from '../data/image.ts';
import type { Frame } from '../runtime/frames.ts';
import { frameWindow } from '../runtime/frames.ts';
import type { FrameRecord } from '../runtime/stream.ts';
import type { SystemMonitor, SystemSample } from '../runtime/system-stats.ts';
import { DiagnosticsAggregator, diagnosticsMessage, type DiagnosticsThresholds } from './diagnostics.ts';
import { MessageEncoder } from './encoder.ts';
import type { MessageType } from './interfaces.ts';
import { annotationsMessage, compressedImageMessage, keypointsMessage, nanosOf, stampOf, type StreamContext } from './messages.ts';

/** A topic and its message type. */
export interface OutputChannel {
  topic: string;
  type: MessageType;
}

/** The channels luxcert publishes, to MCAP files, the Foxglove server and (under these names, relative) ROS 2. */
export const OUTPUT_CHANNELS = {
  keypoints: { topic: '/luxcert/keypoints', type: 'luxcert_msgs/msg/CertifiedKeypoints' },
  annotations: { topic: '/luxcert/annotations', type: 'foxglove_msgs/msg/ImageAnnotations' },
  image: { topic: '/luxcert/image/compressed', type: 'sensor_msgs/msg/CompressedImage' },
  diagnostics: { topic: '/diagnostics', type: 'diagnostic_msgs/msg/DiagnosticArray' },
  system: { topic: '/luxcert/system', type: 'diagnostic_msgs/msg/DiagnosticArray' },
} as const satisfies Record<string, OutputChannel>;

/** A machine reading as a diagnostic_msgs/DiagnosticArray: CPU, memory, GPU, every temperature and power rail. */
export function systemMessage(s: SystemSample): Record<string, unknown> {
  const v = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(1));
  const values = [
    ['cpu %', v(s.cpuPercent)], ['ram used MB', v(s.ramUsedMB)], ['ram total MB', v(s.ramTotalMB)], ['gpu %', v(s.gpuPercent)],
    ...Object.entries(s.temperatures).map(([k, t]) => [`temp ${k} C`, t.toFixed(1)]),
    ...Object.entries(s.powerMw).map(([k, p]) => [`power ${k} mW`, String(p)]),
  ].map(([key, value]) => ({ key, value }));
  return { header: { stamp: stampOf(s.at), frame_id: '' }, status: [{ level: 0, name: 'luxcert: system', message: s.source, hardware_id: 'luxcert', values }] };
}

/** The name of an output channel. */
export type ChannelKey = keyof typeof OUTPUT_CHANNELS;

/** One CDR-encoded message on its way to every sink. */
export interface EncodedMessage {
  channel: ChannelKey;
  /** The message time (the frame's stamp) in nanoseconds. */
  timeNs: bigint;
  data: Uint8Array;
}

/** Where encoded messages go: an MCAP recording, a live server. */
export interface MessageSink {
  write(m: EncodedMessage): Promise<void> | void;
  close(): Promise<void>;
}

const FILE_FORMATS: Record<string, 'png' | 'jpeg'> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg' };

/** A frame as compressed bytes: an image file's own bytes, or the decoded pixels as a fast PNG. */
async function frameBytes(frame: Frame): Promise<{ format: 'png' | 'jpeg'; data: Uint8Array } | undefined> {
  const fileFormat = FILE_FORMATS[extname(frame.source).toLowerCase()];
  if (fileFormat) return { format: fileFormat, data: new Uint8Array(await readFile(frame.source)) };
  return frame.image ? { format: 'png', data: await encodePng(frame.image, 1) } : undefined;
}

/**
 * Turns each frame's result into the output channels' messages — keypoints, overlay, the frame
 * itself, once a second diagnostics, and the machine's readings when a monitor is given — encodes
 * each once and hands it to every sink.
 */
export class FrameOutputs {
  private readonly encoder = new MessageEncoder();
  readonly diagnostics: DiagnosticsAggregator;
  private lastDiagnostics = -Infinity;

  private lastSystem = 0;

  constructor(private readonly ctx: StreamContext, private readonly sinks: MessageSink[], private readonly provider: string, thresholds?: DiagnosticsThresholds, private readonly system?: SystemMonitor) {
    this.diagnostics = new DiagnosticsAggregator(thresholds);
  }

  private async emit(channel: ChannelKey, timeNs: bigint, msg: unknown): Promise<void> {
    const m = { channel, timeNs, data: this.encoder.encode(OUTPUT_CHANNELS[channel].type, msg) };
    for (const s of this.sinks) await s.write(m);
  }

  /** Publishes one frame's messages; `dropped` is the stream's running count of dropped frames. */
  async frame(rec: FrameRecord, frame: Frame, dropped = 0): Promise<void> {
    const now = performance.now();
    this.diagnostics.record(rec, now);
    this.diagnostics.setDropped(dropped);
    const regions = rec.ok && frame.image ? [{ result: rec, win: frameWindow(frame.image), source: 'centre' }] : [];
    const k = keypointsMessage(stampOf(rec.timestamp), this.ctx, regions);
    const t = nanosOf(k.header.stamp);
    await this.emit('keypoints', t, k);
    await this.emit('annotations', t, annotationsMessage(k));
    // A frame that failed (undecodable, oversized) is not copied into the outputs.
    const bytes = rec.ok ? await frameBytes(frame) : undefined;
    if (bytes) await this.emit('image', t, compressedImageMessage(k.header, bytes.format, bytes.data));
    // Machine readings arrive on their own clock; they are written here, between frames, because
    // a recording takes one write at a time.
    const sys = this.system?.latest;
    if (sys && sys.at !== this.lastSystem) {
      this.lastSystem = sys.at;
      await this.emit('system', nanosOf(stampOf(sys.at)), systemMessage(sys));
    }
    if (now - this.lastDiagnostics >= 1000) {
      this.lastDiagnostics = now;
      await this.emit('diagnostics', t, diagnosticsMessage({ stamp: stampOf(rec.timestamp), frame_id: '' }, this.diagnostics.status(now, this.provider)));
    }
  }

  /** Closes every sink. */
  async close(): Promise<void> {
    for (const s of this.sinks) await s.close();
  }
}
