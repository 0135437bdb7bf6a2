import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BoundComputer, BoxBounds } from '../../src/bounds/bounds.ts';
import { Rng } from '../../src/core/random.ts';
import type { ModelMeta } from '../../src/model/metadata.ts';
import type { Box } from '../../src/model/perturbation.ts';
import { CallCost, FAILURE_MEMORY, SearchMemory, searchCertifiedBox, type BoxSearchResult, type FailedBox } from '../../src/runtime/certified-box.ts';

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
const isIdentity = (b: Box) => b.alphaLo === 1 && b.alphaHi === 1 && b.betaLo === 0 && b.betaHi === 0;

/** Asserts that the published box is a box around the identity inside MAX whose corners and 4,000 sampled points lie in `region`. */
function assertCovered(r: BoxSearchResult, region: Box[], what: string, seed: number): void {
  const identity = isIdentity(r.box);
  assert.ok(identity || (r.box.alphaHi > r.box.alphaLo && r.box.betaHi > r.box.betaLo), `${what}: a box with width, or the identity point`);
  assert.ok(r.box.alphaLo <= 1 && r.box.alphaHi >= 1 && r.box.betaLo <= 0 && r.box.betaHi >= 0, `${what}: contains the identity`);
  assert.ok(inside(r.box, MAX), `${what}: inside the maximum box`);
  const rng = new Rng(seed);
  for (let s = 0; s < 4000 && !identity; s++) {
    const a = s < 4 ? (s & 1 ? r.box.alphaHi : r.box.alphaLo) : rng.uniform(r.box.alphaLo, r.box.alphaHi);
    const b = s < 4 ? (s & 2 ? r.box.betaHi : r.box.betaLo) : rng.uniform(r.box.betaLo, r.box.betaHi);
    assert.ok(region.some((q) => a >= q.alphaLo && a <= q.alphaHi && b >= q.betaLo && b <= q.betaHi), `${what}: (${a}, ${b}) of the published box is outside the provable region`);
  }
}

const NOTCH: Box[] = [{ alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.04 }, { alphaLo: 0.9, alphaHi: 1.06, betaLo: -0.1, betaHi: 0.1 }];

describe('the anytime certified-box search', () => {
  const shapes: [string, Box[]][] = [
    ['the whole maximum box', [MAX]],
    ['an off-centre box', [{ alphaLo: 0.95, alphaHi: 1.1, betaLo: -0.03, betaHi: 0.1 }]],
    ['an L-shape', [{ alphaLo: 0.9, alphaHi: 1.02, betaLo: -0.1, betaHi: 0.1 }, { alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.01 }]],
    ['a notch in one corner', NOTCH],
    ['nothing beyond a sliver', [{ alphaLo: 0.999, alphaHi: 1.001, betaLo: -0.1, betaHi: 0.1 }]],
  ];
  for (const [name, region] of shapes) {
    it(`publishes only boxes covered by proven sub-boxes: ${name}, with a generous and a starved budget`, async () => {
      for (const budget of [200, 3]) {
        const r = await searchCertifiedBox(regionCertifier(region, 0.5), image, [3, 8, 8], prop, MAX, budget);
        assertCovered(r, region, `${name}, budget ${budget}`, region.length + budget);
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

  it('starts a certifier call only while more than half of it fits in the budget left, at the measured cost', async () => {
    // A region one call cannot prove (a notch in one corner), so only the budget ends these searches; 30 ms a call.
    const cert = regionCertifier(NOTCH, 30);
    const cost = new CallCost();
    const first = await searchCertifiedBox(cert, image, [3, 8, 8], prop, MAX, 40, 1, [], cost);
    // The first call is not predicted; after it, half of another (15 ms) no longer fits in the 10 ms left.
    assert.equal(first.rounds, 1);
    assert.ok(cost.ms >= 30, `measured ${cost.ms} ms a call`);
    const fits = await searchCertifiedBox(cert, image, [3, 8, 8], prop, MAX, 40, 1, [], cost);
    assert.equal(fits.rounds, 1, 'one call in 40 ms');
    const starved = await searchCertifiedBox(cert, image, [3, 8, 8], prop, MAX, 12, 1, [], cost);
    assert.equal(starved.rounds, 0, 'no 30 ms call in a 12 ms budget: it would end 18 ms past it');
    assert.deepEqual(starved.box, { alphaLo: 1, alphaHi: 1, betaLo: 0, betaHi: 0 }, 'nothing proven: the identity point');
    assert.ok(starved.ms < 12, `the search returned within its budget: ${starved.ms} ms`);
    // Each search that affords no call loosens the estimate by 1 %: a later frame measures again,
    // the first whose loosened estimate's half fits the budget (the time before the check: well under 1 ms).
    const m = cost.ms;
    let n = 1;
    while ((await searchCertifiedBox(cert, image, [3, 8, 8], prop, MAX, 12, 1, [], cost)).rounds === 0 && n < 500) n++;
    assert.ok((m / 2) * 0.99 ** (n - 1) < 12 && (m / 2) * 0.99 ** (n - 2) >= 11, `a call was tried again at the ${n}th search from an estimate of ${m} ms`);
  });

  it('estimates a call by the median of the recent ones: one slow call does not starve the next frames', () => {
    const cost = new CallCost();
    assert.equal(cost.ms, 0, 'nothing measured yet');
    for (const ms of [2, 2, 2, 2, 2, 2, 2, 90]) cost.record(ms);
    assert.equal(cost.ms, 2);
    for (const ms of [40, 40, 40, 40, 40]) cost.record(ms);
    assert.equal(cost.ms, 40, 'a lasting change moves it');
    cost.starved();
    assert.equal(cost.ms, 40 * 0.99);
    cost.record(40);
    assert.equal(cost.ms, 40, 'a measured call resets the loosening');
  });

  it("starts from the previous frame's failures: the next frame proves the same box with far fewer sub-boxes", async () => {
    const cert = regionCertifier(NOTCH, 0);
    const first = await searchCertifiedBox(cert, image, [3, 8, 8], prop, MAX, 200);
    assert.ok(first.failures.length > 0 && first.failures.every((f) => f.age === 0), 'this frame\'s failures, age 0');
    const second = await searchCertifiedBox(cert, image, [3, 8, 8], prop, MAX, 200, 1, first.failures);
    assert.deepEqual(second.box, first.box);
    assert.ok(second.boxesBounded < 0.6 * first.boxesBounded, `sub-boxes: ${second.boxesBounded} from the failures vs ${first.boxesBounded} from the whole box`);
    assertCovered(second, NOTCH, 'from the failures', 5);
    assert.ok(second.failures.some((f) => f.age === 1), 'the previous frame\'s failures are remembered, one frame older');
  });

  it('never publishes more than this frame proves, whatever failures it starts from (another scene\'s, overlapping, outside, NaN, oversized)', async () => {
    const rng = new Rng(17);
    const randomBox = (): Box => {
      const [a, b] = [rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)].sort((x, y) => x - y) as [number, number];
      const [c, d] = [rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)].sort((x, y) => x - y) as [number, number];
      return { alphaLo: a, alphaHi: b, betaLo: c, betaHi: d };
    };
    const hard = await searchCertifiedBox(regionCertifier(NOTCH, 0), image, [3, 8, 8], prop, MAX, 200);
    const sliver = [{ alphaLo: 0.999, alphaHi: 1.001, betaLo: -0.1, betaHi: 0.1 }];
    const starts: [string, FailedBox[]][] = [
      ['another scene\'s', hard.failures],
      ['random overlapping boxes', Array.from({ length: 40 }, () => ({ box: randomBox(), age: 0 }))],
      ['points, NaN and infinite edges', [{ box: { alphaLo: 1, alphaHi: 1, betaLo: 0, betaHi: 0 }, age: 0 }, { box: { alphaLo: NaN, alphaHi: 1, betaLo: 0, betaHi: NaN }, age: 0 }, { box: { alphaLo: -Infinity, alphaHi: Infinity, betaLo: -Infinity, betaHi: Infinity }, age: -5 }]],
      ['oversized', Array.from({ length: 5000 }, () => ({ box: randomBox(), age: 0 }))],
    ];
    for (const [name, failures] of starts) {
      for (const [region, label] of [[sliver, 'sliver'], [[MAX], 'whole box'], [NOTCH, 'notch']] as const) {
        for (const budget of [200, 3]) {
          const r = await searchCertifiedBox(regionCertifier([...region], 0.2), image, [3, 8, 8], prop, MAX, budget, 1, failures);
          assertCovered(r, [...region], `${name} failures, ${label}, budget ${budget}`, budget);
          if (budget === 200 && label === 'whole box') assert.equal(r.complete, true, `${name} failures: the whole box is still proven`);
        }
      }
    }
  });

  it(`forgets a failure after ${FAILURE_MEMORY} frames: when frames grow easy, the search goes back to coarse sub-boxes`, async () => {
    const fresh = (await searchCertifiedBox(regionCertifier([MAX], 0), image, [3, 8, 8], prop, MAX, 200)).boxesBounded;
    let failures = (await searchCertifiedBox(regionCertifier(NOTCH, 0), image, [3, 8, 8], prop, MAX, 200)).failures;
    const bounded: number[] = [];
    for (let f = 0; f <= FAILURE_MEMORY; f++) {
      const r = await searchCertifiedBox(regionCertifier([MAX], 0), image, [3, 8, 8], prop, MAX, 200, 1, failures);
      assert.equal(r.complete, true);
      bounded.push(r.boxesBounded);
      failures = r.failures;
    }
    assert.ok(bounded[0]! > fresh && bounded.at(-1) === fresh, `sub-boxes per frame ${bounded}, ${fresh} from the whole box`);
  });

  it("a stream's memory hands on the last frame's failures only while every keypoint stays within τ of the last frame's", () => {
    const memory = new SearchMemory();
    const failures: FailedBox[] = [{ box: MAX, age: 0 }];
    assert.deepEqual(memory.start(Float32Array.of(10, 10, 20, 20), 2), [], 'nothing before the first frame');
    memory.record(Float32Array.of(10, 10, 20, 20), failures);
    assert.equal(memory.start(Float32Array.of(11.5, 9, 20, 22), 2), failures, 'the same scene: every keypoint within τ');
    assert.deepEqual(memory.start(Float32Array.of(10, 10, 20, 22.5), 2), [], 'one keypoint moved more than τ: another scene');
    assert.deepEqual(memory.start(Float32Array.of(10, 10), 2), [], 'another keypoint count');
    assert.deepEqual(memory.start(Float32Array.of(NaN, 10, 20, 20), 2), [], 'a NaN keypoint');
  });
});
