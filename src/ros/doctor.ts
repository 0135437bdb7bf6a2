import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { quantile } from '../core/quantile.ts';
import { loadBundle } from '../export/bundle.ts';
import { readPublicKey } from '../export/signing.ts';
import { providerInstalled, Runtime } from '../runtime/runtime.ts';

/** One line of `luxcert doctor`. */
export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

/** Execution providers luxcert knows how to ask onnxruntime for. */
const PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;

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

/**
 * The checks a field engineer runs first, one line each: Node, onnxruntime and its providers, ROS 2
 * and rclnodejs, cameras, and, with a bundle, its integrity (and signature) and the frame rate it
 * reaches here on a synthetic mid-grey frame.
 */
export async function runChecks(o: { bundle?: string; trust?: string[]; frames?: number } = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', status: major >= 20 ? 'ok' : 'fail', detail: `${process.version} on ${process.platform}-${process.arch}${major >= 20 ? '' : ' (luxcert needs ≥ 20)'}` });
  const ortVersion = (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  const installed = PROVIDERS.filter(providerInstalled);
  checks.push({ name: 'onnxruntime', status: 'ok', detail: `onnxruntime-node ${ortVersion}; execution providers installed: ${installed.join(', ')}` });
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
  if (o.bundle === undefined) return checks;
  let bundle;
  try {
    bundle = loadBundle(o.bundle, o.trust && o.trust.length > 0 ? { trust: o.trust.map(readPublicKey) } : {});
  } catch (e) {
    checks.push({ name: 'bundle', status: 'fail', detail: (e as Error).message });
    return checks;
  }
  const m = bundle.manifest;
  checks.push({ name: 'bundle', status: 'ok', detail: `${o.bundle}: model ${m.files.model.sha256.slice(0, 12)}…, certifier rebuilt and identical, ${bundle.signedBy ? `signed by ${bundle.signedBy}${m.signature?.signer ? ` (${m.signature.signer})` : ''}` : 'unsigned'}; max box α [${m.maxBox.alphaLo}, ${m.maxBox.alphaHi}] × β [${m.maxBox.betaLo}, ${m.maxBox.betaHi}], τ ${m.tolerance} px` });
  const runtime = await Runtime.open(bundle, { providers: [...installed].reverse() });
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
  await runtime.release();
  const p50 = quantile(lat, 0.5);
  checks.push({ name: 'frame rate', status: 'ok', detail: `≈ ${(1000 / p50).toFixed(0)} frames/s on ${runtime.provider} (p50 ${p50.toFixed(1)} ms, p99 ${quantile(lat, 0.99).toFixed(1)} ms, budget ${m.search.budgetMs} ms) on a synthetic mid-grey frame; mean certified extent there ${(100 * extent / n).toFixed(0)} %` });
  return checks;
}
