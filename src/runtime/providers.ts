import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { openSession, type OrtSessionOptions } from '../onnx/ort.ts';

/** Execution providers luxcert asks onnxruntime for, fastest first. */
export const PROVIDER_NAMES = ['tensorrt', 'cuda', 'cpu'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Settings of the GPU providers. */
export interface GpuOptions {
  /** CUDA device ordinal (0 on a Jetson, which has one GPU). */
  deviceId?: number;
  /** TensorRT: keep built engines in this folder, so a restart loads them instead of building them again. */
  trtCacheDir?: string;
  /** TensorRT: builder workspace in MiB (onnxruntime's default: 1024). */
  trtWorkspaceMb?: number;
}

/** A provider list from the command line or a parameter: known names only, refused in one line otherwise. */
export function parseProviders(names: readonly string[], what = '--providers'): ProviderName[] {
  const bad = names.filter((n) => !(PROVIDER_NAMES as readonly string[]).includes(n));
  if (bad.length > 0) throw new LuxcertError(`${what}: unknown execution provider ${bad.map((b) => `'${b}'`).join(', ')} (known: ${PROVIDER_NAMES.join(', ')})`);
  if (names.length === 0) throw new LuxcertError(`${what}: name at least one execution provider (known: ${PROVIDER_NAMES.join(', ')})`);
  return names as ProviderName[];
}

/** A GPU device ordinal, refused in one line unless a small non-negative integer. */
export function checkDeviceId(v: number, what = '--gpu-device'): number {
  if (!(Number.isInteger(v) && v >= 0 && v <= 63)) throw new LuxcertError(`${what} must be an integer in [0, 63], got ${v}`);
  return v;
}

/** A TensorRT workspace size in MiB, refused in one line unless an integer in [1, 65536]. */
export function checkWorkspaceMb(v: number, what = '--trt-workspace-mb'): number {
  if (!(Number.isInteger(v) && v >= 1 && v <= 65536)) throw new LuxcertError(`${what} must be an integer number of MiB in [1, 65536], got ${v}`);
  return v;
}

const bindingDir = () => join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);

/**
 * Whether onnxruntime-node has the provider's shared library (the npm package ships CPU only; the
 * CUDA/TensorRT libraries come from its install script or a self-built runtime). Checking first
 * keeps onnxruntime from printing load errors for providers that cannot exist here.
 */
export function providerInstalled(p: ProviderName): boolean {
  return p === 'cpu' || existsSync(join(bindingDir(), `libonnxruntime_providers_${p}.so`));
}

/**
 * cuBLAS, cuDNN and TensorRT compute float32 products in TF32 (10-bit mantissa) on Ampere and
 * newer GPUs — a Jetson Orin is one — unless NVIDIA_TF32_OVERRIDE=0 is in the environment when
 * they start; onnxruntime's CUDA provider asks for TF32 by default and its Node binding cannot
 * say otherwise. The certifier never runs there (see openModelSession); this keeps the published
 * keypoints at float32 precision too. An explicit other value is the user's choice, logged.
 */
export function keepGpuAtFloat32(): void {
  const v = process.env.NVIDIA_TF32_OVERRIDE;
  if (v === undefined) process.env.NVIDIA_TF32_OVERRIDE = '0';
  else if (v !== '0') log.warn({ NVIDIA_TF32_OVERRIDE: v }, 'TF32 left enabled for the model on the GPU: its keypoints carry TF32 rounding (certificates are unaffected: the certifier runs in float32 on the CPU)');
}

/**
 * Whether this onnxruntime binding passes TensorRT provider options: the stock one passes the
 * device id only; deploy/jetson/install.sh builds one that passes `trtOptions` and says so in
 * luxcert-binding.json beside it.
 */
export function bindingPassesTrtOptions(): boolean {
  return existsSync(join(bindingDir(), 'luxcert-binding.json'));
}

/** TensorRT's provider options for the GPU settings: float32 only, whatever else is asked. */
function trtOptions(gpu: GpuOptions): Record<string, string> {
  return {
    trt_fp16_enable: '0',
    trt_int8_enable: '0',
    ...(gpu.trtCacheDir !== undefined ? { trt_engine_cache_enable: '1', trt_engine_cache_path: gpu.trtCacheDir, trt_timing_cache_enable: '1', trt_timing_cache_path: gpu.trtCacheDir } : {}),
    ...(gpu.trtWorkspaceMb !== undefined ? { trt_max_workspace_size: String(gpu.trtWorkspaceMb * 2 ** 20) } : {}),
  };
}

/** onnxruntime's executionProviders entry for one provider, with the CPU as the fallback for operators it lacks. */
export function sessionProviders(p: ProviderName, gpu: GpuOptions = {}): NonNullable<InferenceSession.SessionOptions['executionProviders']> {
  if (p === 'cpu') return ['cpu'];
  const device = gpu.deviceId !== undefined ? { deviceId: gpu.deviceId } : {};
  // trtOptions is read by the binding install.sh builds; the stock binding ignores the property.
  const entry = p === 'tensorrt' ? { name: p, ...device, trtOptions: trtOptions(gpu) } : { name: p, ...device };
  return [entry as InferenceSession.ExecutionProviderConfig, 'cpu'];
}

/**
 * Opens the model with the first provider of `providers` that works (the CPU last), logging which
 * one runs. Only the model: a certificate is a claim about float32 arithmetic, and GPU providers
 * may use TF32, other convolution algorithms (Winograd, FFT) or reduced precision, which the
 * certifier's float safety margin does not cover — so the certifier always runs on the CPU.
 */
export async function openModelSession(bytes: Uint8Array, providers: readonly ProviderName[], o: { threads?: number; gpu?: GpuOptions } = {}): Promise<{ session: InferenceSession; provider: ProviderName }> {
  const chain = [...new Set<ProviderName>([...providers, 'cpu'])];
  for (const p of chain) {
    if (!providerInstalled(p)) {
      log.debug({ provider: p }, 'execution provider not installed');
      continue;
    }
    if (p !== 'cpu') keepGpuAtFloat32();
    if (p === 'tensorrt' && (o.gpu?.trtCacheDir !== undefined || o.gpu?.trtWorkspaceMb !== undefined)) {
      if (!bindingPassesTrtOptions()) log.warn('this onnxruntime binding ignores TensorRT options (the engine cache and workspace): build it with deploy/jetson/install.sh');
      else if (o.gpu.trtCacheDir !== undefined) {
        try {
          mkdirSync(o.gpu.trtCacheDir, { recursive: true });
        } catch (e) {
          throw new LuxcertError(`TensorRT engine cache ${o.gpu.trtCacheDir}: cannot create it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        }
      }
    }
    try {
      const options: OrtSessionOptions = { executionProviders: sessionProviders(p, o.gpu), ...(o.threads ? { intraOpNumThreads: o.threads } : {}) };
      const session = await openSession(bytes, options);
      log.info({ provider: p, ...(p !== 'cpu' ? { deviceId: o.gpu?.deviceId ?? 0 } : {}) }, 'onnxruntime session for the model');
      return { session, provider: p };
    } catch (e) {
      // Installed but not opening is a surprise worth seeing (a driver, a library, an option).
      log.warn({ provider: p, reason: (e as Error).message.split('\n')[0] }, 'execution provider failed to open; trying the next');
    }
  }
  throw new LuxcertError('no execution provider could open the model');
}
