import type { Rng } from '../core/random.ts';
import type { Box } from '../model/perturbation.ts';

/** Points of a box to test: its 4 corners and centre, a g×g grid, and `random` uniform points. */
export function samplePoints(box: Box, grid: number, random: number, rng: Rng): [number, number][] {
  const pts: [number, number][] = [
    [box.alphaLo, box.betaLo], [box.alphaLo, box.betaHi], [box.alphaHi, box.betaLo], [box.alphaHi, box.betaHi],
    [(box.alphaLo + box.alphaHi) / 2, (box.betaLo + box.betaHi) / 2],
  ];
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      const t = grid === 1 ? 0.5 : i / (grid - 1);
      const u = grid === 1 ? 0.5 : j / (grid - 1);
      pts.push([box.alphaLo + t * (box.alphaHi - box.alphaLo), box.betaLo + u * (box.betaHi - box.betaLo)]);
    }
  }
  for (let i = 0; i < random; i++) pts.push([rng.uniform(box.alphaLo, box.alphaHi), rng.uniform(box.betaLo, box.betaHi)]);
  return pts;
}
