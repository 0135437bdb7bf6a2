import type { Window } from '../data/crop.ts';
import type { ModelMeta } from '../model/metadata.ts';
import type { Box } from '../model/perturbation.ts';
import { toImagePixels } from '../runtime/frames.ts';
import type { FrameRecord } from '../runtime/stream.ts';

/** builtin_interfaces/Time. */
export interface Time { sec: number; nanosec: number }
/** std_msgs/Header. */
export interface Header { stamp: Time; frame_id: string }
/** luxcert_msgs/PerturbationBox. */
export interface PerturbationBoxMsg { contrast_min: number; contrast_max: number; brightness_min: number; brightness_max: number }
/** luxcert_msgs/CertifiedKeypoint. */
export interface CertifiedKeypointMsg { id: number; name: string; x: number; y: number; score: number; verdict: number }
/** luxcert_msgs/CertifiedObject. */
export interface CertifiedObjectMsg {
  source: string; roi_x: number; roi_y: number; roi_size: number; keypoints: CertifiedKeypointMsg[];
  certified_box: PerturbationBoxMsg; extent: Float32Array; complete: boolean; tolerance_px: number;
}
/** luxcert_msgs/CertifiedKeypoints. */
export interface CertifiedKeypointsMsg {
  header: Header; model_name: string; model_sha256: string; keypoint_names: string[]; skeleton: Uint32Array; max_box: PerturbationBoxMsg;
  tolerance_input_px: number; objects: CertifiedObjectMsg[]; inference_ms: number; certify_ms: number;
}

/** The verdict constants of luxcert_msgs/CertifiedKeypoint. */
export const VERDICT = { unknown: 0, certified: 1, falsified: 2 } as const;

/** What every message of a stream shares: the model and the camera frame id. */
export interface StreamContext {
  meta: ModelMeta;
  modelName: string;
  modelSha256: string;
  maxBox: Box;
  tolerance: number;
  frameId: string;
}

/** A time in milliseconds as builtin_interfaces/Time. */
export function stampOf(ms: number): Time {
  const sec = Math.floor(ms / 1000);
  return { sec, nanosec: Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6)) };
}

/** The time of a stamp in nanoseconds (MCAP log time, Foxglove message time). */
export const nanosOf = (t: Time): bigint => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nanosec);

const boxMsg = (b: Box): PerturbationBoxMsg => ({ contrast_min: b.alphaLo, contrast_max: b.alphaHi, brightness_min: b.betaLo, brightness_max: b.betaHi });

/**
 * The luxcert_msgs/CertifiedKeypoints message of one frame: keypoints in full-image pixels of the
 * window `win` the model saw, the certified box, and the claim they are certified under.
 */
export function keypointsMessage(rec: FrameRecord, ctx: StreamContext, win: Window | undefined, source = 'centre'): CertifiedKeypointsMsg {
  const base = {
    header: { stamp: stampOf(rec.timestamp), frame_id: ctx.frameId },
    model_name: ctx.modelName, model_sha256: ctx.modelSha256, keypoint_names: ctx.meta.keypoints,
    skeleton: Uint32Array.from(ctx.meta.skeleton.flat()), max_box: boxMsg(ctx.maxBox), tolerance_input_px: ctx.tolerance,
  };
  if (!rec.ok || !win) return { ...base, objects: [], inference_ms: 0, certify_ms: 0 };
  const scale = win.side / ctx.meta.inputSize[1];
  const keypoints = rec.keypoints.map((k, id) => {
    const [x, y] = toImagePixels(win, ctx.meta, k.x, k.y);
    return { id, name: k.name, x, y, score: NaN, verdict: VERDICT[k.verdict] };
  });
  return {
    ...base,
    objects: [{
      source, roi_x: win.cx - win.side / 2, roi_y: win.cy - win.side / 2, roi_size: win.side, keypoints,
      certified_box: boxMsg(rec.box), extent: Float32Array.from(rec.extent), complete: rec.complete, tolerance_px: rec.tolerance * scale,
    }],
    inference_ms: rec.latencyMs.preprocess + rec.latencyMs.inference, certify_ms: rec.latencyMs.certify,
  };
}

type Rgba = { r: number; g: number; b: number; a: number };
const COLOURS: Record<number, Rgba> = { [VERDICT.certified]: { r: 0.13, g: 0.77, b: 0.37, a: 1 }, [VERDICT.falsified]: { r: 0.94, g: 0.27, b: 0.27, a: 1 }, [VERDICT.unknown]: { r: 0.96, g: 0.62, b: 0.04, a: 1 } };
const WHITE: Rgba = { r: 1, g: 1, b: 1, a: 0.8 };
const CLEAR: Rgba = { r: 0, g: 0, b: 0, a: 0 };
const SHADE: Rgba = { r: 0, g: 0, b: 0, a: 0.6 };
const POINTS = { lineLoop: 2, lineList: 4 } as const;

/**
 * The foxglove_msgs/ImageAnnotations overlay of a keypoints message: each keypoint as a circle and
 * its tolerance square coloured by verdict, the skeleton, and the certified box as text.
 */
export function annotationsMessage(k: CertifiedKeypointsMsg): unknown {
  const t = k.header.stamp;
  const circles = [];
  const points = [];
  const texts = [];
  for (const o of k.objects) {
    const size = Math.max(2, o.roi_size / 64);
    for (const p of o.keypoints) {
      circles.push({ timestamp: t, position: { x: p.x, y: p.y }, diameter: 2 * size, thickness: 1, fill_color: COLOURS[p.verdict], outline_color: SHADE });
      const d = o.tolerance_px;
      points.push({ timestamp: t, type: POINTS.lineLoop, points: [{ x: p.x - d, y: p.y - d }, { x: p.x + d, y: p.y - d }, { x: p.x + d, y: p.y + d }, { x: p.x - d, y: p.y + d }], outline_color: COLOURS[p.verdict], outline_colors: [], fill_color: CLEAR, thickness: 1 });
    }
    const pairs = [];
    for (let i = 0; i + 1 < k.skeleton.length; i += 2) {
      const a = o.keypoints[k.skeleton[i]!];
      const b = o.keypoints[k.skeleton[i + 1]!];
      if (a && b) pairs.push({ x: a.x, y: a.y }, { x: b.x, y: b.y });
    }
    if (pairs.length > 0) points.push({ timestamp: t, type: POINTS.lineList, points: pairs, outline_color: WHITE, outline_colors: [], fill_color: CLEAR, thickness: 1 });
    const b = o.certified_box;
    texts.push({
      timestamp: t, position: { x: o.roi_x + 2, y: o.roi_y + 2 },
      text: `certified: contrast [${b.contrast_min.toFixed(3)}, ${b.contrast_max.toFixed(3)}] brightness [${b.brightness_min.toFixed(3)}, ${b.brightness_max.toFixed(3)}] τ ${o.tolerance_px.toFixed(1)} px${o.complete ? ' (whole box)' : ''}`,
      font_size: Math.max(8, o.roi_size / 24), text_color: WHITE, background_color: SHADE,
    });
  }
  return { circles, points, texts };
}

/** sensor_msgs/CompressedImage of a frame's encoded bytes. */
export function compressedImageMessage(header: Header, format: 'jpeg' | 'png', data: Uint8Array): unknown {
  return { header, format, data };
}
