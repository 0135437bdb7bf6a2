import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/core/random.ts';

describe('seeded generator (Rng)', () => {
  it('continues its stream elsewhere from a snapshot, a pending Box–Muller normal included', () => {
    for (const normalsFirst of [0, 1, 2, 3]) {
      const a = new Rng(11);
      for (let i = 0; i < normalsFirst; i++) a.normal();
      const b = Rng.resume(structuredClone(a.snapshot()));
      const draws = (r: Rng) => [r.normal(), r.next(), r.normal(), r.normal(), r.int(0, 9), r.normal()];
      assert.deepEqual(draws(b), draws(a));
    }
  });

  it('skips n normals to exactly where drawing them leaves the stream', () => {
    for (const before of [0, 1]) {
      for (const n of [0, 1, 2, 3, 7, 27_648, 27_649]) {
        const [drawn, skipped] = [new Rng(5), new Rng(5)];
        for (let i = 0; i < before; i++) [drawn, skipped].forEach((r) => r.normal());
        for (let i = 0; i < n; i++) drawn.normal();
        skipped.skipNormals(n);
        assert.deepEqual(skipped.snapshot(), drawn.snapshot(), `${before} pending, ${n} skipped`);
        assert.deepEqual([skipped.normal(), skipped.next(), skipped.normal()], [drawn.normal(), drawn.next(), drawn.normal()]);
      }
    }
  });

  it('skips past 2³² draws modulo the state, as drawing would', () => {
    // 2³¹ pairs are 2³² draws: mulberry32's state comes back to where it was.
    const r = new Rng(3);
    const s = r.snapshot();
    r.skipNormals(2 ** 32);
    assert.deepEqual(r.snapshot(), s);
  });
});
