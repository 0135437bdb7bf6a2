import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/core/random.ts';
import { tensor } from '../../src/core/tensor.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { gridBoxes, perturbImage, type Box } from '../../src/model/perturbation.ts';
import { ValueBounds } from '../../src/bounds/value-bounds.ts';
import { evaluateGraph } from '../../src/graph/evaluate.ts';
import { boundTerms, MAX_BOUND_GRID, nrsScores } from '../../src/prune/bound-terms.ts';
import { channelGroups } from '../../src/prune/groups.ts';
import { usnScores } from '../../src/prune/usn.ts';

const BOX: Box = { alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.1 };

/** conv(1×1) → ReLU → pool → dense; channel 0 dead (bias −5), 1 always active (bias +5), 2 red − 0.5 (unstable where red is near 0.5), 3 brightness-sensitive. */
function model() {
  const b = new GraphBuilder('terms');
  const x = b.input('image', ['n', 3, 4, 4]);
  const w = b.weight('w', tensor([4, 3, 1, 1], [1, 0, 0, 1, -1, 0, 1, 0, 0, 1, 1, 1]));
  const conv = b.op('Conv', [x, w, b.weight('b', tensor([4], [-5, 5, -0.5, 0]))], { kernel_shape: [1, 1] });
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [b.op('Relu', [conv])])], { axis: 1 });
  return { graph: b.build([b.op('Gemm', [pooled, b.weight('fc', tensor([2, 4], new Float32Array(8).fill(1)))], { transB: 1 })]), conv };
}

it('inner-value bounds enclose every sampled pre-activation in each sub-box', async () => {
  const { graph, conv } = model();
  const rng = new Rng(7);
  const image = Float32Array.from({ length: 48 }, () => rng.uniform(0, 1));
  const boxes = gridBoxes(BOX, 3);
  const vb = await ValueBounds.create(graph, [conv], boxes.length);
  const { l, u, dims } = (await vb.run(image, [3, 4, 4], boxes)).get(conv)!;
  await vb.release();
  assert.deepEqual(dims, [9, 4, 4, 4]);
  const probe = { ...graph, outputs: [{ name: conv, shape: [] }] };
  boxes.forEach((box, k) => {
    for (let s = 0; s < 20; s++) {
      const p = perturbImage(image, rng.uniform(box.alphaLo, box.alphaHi), rng.uniform(box.betaLo, box.betaHi));
      const v = evaluateGraph(probe, { image: { dims: [1, 3, 4, 4], data: p } })[conv]!.data;
      v.forEach((y, i) => assert.ok(y >= l[k * 64 + i]! - 1e-5 && y <= u[k * 64 + i]! + 1e-5, `box ${k} element ${i}: ${y} ∉ [${l[k * 64 + i]}, ${u[k * 64 + i]}]`));
    }
  });
});

it('NRS: a dead channel goes first, stably active ones last, a sometimes-unstable one in between; USN gains the width term', async () => {
  const { graph } = model();
  const groups = channelGroups(graph).filter((g) => !g.blocked);
  assert.equal(groups.length, 1);
  const rng = new Rng(3);
  const images = Array.from({ length: 8 }, () => Float32Array.from({ length: 48 }, () => rng.uniform(0.2, 0.8)));
  const t = (await boundTerms(graph, groups, { box: BOX, images, imageDims: [3, 4, 4], grid: 2 })).get(groups[0]!.id)!;
  assert.equal(t.inactive[0], 1);
  assert.equal(t.unstable[1], 0);
  assert.ok(t.unstable[2]! > 0.05 && t.unstable[2]! < 1, `channel 2 unstable share ${t.unstable[2]}`);
  assert.equal(t.unstable[3], 0);
  const nrs = nrsScores(t);
  assert.equal(nrs[0], 0);
  assert.equal(nrs[1], 1);
  assert.equal(nrs[3], 1);
  assert.ok(Math.abs(nrs[2]! - (1 - t.unstable[2]! - t.inactive[2]!)) < 1e-12 && nrs[2]! < 1 && nrs[2]! > 0);
  // The brightness-sensitive channel has the widest bounds of the live ones.
  assert.ok(t.width[3]! > t.width[1]!);
  const terms = new Map([[groups[0]!.id, t]]);
  const only = await usnScores(graph, groups, { box: BOX, images, imageDims: [3, 4, 4], perturbations: 8, seed: 1, components: ['bounds'], bounds: terms });
  const u = only.get(groups[0]!.id)!;
  u.usn.forEach((v, ch) => ch > 0 && u.signal[ch]! > 0 && assert.ok(Math.abs(v - u.signal[ch]! / (u.signal[ch]! + t.width[ch]!)) < 1e-12));
  // The stability factor alone: a live channel scores its stably-active share.
  const stab = (await usnScores(graph, groups, { box: BOX, images, imageDims: [3, 4, 4], perturbations: 8, seed: 1, components: ['stability'], bounds: terms })).get(groups[0]!.id)!;
  stab.usn.forEach((v, ch) => stab.signal[ch]! > 0 && assert.ok(Math.abs(v - nrs[ch]!) < 1e-12, `channel ${ch}: ${v} vs ${nrs[ch]}`));
  // A grid it would not run is refused before a sub-box is made.
  for (const grid of [0, 1.5, NaN, MAX_BOUND_GRID + 1]) {
    await assert.rejects(boundTerms(graph, groups, { box: BOX, images, imageDims: [3, 4, 4], grid }), new RegExp(`bound grid must be an integer in 1\\.\\.${MAX_BOUND_GRID}`));
  }
});
