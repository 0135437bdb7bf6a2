// Compares two results.jsonl files of the same bundle and frames (x64 and arm64): keypoints must agree
// within KEYPOINT_TOLERANCE px and the certified boxes must be identical; prints the largest
// differences and exits 1 on a mismatch.
import { readFileSync } from 'node:fs';
import type { FrameRecord } from '../src/runtime/stream.ts';

const KEYPOINT_TOLERANCE = 1e-4;
const [a, b] = process.argv.slice(2).map((p) => readFileSync(p!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FrameRecord));
if (!a || !b || a.length !== b.length || a.length === 0) {
  console.error(`different frame counts: ${a?.length} and ${b?.length}`);
  process.exit(1);
}
let kpMax = 0;
let boxMax = 0;
const boxDiffer: number[] = [];
for (let i = 0; i < a.length; i++) {
  const [x, y] = [a[i]!, b[i]!];
  if (!x.ok || !y.ok) {
    if (x.ok !== y.ok) boxDiffer.push(i);
    continue;
  }
  x.keypoints.forEach((k, j) => (kpMax = Math.max(kpMax, Math.abs(k.x - y.keypoints[j]!.x), Math.abs(k.y - y.keypoints[j]!.y))));
  const d = Math.max(...(['alphaLo', 'alphaHi', 'betaLo', 'betaHi'] as const).map((s) => Math.abs(x.box[s] - y.box[s])));
  boxMax = Math.max(boxMax, d);
  if (d > 0) boxDiffer.push(i);
}
const mean = (r: FrameRecord[]) => r.reduce((s, f) => s + (f.ok ? f.extent.reduce((p, q) => p + q, 0) / 4 : 0), 0) / r.length;
console.log(`${a.length} frames: keypoints differ by at most ${kpMax.toExponential(2)} px (tolerance ${KEYPOINT_TOLERANCE}); certified boxes identical on ${a.length - boxDiffer.length}/${a.length} frames (largest edge difference ${boxMax}); mean extent x64 ${(100 * mean(a)).toFixed(2)} %, arm64 ${(100 * mean(b)).toFixed(2)} %`);
if (kpMax > KEYPOINT_TOLERANCE || boxDiffer.length > 0) {
  console.error(`MISMATCH${boxDiffer.length ? ` in the boxes of frames ${boxDiffer.join(', ')}` : ''}`);
  process.exit(1);
}
