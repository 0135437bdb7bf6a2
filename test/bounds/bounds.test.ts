import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundComputer, type BoxBounds } from '../../src/bounds/bounds.ts';
import { checkBox, perturbImage, type Box } from '../../src/model/perturbation.ts';
import { FLOAT_SAFETY } from '../../src/certify/property.ts';
import { samplePoints } from '../../src/certify/samples.ts';
import { Rng } from '../../src/core/random.ts';
import { maxRelativeDifference } from '../../src/core/tensor.ts';
import type { Graph } from '../../src/graph/graph.ts';
import { SUPPORTED_ONNX_OPS } from '../../src/graph/ops/registry.ts';
import { openSession, runSession } from '../../src/onnx/ort.ts';
import { decodeOnnx, rawToGraph } from '../../src/onnx/read.ts';
import { encodeOnnx } from '../../src/onnx/write.ts';
import { randomConvGraph } from '../helpers/random-graphs.ts';
import { buildZooModel } from '../../src/train/zoo.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';

const BOXES: Box[] = [
  { alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.1 },
  { alphaLo: 0.7, alphaHi: 1.05, betaLo: -0.02, betaHi: 0.3 },
  { alphaLo: 0.995, alphaHi: 1.0, betaLo: 0, betaHi: 0.004 },
  { alphaLo: 1, alphaHi: 1, betaLo: 0, betaHi: 0 },
];

const slack = (v: number) => FLOAT_SAFETY.relative * Math.abs(v) + FLOAT_SAFETY.absolute;

/** Runs the model in onnxruntime at sampled (α, β) of each box and counts outputs outside the bounds. */
async function violations(model: Graph, image: Float32Array, size: number, bounds: BoxBounds[], rng: Rng): Promise<{ checked: number; bad: number; linearBad: number }> {
  const session = await openSession(encodeOnnx(model));
  let checked = 0;
  let bad = 0;
  let linearBad = 0;
  for (const b of bounds) {
    const pts = samplePoints(b.box, 4, 12, rng);
    const batch = new Float32Array(pts.length * image.length);
    pts.forEach(([a, be], i) => perturbImage(image, a, be, batch.subarray(i * image.length, (i + 1) * image.length)));
    const y = Object.values(await runSession(session, { [model.inputs[0]!.name]: { dims: [pts.length, 3, size, size], data: batch } }))[0]!.data;
    const m = b.lower.length;
    pts.forEach(([a, be], p) => {
      for (let i = 0; i < m; i++) {
        const v = y[p * m + i]!;
        checked++;
        if (v < b.lower[i]! - slack(b.lower[i]!) || v > b.upper[i]! + slack(b.upper[i]!)) bad++;
        const lin = b.la[i]! * a + b.lb[i]! * be + b.lc[i]!;
        const uin = b.ua[i]! * a + b.ub[i]! * be + b.uc[i]!;
        if (v < lin - slack(lin) || v > uin + slack(uin)) linearBad++;
      }
    });
  }
  await session.release();
  return { checked, bad, linearBad };
}

describe('bound graph soundness: sampled perturbations run in onnxruntime stay inside the bounds', () => {
  for (const seed of [1, 2, 3]) {
    for (const simplify of [true, false]) {
      for (const [mode, lowerSlope] of [['linear', 'parallel'], ['linear', 'adaptive'], ['ibp', 'parallel']] as const) {
        it(`random graph ${seed} (${simplify ? 'BatchNorm folded' : 'raw: BatchNorm and Identity as nodes'}), ${mode}${mode === 'linear' ? `, ${lowerSlope} ReLU lower slope` : ''}`, async () => {
          const size = 10 + seed;
          const model = rawToGraph(decodeOnnx(encodeOnnx(randomConvGraph(seed, size)), 'random.onnx'), { simplify });
          if (!simplify) assert.deepEqual(SUPPORTED_ONNX_OPS.filter((op) => op !== 'Constant' && !model.nodes.some((n) => n.op === op)), [], 'every operator is exercised');
          const rng = new Rng(seed * 17);
          const image = Float32Array.from({ length: 3 * size * size }, () => (rng.next() < 0.1 ? 1 : rng.next()));
          const bc = await BoundComputer.create(model, { boxes: 3, mode, engine: 'onnxruntime', lowerSlope });
          const bounds = await bc.bounds(image, [3, size, size], BOXES);
          await bc.release();
          const r = await violations(model, image, size, bounds, rng);
          assert.ok(r.checked > 1000);
          assert.equal(r.bad, 0, `${r.bad} of ${r.checked} sampled outputs outside the concrete bounds`);
          assert.equal(r.linearBad, 0, `${r.linearBad} of ${r.checked} sampled outputs outside the linear bounds`);
          for (const b of bounds) assert.ok(b.lower.every((l, i) => l <= b.upper[i]! + slack(l)));
        });
      }
    }
  }
});

describe('the camera model clip(α·x + β, 0, 1)', () => {
  // The model is the camera alone, so the bound graph's output bounds are the camera stage's.
  const b = new GraphBuilder('camera');
  const graph = b.build([b.op('Identity', [b.input('x', [1, 3, 2, 4])])]);
  const pixels = Float32Array.from([0, 1e-3, 0.05, 0.3, 0.5, 0.7, 0.95, 0.999, 1, 0.2, 0.8, 0.6, 0, 1, 0.45, 0.55, 0.1, 0.9, 0.02, 0.98, 0.33, 0.66, 0.5, 0.5]);
  const boxes: Box[] = [
    { alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.1 },
    { alphaLo: 0.4, alphaHi: 1.6, betaLo: -0.6, betaHi: 0.6 },
    { alphaLo: 1, alphaHi: 1.3, betaLo: 0, betaHi: 0.25 },
    { alphaLo: 1, alphaHi: 1, betaLo: 0, betaHi: 0 },
  ];
  for (const mode of ['linear', 'ibp'] as const) {
    it(`${mode}: encloses every point of a 41 × 41 grid of each box, including pixels where both kinks are reachable`, async () => {
      const bc = await BoundComputer.create(graph, { boxes: 2, mode, engine: 'onnxruntime' });
      const bounds = await bc.bounds(pixels, [3, 2, 4], boxes);
      await bc.release();
      let checked = 0;
      for (const bb of bounds) {
        for (let i = 0; i <= 40; i++) {
          for (let j = 0; j <= 40; j++) {
            const a = bb.box.alphaLo + ((bb.box.alphaHi - bb.box.alphaLo) * i) / 40;
            const be = bb.box.betaLo + ((bb.box.betaHi - bb.box.betaLo) * j) / 40;
            pixels.forEach((x, p) => {
              const y = Math.min(1, Math.max(0, a * x + be));
              checked++;
              assert.ok(y >= bb.lower[p]! - 1e-6 && y <= bb.upper[p]! + 1e-6, `pixel ${x} at (${a}, ${be}): ${y} outside [${bb.lower[p]}, ${bb.upper[p]}]`);
              assert.ok(y >= bb.la[p]! * a + bb.lb[p]! * be + bb.lc[p]! - 1e-6 && y <= bb.ua[p]! * a + bb.ub[p]! * be + bb.uc[p]! + 1e-6, `pixel ${x} at (${a}, ${be}): outside the linear bounds`);
            });
          }
        }
      }
      assert.equal(checked, 4 * 41 * 41 * pixels.length);
      // Where neither 0 nor 1 is reachable the camera is linear in (α, β): the bounds are exact.
      const inner = bounds[0]!;
      pixels.forEach((x, p) => {
        if (0.9 * x - 0.1 < 0 || 1.1 * x + 0.1 > 1) return;
        assert.ok(Math.abs(inner.lower[p]! - (0.9 * x - 0.1)) < 1e-6 && Math.abs(inner.upper[p]! - (1.1 * x + 0.1)) < 1e-6, `pixel ${x}: [${inner.lower[p]}, ${inner.upper[p]}] is not exact`);
        if (mode === 'linear') assert.ok(Math.abs(inner.la[p]! - x) < 1e-6 && Math.abs(inner.lb[p]! - 1) < 1e-6 && Math.abs(inner.lc[p]!) < 1e-6 && inner.ua[p] === inner.la[p] && inner.uc[p] === inner.lc[p]);
      });
      // The identity box gives the image itself.
      pixels.forEach((x, p) => assert.ok(Math.abs(bounds[3]!.lower[p]! - x) < 1e-6 && Math.abs(bounds[3]!.upper[p]! - x) < 1e-6));
    });
  }
});

describe('one definition, two executors', () => {
  for (const mode of ['linear', 'ibp'] as const) {
    it(`onnxruntime and the TypeScript engine compute the same ${mode} bounds (1e-5 relative)`, async () => {
      const model = rawToGraph(decodeOnnx(encodeOnnx(randomConvGraph(4, 10)), 'random.onnx'), { simplify: false });
      const rng = new Rng(8);
      const image = Float32Array.from({ length: 300 }, () => rng.next());
      const [ort, ts] = await Promise.all((['onnxruntime', 'reference'] as const).map(async (engine) => {
        const bc = await BoundComputer.create(model, { boxes: 4, mode, engine });
        return bc.bounds(image, [3, 10, 10], BOXES);
      }));
      for (let i = 0; i < BOXES.length; i++) {
        for (const k of ['lower', 'upper', 'la', 'lb', 'lc', 'ua', 'ub', 'uc'] as const) {
          const d = maxRelativeDifference(ts![i]![k], ort![i]![k]);
          assert.ok(d <= 1e-5, `${k} of box ${i}: ${d}`);
        }
      }
    });
  }
  it('linear bounds are at least as tight as intervals and exact at the identity box', async () => {
    const model = rawToGraph(decodeOnnx(encodeOnnx(randomConvGraph(5, 10)), 'random.onnx'));
    const image = Float32Array.from({ length: 300 }, (_, i) => (i % 7) / 7);
    const width = async (mode: 'linear' | 'ibp') => {
      const bc = await BoundComputer.create(model, { boxes: 4, mode, engine: 'onnxruntime' });
      const bs = await bc.bounds(image, [3, 10, 10], BOXES);
      return bs.map((b) => b.upper.reduce((s, u, i) => s + u - b.lower[i]!, 0));
    };
    const lin = await width('linear');
    const ibp = await width('ibp');
    lin.forEach((w, i) => assert.ok(w <= ibp[i]! * (1 + 1e-6), `box ${i}: linear ${w} vs ibp ${ibp[i]}`));
    assert.ok(lin[3]! < 1e-2 && ibp[3]! < 1e-2, 'a point box gives (nearly) a point');
  });
  it('refuses a box without the identity', () => {
    assert.throws(() => checkBox({ alphaLo: 1.1, alphaHi: 1.2, betaLo: 0, betaHi: 0.1 }), /does not contain the identity \(1, 0\)/);
  });
});

describe('backward bounds through the dense tail', () => {
  it('are sound and never looser than forward bounds alone (zoo tiny regression model, random weights)', async () => {
    const model = buildZooModel({ arch: 'tiny', head: 'regression', keypoints: ['a', 'b', 'c', 'd'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 2 });
    const rng = new Rng(4);
    for (const [k, t] of model.initializers) if (k.endsWith('.bias')) t.data.set(rng.normals(t.data.length, 0.2));
    const image = Float32Array.from({ length: 3 * 16 * 16 }, () => rng.next());
    const run = async (backward: 0 | false) => {
      const bc = await BoundComputer.create(model, { boxes: 4, mode: 'linear', engine: 'onnxruntime', backward });
      return { nodes: bc.graph.nodes.length, bounds: await bc.bounds(image, [3, 16, 16], BOXES) };
    };
    const [tail, forward] = [await run(0), await run(false)];
    assert.ok(tail.nodes > forward.nodes, 'the tail is refined only when asked');
    const [withTail, forwardOnly] = [tail.bounds, forward.bounds];
    let tighter = 0;
    withTail.forEach((b, i) => b.lower.forEach((l, o) => {
      const f = forwardOnly[i]!;
      assert.ok(l >= f.lower[o]! - slack(l) && b.upper[o]! <= f.upper[o]! + slack(b.upper[o]!));
      if (b.upper[o]! - l < (f.upper[o]! - f.lower[o]!) * 0.99) tighter++;
    }));
    assert.ok(tighter > 0, 'backward bounds tighten some output');
    const r = await violations(model, image, 16, withTail, rng);
    assert.equal(r.bad, 0);
    assert.equal(r.linearBad, 0);
  });
});
