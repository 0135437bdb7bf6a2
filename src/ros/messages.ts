import type { Window } from '../data/crop.ts';
import type { ModelMeta } from '../model/metadata.ts';
import type { Box } from '../model/perturbation.ts';
import { toImagePixels } from '../runtime/frames.ts';
import type { FrameResult } from '../runtime/runtime.ts';

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

/** One region of a frame and the runtime's result for it (keypoints in model-input pixels of `win`). */
export interface CertifiedRegion {
  result: FrameResult;
  win: Window;
  /** Where the region came from: "centre", "fixed", "detection:<id>", "tracked". */
  source: string;
}

/**
 * The luxcert_msgs/CertifiedKeypoints message of one frame: per region, keypoints in full-image
 * pixels, the certified box, and the claim they are certified under; no region for a frame that
 * could not be processed.
 */
export function keypointsMessage(stamp: Time, ctx: StreamContext, regions: CertifiedRegion[]): CertifiedKeypointsMsg {
  const objects = regions.map(({ result: r, win, source }) => {
    const scale = win.side / ctx.meta.inputSize[1];
    const keypoints = r.keypoints.map((k, id) => {
      const [x, y] = toImagePixels(win, ctx.meta, k.x, k.y);
      return { id, name: k.name, x, y, score: NaN, verdict: VERDICT[k.verdict] };
    });
    return {
      source, roi_x: win.cx - win.side / 2, roi_y: win.cy - win.side / 2, roi_size: win.side, keypoints,
      certified_box: boxMsg(r.box), extent: Float32Array.from(r.extent), complete: r.complete, tolerance_px: r.tolerance * scale,
    };
  });
  const sum = (f: (r: FrameResult) => number) => regions.reduce((a, g) => a + f(g.result), 0);
  return {
    header: { stamp, frame_id: ctx.frameId },
    model_name: ctx.modelName, model_sha256: ctx.modelSha256, keypoint_names: ctx.meta.keypoints,
    skeleton: Uint32Array.from(ctx.meta.skeleton.flat()), max_box: boxMsg(ctx.maxBox), tolerance_input_px: ctx.tolerance,
    objects, inference_ms: sum((r) => r.latencyMs.preprocess + r.latencyMs.inference), certify_ms: sum((r) => r.latencyMs.certify),
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
export function annotationsMessage(k: CertifiedKeypointsMsg): Record<string, unknown> {
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
export function compressedImageMessage(header: Header, format: 'jpeg' | 'png', data: Uint8Array): Record<string, unknown> {
  return { header, format, data };
}
