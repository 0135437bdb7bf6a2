import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BoundComputer, type BoxBounds } from '../../src/bounds/bounds.ts';
import { certifyImage } from '../../src/certify/certify-image.ts';
import { ModelRunner } from '../../src/certify/model-runner.ts';
import { checkProperty, headOutputs, isProven, proofMargin, violates, type KeypointProperty } from '../../src/certify/property.ts';
import { LuxcertError } from '../../src/core/errors.ts';
import { decodeKeypoints } from '../../src/model/heads.ts';
import type { ModelMeta } from '../../src/model/metadata.ts';
import { checkBox, type Box } from '../../src/model/perturbation.ts';
import { readOnnxFile } from '../../src/onnx/read.ts';
import { encodeOnnx } from '../../src/onnx/write.ts';
import { searchCertifiedBox } from '../../src/runtime/certified-box.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { cloneGraph, overflowing, testImage, zooModel } from './helpers.ts';

const root = tmpDir('adv-verdicts');
const BOX: Box = { alphaLo: 0.95, alphaHi: 1.05, betaLo: -0.05, betaHi: 0.05 };
const FIELDS = ['lower', 'upper', 'la', 'lb', 'lc', 'ua', 'ub', 'uc'] as const;
const POISONS = [NaN, Infinity, -Infinity];

const regression: ModelMeta = { head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: [32, 32], channels: 3, pixelScale: 1 / 255, cropPadding: 1.25 };
const heatmap: ModelMeta = { ...regression, head: 'heatmap', grid: 4 };

/** Bounds that prove every keypoint: regression outputs within ±0.5 px of the reference; heatmap cell 0 ahead by 5. */
function provingBounds(meta: ModelMeta, reference: Float32Array): BoxBounds {
  const n = headOutputs(meta);
  const lower = new Float32Array(n);
  const upper = new Float32Array(n);
  if (meta.head === 'regression') {
    reference.forEach((r, i) => ((lower[i] = r - 0.5), (upper[i] = r + 0.5)));
  } else {
    const g2 = meta.grid! ** 2;
    for (let i = 0; i < n; i++) (lower[i] = i % g2 === 0 ? 10 : 0), (upper[i] = i % g2 === 0 ? 11 : 5);
  }
  return { box: { ...BOX }, lower, upper, la: new Float32Array(n), lb: new Float32Array(n), lc: lower.slice(), ua: new Float32Array(n), ub: new Float32Array(n), uc: upper.slice() };
}

function property(meta: ModelMeta): KeypointProperty {
  // Heatmap references are the centre of cell 0 (grid 4 on 32 px: 4 px), so cell 0 is the allowed one.
  const reference = meta.head === 'regression' ? Float32Array.from([10, 12, 20, 22]) : Float32Array.from([4, 4, 4, 4]);
  return { meta, reference, tolerance: 2 };
}

describe('verdicts fail closed', () => {
  it('a proof is a finite margin ≥ 0 and nothing else', () => {
    for (const [m, want] of [[0, true], [3.5, true], [-1e-9, false], [NaN, false], [Infinity, false], [-Infinity, false]] as const) assert.equal(isProven(m), want, String(m));
  });

  for (const meta of [regression, heatmap]) {
    it(`${meta.head} head: NaN or ±Inf at any bound, box edge, tolerance or reference leaves every claim unproven`, () => {
      const p = property(meta);
      const clean = provingBounds(meta, p.reference);
      for (let j = 0; j < 2; j++) assert.ok(isProven(proofMargin(p, clean, j)), `baseline proves keypoint ${j}`);
      const per = meta.head === 'regression' ? 2 : meta.grid! ** 2;
      let injected = 0;
      for (const field of FIELDS) {
        for (let j = 0; j < 2; j++) {
          for (let i = j * per; i < (j + 1) * per; i++) {
            for (const v of POISONS) {
              const b = { ...clean, [field]: clean[field].slice() };
              b[field][i] = v;
              assert.equal(isProven(proofMargin(p, b, j)), false, `${field}[${i}] = ${v}, keypoint ${j}`);
              injected++;
            }
          }
        }
      }
      for (const edge of ['alphaLo', 'alphaHi', 'betaLo', 'betaHi'] as const) {
        for (const v of POISONS) assert.equal(isProven(proofMargin(p, { ...clean, box: { ...clean.box, [edge]: v } }, 0)), false, `box ${edge} = ${v}`);
      }
      for (const v of POISONS) {
        assert.equal(isProven(proofMargin({ ...p, tolerance: v }, clean, 0)), false, `tolerance ${v}`);
        const ref = p.reference.slice();
        ref[1] = v;
        assert.equal(isProven(proofMargin({ ...p, reference: ref }, clean, 0)), false, `reference ${v}`);
      }
      assert.ok(injected >= 8 * 2 * 2 * 3);
    });

    it(`${meta.head} head: bounds of the wrong size (a keypoint count that does not match) and indices past the end prove nothing`, () => {
      const p = property(meta);
      const clean = provingBounds(meta, p.reference);
      const more = { ...p, meta: { ...meta, keypoints: ['a', 'b', 'c'] }, reference: Float32Array.from([...p.reference, 4, 4]) };
      for (let j = 0; j < 3; j++) assert.equal(isProven(proofMargin(more, clean, j)), false, `keypoint ${j} of 3 on bounds for 2`);
      assert.equal(isProven(proofMargin(p, clean, 2)), false, 'keypoint index 2 of 2');
      assert.equal(isProven(proofMargin(p, clean, -1)), false, 'keypoint index −1');
    });
  }

  it('a non-finite or missing prediction is a violation', () => {
    const p = property(regression);
    assert.equal(violates(p, Float32Array.from([10, 12, 20, 22]), 0), false);
    for (const v of POISONS) assert.equal(violates(p, Float32Array.from([v, 12, 20, 22]), 0), true, String(v));
    assert.equal(violates(p, Float32Array.from([10, 12]), 1), true, 'missing keypoint');
  });

  it('a heatmap with a non-finite logit decodes to NaN, never to a cell', () => {
    const out = new Float32Array(2 * 16).fill(0);
    out[5] = 3;
    out[16 + 2] = NaN;
    const kp = decodeKeypoints(heatmap, out, 1);
    assert.deepEqual(Array.from(kp.subarray(0, 2)), [12, 12]);
    assert.ok(Number.isNaN(kp[2]) && Number.isNaN(kp[3]));
  });

  it('properties and boxes no claim may rest on are refused', () => {
    const p = property(regression);
    for (const bad of [{ tolerance: NaN }, { tolerance: Infinity }, { tolerance: -1 }, { reference: Float32Array.from([NaN, 1, 2, 3]) }, { reference: Float32Array.from([1, 2]) }]) {
      assert.throws(() => checkProperty({ ...p, ...bad }), LuxcertError, JSON.stringify(bad));
    }
    assert.throws(() => checkProperty(p, [2]), /keypoint index 2/);
    assert.throws(() => checkBox({ ...BOX, alphaHi: NaN }), /not a box/);
    assert.throws(() => checkBox({ ...BOX, betaHi: 1e39 }), /not a box/, 'finite in float64, Infinity in float32');
  });

  it('a model with a NaN or Inf weight is refused at import, naming the initializer', () => {
    const { graph } = zooModel();
    for (const v of [NaN, Infinity]) {
      const g = cloneGraph(graph);
      const [name, t] = [...g.initializers].find(([, t]) => t.data.length > 10)!;
      t.data[7] = v;
      const path = join(root, `poisoned-${v}.onnx`);
      writeFileSync(path, encodeOnnx(g));
      assert.throws(() => readOnnxFile(path), (e: Error) => e instanceof LuxcertError && e.message.includes(`initializer '${name}' holds ${v} at index 7`) && !e.message.includes('\n'));
    }
  });

  for (const [what, poison] of [['a NaN weight', NaN], ['an Inf weight', Infinity]] as const) {
    it(`with ${what} reaching the certifier and the model, neither offline certification nor the runtime search certifies anything`, async () => {
      const { graph, meta } = zooModel();
      const g = cloneGraph(graph);
      const [, t] = [...g.initializers].find(([, t]) => t.data.length > 10)!;
      t.data.fill(poison, 0, 4);
      const bounds = await BoundComputer.create(g, { boxes: 8, mode: 'linear', engine: 'onnxruntime' });
      const runner = await ModelRunner.open(encodeOnnx(g), meta);
      const image = testImage();
      const prop: KeypointProperty = { meta, reference: Float32Array.from([10, 10, 16, 16, 22, 22]), tolerance: 32 };
      const { results } = await certifyImage(bounds, runner, image, prop, BOX, [0, 1, 2], { ms: 2000, boxes: 64 }, 1);
      for (const [j, r] of results) assert.notEqual(r.verdict, 'certified', `keypoint ${j}`);
      const search = await searchCertifiedBox(bounds, image, [3, 32, 32], prop, BOX, 50);
      assert.deepEqual(search.extent, [0, 0, 0, 0]);
      assert.equal(search.complete, false);
      await bounds.release();
      await runner.release();
    });
  }

  it('finite weights whose outputs overflow to Inf: the sampled check counts violations, the search proves nothing', async () => {
    const { graph, meta } = zooModel();
    const g = overflowing(graph);
    const runner = await ModelRunner.open(encodeOnnx(g), meta);
    const image = testImage();
    const pred = await runner.keypointsAt(image, [[1, 0]]);
    assert.ok(pred.some((v) => !Number.isFinite(v)), 'the model overflows');
    const prop: KeypointProperty = { meta, reference: Float32Array.from([10, 10, 16, 16, 22, 22]), tolerance: 32 };
    for (let j = 0; j < 3; j++) assert.equal(violates(prop, pred, j), true);
    const bounds = await BoundComputer.create(g, { boxes: 8, mode: 'linear', engine: 'onnxruntime' });
    const { results } = await certifyImage(bounds, runner, image, prop, BOX, [0, 1, 2], { ms: 2000, boxes: 64 }, 1);
    for (const r of results.values()) assert.equal(r.verdict, 'falsified');
    const search = await searchCertifiedBox(bounds, image, [3, 32, 32], prop, BOX, 50);
    assert.deepEqual(search.extent, [0, 0, 0, 0]);
    await bounds.release();
    await runner.release();
  });

  it('an image with NaN or Inf is refused before any bound is computed', async () => {
    const { graph, meta } = zooModel();
    const bounds = await BoundComputer.create(graph, { boxes: 8, mode: 'linear', engine: 'reference' });
    const runner = await ModelRunner.open(encodeOnnx(graph), meta);
    const prop: KeypointProperty = { meta, reference: Float32Array.from([10, 10, 16, 16, 22, 22]), tolerance: 2 };
    for (const v of POISONS) {
      const image = testImage();
      image[100] = v;
      await assert.rejects(certifyImage(bounds, runner, image, prop, BOX, [0], { ms: 100, boxes: 8 }, 1), /NaN or Inf/);
      await assert.rejects(searchCertifiedBox(bounds, image, [3, 32, 32], prop, BOX, 10), /NaN or Inf/);
    }
    await runner.release();
  });
});
