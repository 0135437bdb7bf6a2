import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/core/random.ts';
import { tensor } from '../../src/core/tensor.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { channelGroups } from '../../src/prune/groups.ts';
import { MAX_USN_PERTURBATIONS, usnScores } from '../../src/prune/usn.ts';

it('USN: a dead channel scores 0, and a channel that brightness cannot move outscores one it moves', async () => {
  const b = new GraphBuilder('usn');
  const x = b.input('image', ['n', 3, 4, 4]);
  // Channel 0: dead. Channel 1: red − green (brightness cancels). Channel 2: red + green (brightness adds 2β).
  const w = b.weight('w', tensor([3, 3, 1, 1], [0, 0, 0, 1, -1, 0, 1, 1, 0]));
  const conv = b.op('Conv', [x, w, b.weight('b', tensor([3], [0, 0, 0]))], { kernel_shape: [1, 1] });
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [conv])], { axis: 1 });
  const out = b.op('Gemm', [pooled, b.weight('fc', tensor([2, 3], [1, 1, 1, 1, 1, 1]))], { transB: 1 });
  const g = b.build([out]);
  const groups = channelGroups(g).filter((grp) => !grp.blocked);
  assert.equal(groups.length, 1);
  const rng = new Rng(3);
  const images = Array.from({ length: 24 }, () => Float32Array.from({ length: 48 }, () => rng.uniform(0.2, 0.8)));
  const terms = (await usnScores(g, groups, { box: { alphaLo: 0.95, alphaHi: 1.05, betaLo: -0.2, betaHi: 0.2 }, images, imageDims: [3, 4, 4], perturbations: 12, seed: 1, components: ['bias', 'smoothness'] })).get(groups[0]!.id)!;
  assert.equal(terms.usn[0], 0);
  assert.ok(terms.usn[1]! > terms.usn[2]!, `robust ${terms.usn[1]} vs brightness-sensitive ${terms.usn[2]}`);
  assert.ok(terms.smoothness[2]! > terms.smoothness[1]!);
  assert.ok(terms.usn.every((u) => u >= 0 && u <= 1));
  // Every response is kept until the image is scored: a count past the bound is refused before any is measured.
  for (const perturbations of [0, 2.5, MAX_USN_PERTURBATIONS + 1]) {
    await assert.rejects(usnScores(g, groups, { box: { alphaLo: 0.95, alphaHi: 1.05, betaLo: -0.2, betaHi: 0.2 }, images, imageDims: [3, 4, 4], perturbations, seed: 1 }), /USN perturbations per image must be an integer in 1\.\.1024/);
  }
});
