import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { quantile } from '../core/quantile.ts';
import { loadBundle } from '../export/bundle.ts';
import { readPublicKey } from '../export/signing.ts';
import { bindingPassesTrtOptions, PROVIDER_NAMES, providerInstalled, type GpuOptions, type ProviderName } from '../runtime/providers.ts';
import { Runtime } from '../runtime/runtime.ts';
import { readNodeConfig } from './config-file.ts';

/** One line of `luxcert doctor`. */
export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

const require = createRequire(import.meta.url);

/** Whether a package resolves from here, without loading it (rclnodejs builds itself on load). */
function resolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** What `luxcert doctor` checks besides the machine. */
export interface DoctorOptions {
  /** The node's parameter file (the service's config): validated, and its bundle, keys and providers used below. */
  config?: string;
  bundle?: string;
  trust?: string[];
  providers?: readonly ProviderName[];
  gpu?: GpuOptions;
  /** Frames timed for the frame rate; 0 skips the measurement (a quick check before a service starts). */
  frames?: number;
}

/**
 * The checks a field engineer runs first, one line each: Node, onnxruntime and its providers, ROS 2
 * and rclnodejs, cameras; with a config, the parameter file as ROS 2 will read it; with a bundle
 * (from the config or given), its integrity (and signature), and the frame rate it reaches here on a
 * synthetic frame, and how far the model's keypoints on a GPU provider are from float32 on the CPU.
 */
export async function runChecks(o: DoctorOptions = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', status: major >= 20 ? 'ok' : 'fail', detail: `${process.version} on ${process.platform}-${process.arch}${major >= 20 ? '' : ' (luxcert needs ≥ 20)'}` });
  const ortVersion = (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  const installed = PROVIDER_NAMES.filter(providerInstalled);
  const binding = bindingPassesTrtOptions() ? 'the binding deploy/jetson/install.sh builds (passes TensorRT options)' : 'the npm binding';
  checks.push({ name: 'onnxruntime', status: 'ok', detail: `onnxruntime-node ${ortVersion}, ${binding}; execution providers installed: ${installed.join(', ')}` });
  const distro = process.env.ROS_DISTRO;
  const rcl = resolvable('rclnodejs');
  checks.push({ name: 'ros', status: distro && rcl ? 'ok' : 'warn', detail: `${distro ? `ROS 2 ${distro} sourced` : 'no ROS 2 sourced (ROS_DISTRO unset)'}; rclnodejs ${rcl ? 'installed' : 'not installed'}${distro && rcl ? '' : ' — luxcert ros needs both (docs/ros.md); run --record/--foxglove work without'}` });
  let cameras: string[] = [];
  try {
    cameras = readdirSync('/dev').filter((d) => /^video\d+$/.test(d)).sort();
  } catch {
    cameras = [];
  }
  checks.push({ name: 'cameras', status: cameras.length > 0 ? 'ok' : 'warn', detail: cameras.length > 0 ? cameras.map((c) => `/dev/${c}`).join(', ') : 'no /dev/video* device (image folders, video files and GStreamer still work)' });
  let bundleDir = o.bundle;
  let trust = o.trust ?? [];
  let providers = o.providers ?? installed;
  let gpu = o.gpu ?? {};
  if (o.config !== undefined) {
    try {
      const { values, settings } = readNodeConfig(o.config);
      checks.push({ name: 'config', status: 'ok', detail: `${o.config}: ${Object.keys(values).length} parameters as ROS 2 will read them; bundle ${settings.bundle}, image topic ${settings.imageTopic}${settings.compressed ? '/compressed' : ''}, providers ${settings.providers.join(', ')}, budget ${settings.budgetMs ?? 'the bundle\'s'} ms` });
      bundleDir ??= settings.bundle;
      if (trust.length === 0) trust = settings.trustKeys;
      providers = o.providers ?? settings.providers;
      gpu = o.gpu ?? settings.gpu;
    } catch (e) {
      checks.push({ name: 'config', status: 'fail', detail: (e as Error).message });
      return checks;
    }
  }
  if (bundleDir === undefined) return checks;
  let bundle;
  try {
    bundle = loadBundle(bundleDir, trust.length > 0 ? { trust: trust.map(readPublicKey) } : {});
  } catch (e) {
    checks.push({ name: 'bundle', status: 'fail', detail: (e as Error).message });
    return checks;
  }
  const m = bundle.manifest;
  checks.push({ name: 'bundle', status: 'ok', detail: `${bundleDir}: model ${m.files.model.sha256.slice(0, 12)}…, certifier rebuilt and identical, ${bundle.signedBy ? `signed by ${bundle.signedBy}${m.signature?.signer ? ` (${m.signature.signer})` : ''}` : 'unsigned'}; max box α [${m.maxBox.alphaLo}, ${m.maxBox.alphaHi}] × β [${m.maxBox.betaLo}, ${m.maxBox.betaHi}], τ ${m.tolerance} px` });
  if (o.frames === 0) return checks;
  const runtime = await Runtime.open(bundle, { providers, gpu });
  try {
    const [h, w] = m.meta.inputSize;
    const frame = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(128) };
    const n = o.frames ?? 30;
    const lat: number[] = [];
    let extent = 0;
    for (let i = 0; i < n + 3; i++) {
      const r = await runtime.processFrame(frame);
      if (i < 3) continue;
      lat.push(r.latencyMs.total);
      extent += r.extent.reduce((a, e) => a + e, 0) / 4;
    }
    const p50 = quantile(lat, 0.5);
    checks.push({ name: 'frame rate', status: 'ok', detail: `≈ ${(1000 / p50).toFixed(0)} frames/s with the model on ${runtime.provider} and the certifier on the CPU (p50 ${p50.toFixed(1)} ms, p99 ${quantile(lat, 0.99).toFixed(1)} ms, budget ${m.search.budgetMs} ms) on a synthetic mid-grey frame; mean certified extent there ${(100 * extent / n).toFixed(0)} %` });
    if (runtime.provider !== 'cpu') checks.push(await compareWithCpu(runtime, bundle));
  } finally {
    await runtime.release();
  }
  return checks;
}

/** A seeded noise frame: the GPU comparison should not rest on one flat image. */
function noiseFrame(w: number, h: number, seed: number): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(w * h * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { width: w, height: h, data };
}

/**
 * How far the model's keypoints on the GPU provider are from float32 on the CPU (the arithmetic
 * the certificate is about), on a few synthetic frames. A certificate bounds the float32 model
 * around the published (GPU) keypoints; the GPU's own outputs under a perturbation can differ from
 * float32 by about this much more — WARN when that exceeds 5 % of τ.
 */
async function compareWithCpu(runtime: Runtime, bundle: Runtime['bundle']): Promise<Check> {
  const cpu = await Runtime.open(bundle, { providers: ['cpu'] });
  try {
    const [h, w] = bundle.manifest.meta.inputSize;
    let worst = 0;
    const frames = 8;
    for (let i = 0; i < frames; i++) {
      const x = runtime.input(noiseFrame(w, h, i + 1));
      const [a, b] = [await runtime.keypoints(x), await cpu.keypoints(x)];
      for (let j = 0; j < a.length; j += 2) worst = Math.max(worst, Math.hypot(a[j]! - b[j]!, a[j + 1]! - b[j + 1]!));
    }
    const tau = bundle.manifest.tolerance;
    return { name: 'gpu vs cpu', status: worst <= 0.05 * tau ? 'ok' : 'warn', detail: `model on ${runtime.provider} vs float32 on the CPU: keypoints differ by at most ${worst.toExponential(2)} px over ${frames} frames (τ = ${tau} px); certificates are computed in float32 on the CPU` };
  } finally {
    await cpu.release();
  }
}
