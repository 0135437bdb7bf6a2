// Records PyTorch's loss and weight gradients for every case of test/train/pytorch-gradient-cases.ts
// into test/fixtures/pytorch-gradients/ (bench/pytorch-gradients.py interprets the IR; Debian's
// python3-torch). Each gradient keeps every value up to 2,048 elements, else 2,048 seeded samples,
// plus its dot product with a seeded random direction (so every element counts).
// Usage: node --import tsx scripts/record-pytorch-gradients.ts
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePytorchSpec } from '../bench/pytorch-spec.ts';
import { findTorch } from '../bench/torch.ts';
import { writeFileAtomic } from '../src/core/atomic-write.ts';
import { GRADIENT_FIXTURES, gradientCases } from '../test/train/pytorch-gradient-cases.ts';
import { gradientDigest } from '../test/train/step-check.ts';

const python = findTorch();
if (!python) throw new Error('no python3 with torch (apt-get install python3-torch)');
const dir = mkdtempSync(join(tmpdir(), 'luxcert-grads-'));
mkdirSync(GRADIENT_FIXTURES, { recursive: true });
try {
  for (const c of gradientCases()) {
    const g = c.model;
    const list = (a: Float32Array) => Array.from(a);
    const file = join(dir, `${c.name}.json`);
    writePytorchSpec(file, g, c.meta, {
      x: { dims: [c.batch.n, 3, ...c.meta.inputSize], data: list(c.batch.x) },
      keypoints: { dims: [c.batch.n, c.meta.keypoints.length, 2], data: list(c.batch.keypoints) },
      mask: { dims: [c.batch.n, c.meta.keypoints.length], data: list(c.batch.mask) },
      alpha: { dims: [c.batch.n, 1, 1, 1], data: list(c.batch.alpha) },
      beta: { dims: [c.batch.n, 1, 1, 1], data: list(c.batch.beta) },
      ...(c.regularisers ? { regularisers: c.regularisers } : {}),
    });
    const r = spawnSync(python, [new URL('../bench/pytorch-gradients.py', import.meta.url).pathname, file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${c.name}: ${r.stderr.trim().split('\n').pop()}`);
    const res = JSON.parse(r.stdout) as { torch: string; loss: number; wasserstein?: number; reluStability?: number; gradients: Record<string, number[]> };
    // Eight significant digits: float32 holds about seven.
    const round = (v: number) => Number(v.toPrecision(8));
    const gradients = Object.fromEntries(Object.entries(res.gradients).map(([k, v]) => {
      const d = gradientDigest(Float32Array.from(v));
      return [k, { ...d, values: d.values.map(round), dot: round(d.dot) }];
    }));
    writeFileAtomic(join(GRADIENT_FIXTURES, `${c.name}.json`), `${JSON.stringify({ case: c.name, torch: res.torch, loss: res.loss, wasserstein: res.wasserstein, reluStability: res.reluStability, gradients })}\n`);
    console.log(`${c.name}: loss ${res.loss}, ${Object.keys(gradients).length} gradients`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
