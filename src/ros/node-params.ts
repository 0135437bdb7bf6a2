import { LuxcertError } from '../core/errors.ts';
import { MAX_ORT_THREADS } from '../onnx/ort.ts';
import { PROVIDER_NAMES, type GpuOptions, type ProviderName } from '../runtime/providers.ts';
import { DIAGNOSTICS_DEFAULTS, type DiagnosticsThresholds } from './diagnostics.ts';
import { ROI_MODES, type RoiMode } from './roi.ts';

/** Parameter types, with rcl_interfaces/ParameterType's numbers. */
export const PARAMETER_TYPES = { bool: 1, integer: 2, double: 3, string: 4, double_array: 8, string_array: 9 } as const;
export type ParamType = keyof typeof PARAMETER_TYPES;

type ValueOf<T extends ParamType> = T extends 'bool' ? boolean : T extends 'integer' | 'double' ? number : T extends 'string' ? string : T extends 'double_array' ? number[] : string[];

/** One parameter of the node: its type, default, description, range or choices, and whether it may change while running. */
export interface ParamSpec<T extends ParamType = ParamType> {
  type: T;
  default: ValueOf<T>;
  description: string;
  range?: [number, number];
  choices?: readonly string[];
  /** May change while the node is active (others take effect at the next configure). */
  dynamic?: boolean;
}

const spec = <T extends ParamType>(s: ParamSpec<T>): ParamSpec<T> => s;

/** Every parameter of `luxcert ros`, declared with these descriptors. */
export const NODE_PARAMS = {
  bundle: spec({ type: 'string', default: '', description: 'bundle folder from luxcert export (required)' }),
  trust_keys: spec({ type: 'string_array', default: [], description: 'Ed25519 public keys (PEM files); when set, only bundles signed by one of them load (empty strings are ignored: ROS parameter files cannot write an empty list)' }),
  budget_ms: spec({ type: 'double', default: 0, range: [0, 10_000], dynamic: true, description: 'per-frame certification budget in ms (0: the bundle\'s)' }),
  threads: spec({ type: 'integer', default: 0, range: [0, MAX_ORT_THREADS], description: 'onnxruntime intra-op threads (0: onnxruntime\'s default)' }),
  providers: spec({ type: 'string_array', default: ['cuda', 'cpu'], choices: PROVIDER_NAMES, description: 'execution providers to try for the model, best first: tensorrt, cuda, cpu (cpu is always last; the certifier always runs in float32 on the CPU)' }),
  gpu_device_id: spec({ type: 'integer', default: 0, range: [0, 63], description: 'CUDA device of the tensorrt/cuda providers' }),
  trt_engine_cache_dir: spec({ type: 'string', default: '', description: 'TensorRT: folder of built engines, reused at the next start (empty: build at every start)' }),
  trt_workspace_mb: spec({ type: 'integer', default: 0, range: [0, 65536], description: 'TensorRT: builder workspace in MiB (0: onnxruntime\'s default)' }),
  image_topic: spec({ type: 'string', default: 'image', description: 'sensor_msgs/Image topic (its /compressed sibling when compressed is true)' }),
  compressed: spec({ type: 'bool', default: false, description: 'subscribe <image_topic>/compressed (sensor_msgs/CompressedImage) instead of the raw image' }),
  qos_reliability: spec({ type: 'string', default: 'best_effort', choices: ['best_effort', 'reliable'], description: 'image subscription reliability (depth 1, volatile)' }),
  roi_mode: spec({ type: 'string', default: 'centre', choices: ROI_MODES, description: 'regions to certify: the centred square, a fixed roi, the boxes of detections_topic, or tracking the previous keypoints' }),
  roi: spec({ type: 'double_array', default: [], description: 'fixed region [x, y, size] in image pixels (roi_mode fixed)' }),
  detections_topic: spec({ type: 'string', default: 'detections', description: 'vision_msgs/Detection2DArray topic (roi_mode detections)' }),
  detection_stamp_tolerance_ms: spec({ type: 'double', default: 0, range: [0, 1000], description: 'detections match an image whose stamp is at most this far from theirs' }),
  publish_annotated_image: spec({ type: 'bool', default: false, description: 'also publish the image with the overlay drawn (costs time per frame)' }),
  autostart: spec({ type: 'bool', default: true, description: 'configure and activate at start (as yolo_ros); false waits for lifecycle transitions' }),
  diagnostics_min_fps: spec({ type: 'double', default: DIAGNOSTICS_DEFAULTS.minFps, range: [0, 1000], dynamic: true, description: 'WARN below this many processed frames per second' }),
  diagnostics_max_p99_ms: spec({ type: 'double', default: DIAGNOSTICS_DEFAULTS.maxP99Ms, range: [1, 60_000], dynamic: true, description: 'WARN above this 99th-percentile frame latency' }),
  diagnostics_min_certified_share: spec({ type: 'double', default: DIAGNOSTICS_DEFAULTS.minCertifiedShare, range: [0, 1], dynamic: true, description: 'WARN when fewer frames get a certified box beyond the identity' }),
  diagnostics_stale_after_s: spec({ type: 'double', default: DIAGNOSTICS_DEFAULTS.staleAfterS, range: [0.1, 3600], dynamic: true, description: 'STALE when no image arrived for this long' }),
} as const;

export type ParamName = keyof typeof NODE_PARAMS;

/** The settings of the node, typed and validated. */
export interface NodeSettings {
  bundle: string;
  trustKeys: string[];
  budgetMs?: number;
  threads?: number;
  providers: ProviderName[];
  gpu: GpuOptions;
  imageTopic: string;
  compressed: boolean;
  reliability: 'best_effort' | 'reliable';
  roiMode: RoiMode;
  roi: number[];
  detectionsTopic: string;
  detectionStampToleranceMs: number;
  publishAnnotatedImage: boolean;
  autostart: boolean;
  thresholds: DiagnosticsThresholds;
}

/** Why a value is not acceptable for a parameter, or undefined when it is. */
export function checkParam(name: string, value: unknown): string | undefined {
  const s = (NODE_PARAMS as Record<string, ParamSpec>)[name];
  if (!s) return `unknown parameter '${name}'`;
  const t = s.type;
  const ok = t === 'bool' ? typeof value === 'boolean'
    : t === 'integer' ? (typeof value === 'number' || typeof value === 'bigint') && Number.isInteger(Number(value))
    : t === 'double' ? typeof value === 'number' && Number.isFinite(value)
    : t === 'string' ? typeof value === 'string'
    : Array.isArray(value) && value.every((v) => (t === 'double_array' ? typeof v === 'number' && Number.isFinite(v) : typeof v === 'string'));
  if (!ok) return `${name} must be ${t === 'integer' ? 'an integer' : `a ${t.replace('_', ' ')}`}`;
  if (s.range && !(Number(value) >= s.range[0] && Number(value) <= s.range[1])) return `${name} must be in [${s.range[0]}, ${s.range[1]}], got ${String(value)}`;
  const outside = s.choices && (Array.isArray(value) ? value : [value]).find((x) => !s.choices!.includes(x as string));
  if (outside !== undefined) return `${name} must be ${Array.isArray(value) ? 'a list of' : 'one of'} ${s.choices!.join(', ')}, got '${String(outside)}'`;
  if (name === 'image_topic' || name === 'detections_topic') {
    if (!/^[~/]?[A-Za-z_][\w/]*$/.test(value as string)) return `${name} '${String(value)}' is not a valid ROS topic name`;
  }
  return undefined;
}

/** The settings from parameter values (defaults for the missing); every bad value is named in one line. */
export function nodeSettings(values: Partial<Record<ParamName, unknown>>): NodeSettings {
  const v = Object.fromEntries(Object.entries(NODE_PARAMS).map(([k, s]) => [k, values[k as ParamName] ?? s.default])) as { [K in ParamName]: ValueOf<(typeof NODE_PARAMS)[K]['type']> };
  const bad = Object.keys(NODE_PARAMS).map((k) => checkParam(k, v[k as ParamName])).filter((r): r is string => r !== undefined);
  if (v.bundle === '') bad.unshift('bundle is required (the folder luxcert export wrote)');
  if (v.roi_mode === 'fixed' && !(v.roi.length === 3 && v.roi[2]! > 0)) bad.push('roi must be [x, y, size] with size > 0 when roi_mode is fixed');
  if (bad.length > 0) throw new LuxcertError(`bad parameters: ${bad.join('; ')}`);
  return {
    bundle: v.bundle, trustKeys: v.trust_keys.filter((k) => k !== ''), ...(v.budget_ms > 0 ? { budgetMs: v.budget_ms } : {}), ...(Number(v.threads) > 0 ? { threads: Number(v.threads) } : {}),
    providers: v.providers as ProviderName[],
    gpu: { deviceId: Number(v.gpu_device_id), ...(v.trt_engine_cache_dir !== '' ? { trtCacheDir: v.trt_engine_cache_dir } : {}), ...(Number(v.trt_workspace_mb) > 0 ? { trtWorkspaceMb: Number(v.trt_workspace_mb) } : {}) },
    imageTopic: v.image_topic, compressed: v.compressed, reliability: v.qos_reliability as 'best_effort' | 'reliable',
    roiMode: v.roi_mode as RoiMode, roi: v.roi, detectionsTopic: v.detections_topic, detectionStampToleranceMs: v.detection_stamp_tolerance_ms,
    publishAnnotatedImage: v.publish_annotated_image, autostart: v.autostart,
    thresholds: { minFps: v.diagnostics_min_fps, maxP99Ms: v.diagnostics_max_p99_ms, minCertifiedShare: v.diagnostics_min_certified_share, staleAfterS: v.diagnostics_stale_after_s },
  };
}
