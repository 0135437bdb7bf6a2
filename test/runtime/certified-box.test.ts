import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BoundComputer, BoxBounds } from '../../src/bounds/bounds.ts';
import { Rng } from '../../src/core/random.ts';
import type { ModelMeta } from '../../src/model/metadata.ts';
import type { Box } from '../../src/model/perturbation.ts';
import { searchCertifiedBox } from '../../src/runtime/certified-box.ts';

const meta: ModelMeta = { head: 'regression', keypoints: ['a'], skeleton: [], inputSize: [8, 8], channels: 3, pixelScale: 1 / 255, cropPadding: 1 };
const MAX: Box = { alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.1 };
const inside = (b: Box, r: Box) => b.alphaLo >= r.alphaLo && b.alphaHi <= r.alphaHi && b.betaLo >= r.betaLo && b.betaHi <= r.betaHi;

/**
 * A stand-in certifier whose bounds prove a sub-box exactly when it lies inside one rectangle of
 * `region` (a union of rectangles), with a cost per call: the search must publish only boxes covered
 * by proven sub-boxes, whatever the region's shape and however early the budget ends.
 */
function regionCertifier(region: Box[], msPerCall: number): BoundComputer {
  return {
    options: { boxes: 8, mode: 'linear', engine: 'reference' },
    async bounds(_image: Float32Array, _dims: number[], boxes: Box[]): Promise<BoxBounds[]> {
      const t = performance.now();
      while (performance.now() - t < msPerCall);
      return boxes.map((box) => {
        const d = region.some((r) => inside(box, r)) ? 1 : 5;
        const f = (v: number) => Float32Array.of(v, v);
        return { box, lower: f(10 - d), upper: f(10 + d), la: f(0), lb: f(0), lc: f(10 - d), ua: f(0), ub: f(0), uc: f(10 + d) };
      });
    },
  } as unknown as BoundComputer;
}

const prop = { meta, reference: Float32Array.of(10, 10), tolerance: 2 };
const image = new Float32Array(3 * 8 * 8).fill(0.5);

describe('the anytime certified-box search', () => {
  const shapes: [string, Box[]][] = [
    ['the whole maximum box', [MAX]],
    ['an off-centre box', [{ alphaLo: 0.95, alphaHi: 1.1, betaLo: -0.03, betaHi: 0.1 }]],
    ['an L-shape', [{ alphaLo: 0.9, alphaHi: 1.02, betaLo: -0.1, betaHi: 0.1 }, { alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.01 }]],
    ['a notch in one corner', [{ alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.04 }, { alphaLo: 0.9, alphaHi: 1.06, betaLo: -0.1, betaHi: 0.1 }]],
    ['nothing beyond a sliver', [{ alphaLo: 0.999, alphaHi: 1.001, betaLo: -0.1, betaHi: 0.1 }]],
  ];
  for (const [name, region] of shapes) {
    it(`publishes only boxes covered by proven sub-boxes: ${name}, with a generous and a starved budget`, async () => {
      for (const budget of [200, 3]) {
        const r = await searchCertifiedBox(regionCertifier(region, 0.5), image, [3, 8, 8], prop, MAX, budget);
        const identity = r.box.alphaLo === 1 && r.box.alphaHi === 1 && r.box.betaLo === 0 && r.box.betaHi === 0;
        assert.ok(identity || (r.box.alphaHi > r.box.alphaLo && r.box.betaHi > r.box.betaLo), 'a box with width, or the identity point');
        assert.ok(r.box.alphaLo <= 1 && r.box.alphaHi >= 1 && r.box.betaLo <= 0 && r.box.betaHi >= 0, 'contains the identity');
        assert.ok(inside(r.box, MAX), 'inside the maximum box');
        const rng = new Rng(region.length + budget);
        for (let s = 0; s < 4000 && !identity; s++) {
          const a = s < 4 ? (s & 1 ? r.box.alphaHi : r.box.alphaLo) : rng.uniform(r.box.alphaLo, r.box.alphaHi);
          const b = s < 4 ? (s & 2 ? r.box.betaHi : r.box.betaLo) : rng.uniform(r.box.betaLo, r.box.betaHi);
          assert.ok(region.some((q) => a >= q.alphaLo && a <= q.alphaHi && b >= q.betaLo && b <= q.betaHi), `${name}, budget ${budget}: (${a}, ${b}) of the published box is outside the provable region`);
        }
        if (budget === 200 && name === 'the whole maximum box') assert.equal(r.complete, true);
        if (budget === 200 && name === 'an off-centre box') assert.ok(r.extent[1] === 1 && r.extent[3] === 1 && r.extent[0] >= 0.45 && r.extent[2] >= 0.25, `extent ${r.extent}`);
      }
    });
  }

  it('uses the budget: with time it reaches the provable region, further than a starved search', async () => {
    const region = [{ alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.06 }];
    const extents: number[] = [];
    for (const budget of [2, 8, 40]) {
      const r = await searchCertifiedBox(regionCertifier(region, 0.5), image, [3, 8, 8], prop, MAX, budget);
      extents.push(r.extent.reduce((a, e) => a + e, 0) / 4);
    }
    assert.ok(extents[2]! >= Math.max(extents[0]!, extents[1]!), `extents ${extents}`);
    assert.ok(extents[2]! >= 0.85, `with time, the search reaches the provable region: ${extents[2]}`);
  });
});
